"""
tft_common: what the tft_* DAG files share: the task operator, its images and commands' templates,
the configuration from Airflow Variables, and the DAG's settings.

Rendered by `tdf airflow render` from src/orchestrate/airflow.ts: never edit this file.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta

from airflow.providers.docker.operators.docker import DockerOperator
from docker.types import Mount

try:  # Airflow 3
    from airflow.sdk import DAG, Param, Variable
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.models import Variable
    from airflow.models.param import Param

# The Docker host that runs the task containers: settings of the Airflow workers' environment.
DOCKER_URL = os.environ.get("DOCKER_HOST", "unix://var/run/docker.sock")
DOCKER_NETWORK = os.environ.get("TDF_DOCKER_NETWORK", "bridge")
# An Airflow connection (type docker) with the registry's login, when the host is not logged in itself.
DOCKER_CONN_ID = os.environ.get("TDF_DOCKER_CONN_ID") or None
# A named volume on that host, shared by every task container: the bootstrap's code cache, so a code
# version is downloaded once per host, not once per task.
CODE_CACHE_VOLUME = os.environ.get("TDF_CODE_CACHE_VOLUME", "tdf-code-cache")
CODE_CACHE_DIR = "/var/cache/tdf/code"

# What resolve_code pushed to XCom is its last output line, a JSON string: parsed with fromjson.
RESOLVED = "(ti.xcom_pull(task_ids='resolve_code') | fromjson)"
CODE_VERSION = "{{ params.code_version }}"
CODE_SHA = "{{ " + RESOLVED + "['sha'] }}"
CLIENT = "{{ params.client_name }}"
RUN_ID = "{{ run_id | tdf_run_id }}"
IMAGE = "{{ var.value.DOCKER_REGISTRY_URL }}/{{ var.value.get('IMAGE_PREFIX', 'tft-demand-forecasting') }}-base"
# resolve_code runs before the code's dependency hash is known, and needs only the bootstrap: the
# newest base image (or the one IMAGE_TAG pins) does.
RESOLVE_IMAGE = IMAGE + ":{{ var.value.get('IMAGE_TAG', '') or var.value.get('RESOLVE_IMAGE_TAG', 'latest') }}"
# Every later task runs on the image built for the resolved code's dependencies, so rolling the code
# back also rolls the image back; the IMAGE_TAG Variable overrides it (an image rollback).
TASK_IMAGE = IMAGE + ":{{ var.value.get('IMAGE_TAG', '') or " + RESOLVED + "['imageTag'] }}"

# Configuration from Airflow Variables, rendered into each task (nothing secret here).
ENVIRONMENT = {
    "GARAGE_ENDPOINT": "{{ var.value.GARAGE_ENDPOINT }}",
    "GARAGE_REGION": "{{ var.value.get('GARAGE_REGION', 'garage') }}",
    "GARAGE_CODE_BUCKET": "{{ var.value.get('GARAGE_CODE_BUCKET', 'code-repository') }}",
    "GARAGE_TRAINING_DATA_BUCKET": "{{ var.value.get('GARAGE_TRAINING_DATA_BUCKET', 'training-data') }}",
    "GARAGE_MODEL_BUCKET": "{{ var.value.get('GARAGE_MODEL_BUCKET', 'model-artifacts') }}",
    "GARAGE_DATA_PIPELINE_BUCKET": "{{ var.value.get('GARAGE_DATA_PIPELINE_BUCKET', 'data-pipeline') }}",
    "GARAGE_MLFLOW_BUCKET": "{{ var.value.get('GARAGE_MLFLOW_BUCKET', 'mlflow-artifacts') }}",
    "MLFLOW_TRACKING_URI": "{{ var.value.get('MLFLOW_TRACKING_URI', '') }}",
    "MLFLOW_S3_ENDPOINT_URL": "{{ var.value.get('MLFLOW_S3_ENDPOINT_URL', '') }}",
    "MLFLOW_TRACKING_USERNAME": "{{ var.value.get('MLFLOW_TRACKING_USERNAME', '') }}",
    "DOCKER_REGISTRY_URL": "{{ var.value.DOCKER_REGISTRY_URL }}",
    "IMAGE_PREFIX": "{{ var.value.get('IMAGE_PREFIX', 'tft-demand-forecasting') }}",
    "TRAINING_MAX_EPOCHS": "{{ var.value.get('TRAINING_MAX_EPOCHS', '5') }}",
    "TRAINING_BATCH_SIZE": "{{ var.value.get('TRAINING_BATCH_SIZE', '10') }}",
    "TRAINING_LEARNING_RATE": "{{ var.value.get('TRAINING_LEARNING_RATE', '0.01') }}",
    "TRAINING_BATCHES_PER_EPOCH": "{{ var.value.get('TRAINING_BATCHES_PER_EPOCH', '') }}",
    "TDF_DUCKDB_MEMORY_MIB": "{{ var.value.get('TDF_DUCKDB_MEMORY_MIB', '1024') }}",
    "TDF_DUCKDB_THREADS": "{{ var.value.get('TDF_DUCKDB_THREADS', '') }}",
    "TDF_VERIFY_KEY": "{{ var.value.get('TDF_VERIFY_KEY', '') }}",
    "TDF_ALLOW_DEPS_MISMATCH": "{{ var.value.get('TDF_ALLOW_DEPS_MISMATCH', '0') }}",
    "TDF_CODE_CACHE_MAX_MIB": "{{ var.value.get('TDF_CODE_CACHE_MAX_MIB', '2048') }}",
    "TDF_LOG_LEVEL": "{{ var.value.get('TDF_LOG_LEVEL', 'info') }}",
    "ENABLE_METRICS": "{{ var.value.get('ENABLE_METRICS', 'false') }}",
    "TDF_CODE_CACHE_DIR": CODE_CACHE_DIR,
}
# Secrets: read from Airflow Variables when the task runs, passed as private_environment.
SECRET_VARIABLES = (
    "GARAGE_AIRFLOW_ACCESS_KEY_ID",
    "GARAGE_AIRFLOW_SECRET_ACCESS_KEY",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "DATABASE_URL",
)


def tdf_run_id(run_id):
    """Airflow's run id (manual__2026-01-05T10:00:00+00:00) as a tdf run id: letters, digits, . _ -"""
    return re.sub(r"[^A-Za-z0-9._-]", "-", run_id)[:128]


def tdf_dag(dag_id, description, doc_md, params):
    """A pipeline's DAG: run when triggered (no schedule), failures e-mailed to the ALERT_EMAIL Variable."""
    # Read here, each time a DAG file is parsed: this module stays imported between parses.
    alert_email = Variable.get("ALERT_EMAIL", None)
    return DAG(
        dag_id=dag_id,
        description=description,
        doc_md=doc_md,
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        default_args={
            "owner": "tdf",
            "email": [alert_email] if alert_email else [],
            "email_on_failure": bool(alert_email),
            "email_on_retry": False,
        },
        params=params,
        user_defined_filters={"fromjson": json.loads, "tdf_run_id": tdf_run_id},
        tags=["tft", "tdf"],
    )


class TdfTaskOperator(DockerOperator):
    """A DockerOperator whose secrets are read when the task runs, never when the DAG file is parsed."""

    def execute(self, context):
        self._private_environment = {
            name: value for name in SECRET_VARIABLES if (value := Variable.get(name, None))
        }
        return super().execute(context)


def tdf_task(task_id, image, command, retries, retry_delay_seconds, timeout_seconds, xcom=False):
    """One pipeline task: the base image, whose entrypoint (tdf-bootstrap) runs the command."""
    return TdfTaskOperator(
        task_id=task_id,
        image=image,
        command=command,
        environment=dict(ENVIRONMENT),
        docker_url=DOCKER_URL,
        docker_conn_id=DOCKER_CONN_ID,
        network_mode=DOCKER_NETWORK,
        mounts=[Mount(target=CODE_CACHE_DIR, source=CODE_CACHE_VOLUME, type="volume")],
        mount_tmp_dir=False,
        auto_remove="success",
        force_pull=False,
        do_xcom_push=xcom,
        retrieve_output=False,
        retries=retries,
        retry_delay=timedelta(seconds=retry_delay_seconds),
        retry_exponential_backoff=True,
        max_retry_delay=timedelta(hours=1),
        execution_timeout=timedelta(seconds=timeout_seconds),
    )
