"""
Reads rendered DAG files with Python's ast only (nothing is imported or run) and prints, per file, the
tasks (id, image template name, command, retries, timeout) and the dependency edges the `>>`
statements declare, as JSON. Fails on a syntax error.

usage: dag_ast.py DAG_FILE...
"""

import ast
import json
import sys


def literal(node):
    if isinstance(node, ast.Name):
        return {"name": node.id}
    if isinstance(node, ast.List):
        return [literal(e) for e in node.elts]
    return ast.literal_eval(node)


def names(node):
    return [e.id for e in node.elts] if isinstance(node, ast.List) else [node.id]


def read(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    tasks, edges, operator_kwargs = [], [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tdf_task":
            kwargs = {k.arg: literal(k.value) for k in node.keywords}
            tasks.append({"task_id": ast.literal_eval(node.args[0]), **kwargs})
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "TdfTaskOperator":
            operator_kwargs = {k.arg: ast.unparse(k.value) for k in node.keywords}
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.BinOp) and isinstance(node.value.op, ast.RShift):
            for up in names(node.value.left):
                for down in names(node.value.right):
                    edges.append(f"{up} -> {down}")
    return {"tasks": tasks, "edges": sorted(edges), "operator": operator_kwargs}


if __name__ == "__main__":
    print(json.dumps({path: read(path) for path in sys.argv[1:]}))
