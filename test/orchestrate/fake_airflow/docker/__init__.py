"""fake docker-py: only docker.types.Mount."""
