from airflow._fake import Param  # noqa: F401
