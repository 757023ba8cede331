"""The Python API of kafkabook: what notebooks, magics and the `kafkabook` command call."""

from kafkabook.api.cluster import BACKENDS, Cluster, load_backend

__all__ = ["BACKENDS", "Cluster", "load_backend"]
