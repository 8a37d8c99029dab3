"""
tft_inference: Forecast with each model type's champion in parallel, then export the forecasts.

Rendered by `tdf airflow render` from src/pipelines/definitions.ts: change the definitions and render
again; never edit this file. Trigger it with {"client_name": "acme", "code_version": "latest"}; the
deployment guide (docs/deployment.md) lists the Variables it reads. The operator, images and
configuration every pipeline shares are in tft_common.py beside it.
"""

from __future__ import annotations

from tft_common import CLIENT, CODE_SHA, CODE_VERSION, RESOLVE_IMAGE, RUN_ID, TASK_IMAGE, Param, tdf_dag, tdf_task

with tdf_dag(
    "tft_inference",
    description="Forecast with each model type's champion in parallel, then export the forecasts.",
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
    forecast_top_seller = tdf_task(
        "forecast_top_seller",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "forecast_top_seller", "--client", CLIENT, "--run-id", RUN_ID],
        retries=2,
        retry_delay_seconds=60,
        timeout_seconds=7200,
    )
    forecast_long_tail = tdf_task(
        "forecast_long_tail",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "forecast_long_tail", "--client", CLIENT, "--run-id", RUN_ID],
        retries=2,
        retry_delay_seconds=60,
        timeout_seconds=7200,
    )
    export = tdf_task(
        "export",
        image=TASK_IMAGE,
        command=["--code-version", CODE_SHA, "--", "task", "export", "--client", CLIENT, "--run-id", RUN_ID],
        retries=3,
        retry_delay_seconds=30,
        timeout_seconds=1800,
    )

    resolve_code >> forecast_top_seller
    resolve_code >> forecast_long_tail
    [forecast_top_seller, forecast_long_tail] >> export
