class Mount(dict):
    """docker-py's Mount is a dict with the Engine API's keys."""

    def __init__(self, target, source, type="volume", read_only=False, **kwargs):
        if type not in ("bind", "volume", "tmpfs", "npipe"):
            raise ValueError(f"unknown mount type {type}")
        super().__init__(Target=target, Source=source, Type=type, ReadOnly=read_only)
