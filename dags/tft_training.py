"""
tft_training: Train the top_seller and long_tail models in parallel, then promote the better ones.

Rendered by `tdf airflow render` from src/pipelines/definitions.ts: change the definitions and render
again; never edit this file. Trigger it with {"client_name": "acme", "code_version": "latest"}; the
deployment guide (docs/deployment.md) lists the Variables it reads. The operator, images and
configuration every pipeline shares are in tft_common.py beside it.
"""

from __future__ import annotations

from tft_common import CLIENT, CODE_SHA, CODE_VERSION, RESOLVE_IMAGE, RUN_ID, TASK_IMAGE, Param, tdf_dag, tdf_task

with tdf_dag(
    "tft_training",
    description="Train the top_seller and long_tail models in parallel, then promote the better ones.",
    doc_md=__doc__,
    params={
        "client_name": Param(type="string", pattern="^[a-z0-9][a-z0-9_-]{0,62}$", description="The client whose data the run works on (lowercase letters, digits, - and _)."),
        "code_version": Param("latest", type="string", pattern="^(latest|[0-9a-f]{7,40})$", description="The code to run: latest, a git SHA, or a SHA prefix of at least 7 characters."),
    },
) as dag:
    resolve_code = tdf_task(
        "resolve_code",
        image=RESOLVE_IMAGE,
        command=["--code-version", CODE_VERSION, "--resolve-only"],
        retries=3,
        retry_delay_seconds=10,
        timeout_seconds=600,
        xcom=True,
    )
    train_top_seller = tdf_task(
        "train_top_seller",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "train_top_seller", "--client", CLIENT, "--run-id", RUN_ID],
        retries=1,
        retry_delay_seconds=300,
        timeout_seconds=28800,
    )
    train_long_tail = tdf_task(
        "train_long_tail",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "train_long_tail", "--client", CLIENT, "--run-id", RUN_ID],
        retries=1,
        retry_delay_seconds=300,
        timeout_seconds=28800,
    )
    promote = tdf_task(
        "promote",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "promote", "--client", CLIENT, "--run-id", RUN_ID],
        retries=3,
        retry_delay_seconds=30,
        timeout_seconds=1800,
    )

    resolve_code >> train_top_seller
    resolve_code >> train_long_tail
    [train_top_seller, train_long_tail] >> promote
