"""`kafkabook.Cluster`: one object to start, inspect and break a cluster, whatever the backend.

>>> import kafkabook as kb
>>> cluster = kb.Cluster(brokers=3)          # doctest: +SKIP
>>> print(cluster.up())                      # doctest: +SKIP
...
bootstrap: 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
>>> cluster.kill(2); cluster.start(2)        # doctest: +SKIP
>>> cluster.down()                           # doctest: +SKIP

The backend is picked by name: "bundled" (the default, local Python processes), "jvm" (Apache
Kafka's own jars), "testcontainers" (Kafka in Docker) or "external" (a cluster you already
have). ``KAFKABOOK_BACKEND`` sets the default name. Backends other than the bundled one are
imported only when asked for, so their dependencies (Java, Docker) stay optional.
"""

from __future__ import annotations

import importlib
import inspect
import os
from types import ModuleType, TracebackType
from typing import Any

from kafkabook.backends.base import Backend, BackendError, ClusterStatus

BACKEND_ENV = "KAFKABOOK_BACKEND"
DEFAULT_BACKEND = "bundled"

# Backend name -> module that defines it. Import lazily: `import kafkabook` must stay cheap
# (every broker process imports it) and must not need Java or Docker.
BACKENDS: dict[str, str] = {
    "bundled": "kafkabook.backends.bundled",
    "jvm": "kafkabook.backends.jvm",
    "testcontainers": "kafkabook.backends.testcontainers",
    "external": "kafkabook.backends.external",
}


def _backend_class(name: str, module: ModuleType) -> type[Backend]:
    # Find the class by its `name` attribute rather than by a class name we would have to
    # hard-code here: each backend module owns how it spells its class.
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Backend)
        and obj.__module__ == module.__name__
        and not inspect.isabstract(obj)
        and getattr(obj, "name", None) == name
    ]
    if len(found) != 1:
        raise BackendError(
            f"{module.__name__} defines {len(found)} backends named {name!r}, expected one",
        )
    return found[0]


def load_backend(name: str, **options: Any) -> Backend:
    """Create the backend called ``name`` with ``options`` (its constructor's keywords).

    >>> load_backend("bundled", data_dir="/tmp/kb-demo", brokers=1)   # doctest: +SKIP
    BundledBackend(data_dir='/tmp/kb-demo')
    """
    module_name = BACKENDS.get(name)
    if module_name is None:
        raise BackendError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(f"the {name} backend is not available: {exc}") from exc
    cls = _backend_class(name, module)
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        raise BackendError(f"the {name} backend does not take these options: {exc}") from exc
    return cls(**options)


class Cluster:
    """A Kafka cluster on some backend: start it, look at it, break it, stop it.

    ``backend`` is a backend name (see `BACKENDS`) or a ready `Backend`; ``options`` go to the
    backend's constructor (for "bundled": ``data_dir``, ``brokers``, ``base_port``,
    ``configs``). Used as a context manager it is up inside the block and down after it.

    >>> with Cluster(brokers=1, data_dir="/tmp/kb-one") as cluster:   # doctest: +SKIP
    ...     cluster.bootstrap
    '127.0.0.1:9092'
    """

    def __init__(self, backend: str | Backend | None = None, **options: Any) -> None:
        if isinstance(backend, Backend):
            if options:
                raise BackendError("options go to the backend's constructor, not to Cluster")
            self.backend = backend
        else:
            name = backend or os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND
            self.backend = load_backend(name, **options)

    def __repr__(self) -> str:
        return f"Cluster({self.backend!r})"

    def __enter__(self) -> Cluster:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    def up(self) -> ClusterStatus:
        """Start the cluster (or reattach to it); returns when every broker answers Metadata."""
        return self.backend.up()

    def down(self) -> None:
        """Stop every process of the cluster; its data stays for the next `up`."""
        self.backend.down()

    def status(self) -> ClusterStatus:
        """Every node with address, pid and state; ``print()`` it for a table."""
        return self.backend.status()

    @property
    def bootstrap(self) -> str:
        """``host:port,...`` for a client's ``bootstrap_servers``."""
        return self.backend.bootstrap

    def client_config(self) -> dict[str, str]:
        """Extra settings (security) every client of this cluster needs; often empty."""
        return self.backend.client_config()

    def kill(self, node_id: int) -> None:
        """SIGKILL broker ``node_id``: a crash."""
        self.backend.kill(node_id)

    def stop(self, node_id: int) -> None:
        """Controlled shutdown of broker ``node_id``."""
        self.backend.stop(node_id)

    def start(self, node_id: int) -> None:
        """Start a stopped or killed broker again with its data."""
        self.backend.start(node_id)

    def pause(self, node_id: int) -> None:
        """SIGSTOP broker ``node_id``: hung, sockets still open."""
        self.backend.pause(node_id)

    def resume(self, node_id: int) -> None:
        """SIGCONT a paused broker."""
        self.backend.resume(node_id)
