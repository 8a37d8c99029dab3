"""The DockerOperator's documented constructor arguments (apache-airflow-providers-docker), no more."""

from airflow._fake import BaseOperator


class DockerOperator(BaseOperator):
    template_fields = ("image", "command", "environment", "env_file", "container_name", "mounts")
    _allowed = {
        "image", "api_version", "command", "container_name", "cpus", "docker_url", "environment",
        "private_environment", "env_file", "force_pull", "mem_limit", "host_tmp_dir", "network_mode",
        "tls_ca_cert", "tls_client_cert", "tls_client_key", "tls_verify", "tls_hostname",
        "tls_ssl_version", "mount_tmp_dir", "tmp_dir", "user", "mounts", "entrypoint", "working_dir",
        "xcom_all", "docker_conn_id", "dns", "dns_search", "auto_remove", "shm_size", "tty",
        "hostname", "privileged", "cap_add", "extra_hosts", "retrieve_output", "retrieve_output_path",
        "timeout", "device_requests", "log_opts_max_size", "log_opts_max_file", "ipc_mode",
        "skip_on_exit_code", "port_bindings", "ulimits", "labels",
    }

    def __init__(self, *, image, **kwargs):
        super().__init__(image=image, **kwargs)
        if kwargs.get("auto_remove", "never") not in ("never", "success", "force"):
            raise ValueError(f"Invalid `auto_remove` value {kwargs.get('auto_remove')!r}")
        self.image = image
        self.args = {k: v for k, v in {"image": image, **kwargs}.items() if k in self._allowed}
        for field in self.template_fields:
            setattr(self, field, self.args.get(field))
        self._private_environment = kwargs.get("private_environment") or {}
        self.executed_with_private_environment = None

    def execute(self, context):
        # What the real one hands to Docker besides the rendered environment.
        self.executed_with_private_environment = dict(self._private_environment)
        return None
