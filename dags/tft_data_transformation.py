"""
tft_data_transformation: Validate a client's raw sales, transform them in parallel, segment the SKUs and consolidate.

Rendered by `tdf airflow render` from src/pipelines/definitions.ts: change the definitions and render
again; never edit this file. Trigger it with {"client_name": "acme", "code_version": "latest"}; the
deployment guide (docs/deployment.md) lists the Variables it reads. The operator, images and
configuration every pipeline shares are in tft_common.py beside it.
"""

from __future__ import annotations

from tft_common import CLIENT, CODE_SHA, CODE_VERSION, RESOLVE_IMAGE, RUN_ID, TASK_IMAGE, Param, tdf_dag, tdf_task

with tdf_dag(
    "tft_data_transformation",
    description="Validate a client's raw sales, transform them in parallel, segment the SKUs and consolidate.",
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
    validate = tdf_task(
        "validate",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "validate", "--client", CLIENT, "--run-id", RUN_ID],
        retries=2,
        retry_delay_seconds=30,
        timeout_seconds=2700,
    )
    transform_sales = tdf_task(
        "transform_sales",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "transform_sales", "--client", CLIENT, "--run-id", RUN_ID],
        retries=2,
        retry_delay_seconds=30,
        timeout_seconds=2700,
    )
    transform_products = tdf_task(
        "transform_products",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "transform_products", "--client", CLIENT, "--run-id", RUN_ID],
        retries=2,
        retry_delay_seconds=30,
        timeout_seconds=2700,
    )
    transform_prices = tdf_task(
        "transform_prices",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "transform_prices", "--client", CLIENT, "--run-id", RUN_ID],
        retries=2,
        retry_delay_seconds=30,
        timeout_seconds=2700,
    )
    transform_events = tdf_task(
        "transform_events",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "transform_events", "--client", CLIENT, "--run-id", RUN_ID],
        retries=2,
        retry_delay_seconds=30,
        timeout_seconds=2700,
    )
    segment = tdf_task(
        "segment",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "segment", "--client", CLIENT, "--run-id", RUN_ID],
        retries=2,
        retry_delay_seconds=30,
        timeout_seconds=2700,
    )
    consolidate = tdf_task(
        "consolidate",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "consolidate", "--client", CLIENT, "--run-id", RUN_ID],
        retries=2,
        retry_delay_seconds=30,
        timeout_seconds=2700,
    )

    resolve_code >> validate
    validate >> transform_sales
    validate >> transform_products
    validate >> transform_prices
    validate >> transform_events
    transform_sales >> segment
    [segment, transform_products, transform_prices, transform_events] >> consolidate
