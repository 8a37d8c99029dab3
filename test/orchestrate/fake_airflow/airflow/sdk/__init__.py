"""Airflow 3's Task SDK names; hidden when FAKE_AIRFLOW_VERSION=2 (as on Airflow 2, where it does not exist)."""

import os

if os.environ.get("FAKE_AIRFLOW_VERSION") == "2":
    raise ImportError("No module named 'airflow.sdk'")

from airflow._fake import DAG, BaseOperator, Param, Variable  # noqa: E402,F401
