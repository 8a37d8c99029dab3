"""fake_airflow: see ../README.md. Airflow 2's top-level import of DAG."""

from airflow._fake import DAG  # noqa: F401
