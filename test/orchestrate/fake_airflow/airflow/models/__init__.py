from airflow._fake import BaseOperator, Variable  # noqa: F401
