"""The Python API of kafkabook: what notebooks, magics and the `kafkabook` command call.

`Cluster` (the backend facade) is imported eagerly; the rest (`kafkabook.api.session`,
`topics`, `configs`, `groups`, `produce`, `consume`, `brokers`, `lines`) live in their own
modules and are re-exported lazily by the top-level ``kafkabook`` package.
"""

from kafkabook.api.cluster import BACKENDS, Cluster, load_backend

__all__ = ["BACKENDS", "Cluster", "load_backend"]
