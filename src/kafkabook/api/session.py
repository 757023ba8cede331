"""The session: which cluster kafkabook talks to now, and the aiokafka clients talking to it.

One `Session` per Python process (`current()`). It holds the current `Cluster`, an aiokafka
client for admin requests and a few producers, all on the background loop (`kafkabook.api.loop`)
and reused from cell to cell; they are closed by `cluster_down`, by switching clusters, and at
exit.

The session also remembers, in a small file, the bundled cluster it used last (its data
directory; never a secret). After a kernel restart, ``%kafka cluster up`` reattaches to that
cluster when it still runs, and any other command finds it without ``cluster up`` at all.
``$KAFKABOOK_SESSION_FILE`` moves that file (the default is in the user cache directory).

>>> import kafkabook as kb
>>> kb.cluster_up(brokers=3)                         # doctest: +SKIP
started the controller and 3 broker(s) in 1.02 s; data in /home/me/.cache/kafkabook/cluster
ROLE         ID ADDRESS                    PID  STATE
...
>>> kb.cluster_down()                                # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from kafkabook.api import loop
from kafkabook.api.cluster import BACKEND_ENV, BACKENDS, DEFAULT_BACKEND, Cluster, load_backend
from kafkabook.api.display import Message, Table
from kafkabook.api.errors import KafkabookError, one_line
from kafkabook.api.requests import Admin
from kafkabook.backends.base import BackendError, ClusterStatus

T = TypeVar("T")

SESSION_FILE_ENV = "KAFKABOOK_SESSION_FILE"
CLIENT_ID = "kafkabook"
# How long one admin request may take before the connection counts as dead. Short enough that
# a paused (SIGSTOPped) broker is noticed within a cell, long enough for a busy 2-core machine.
REQUEST_TIMEOUT_MS = 10_000
# How long a whole API call (several requests, retries) may take.
CALL_TIMEOUT = 60.0

NO_CLUSTER = (
    "no cluster: %kafka cluster up starts one (kb.cluster_up()), "
    "%kafka connect HOST:PORT uses yours"
)


def session_file() -> Path:
    """Where the session remembers its last bundled cluster."""
    env = os.environ.get(SESSION_FILE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("kafkabook")) / "session.json"


def _remembered() -> dict[str, Any]:
    try:
        data = json.loads(session_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember(data: Mapping[str, Any]) -> None:
    path = session_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(data)) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # remembering is a convenience; a read-only home must not break `cluster up`


class ClusterInfo(Table):
    """A cluster's nodes (role, id, address, pid, state), its bootstrap servers and notes.

    Plain text is the `kafkabook cluster status` table; ``.bootstrap`` is handy for clients.
    """

    def __init__(self, status: ClusterStatus, notes: list[str] | None = None) -> None:
        rows = [(n.role, n.node_id, f"{n.host}:{n.port}", n.pid, n.state) for n in status.nodes]
        notes = list(notes or [])
        if status.client_config:
            shown = " ".join(f"{k}={v}" for k, v in sorted(status.client_config.items()))
            notes.append(f"client config: {shown}")
        super().__init__(
            ["role", "id", "address", "pid", "state"],
            rows,
            title=f"{status.backend} cluster"
            + (f" in {status.data_dir}" if status.data_dir else ""),
            notes=notes,
        )
        self.status = status
        self.backend = status.backend
        self.bootstrap = status.bootstrap
        self.data_dir = status.data_dir

    def __repr__(self) -> str:
        return "\n".join([*self.notes, str(self.status)])

    def _repr_html_(self) -> str:
        return super()._repr_html_() + f"<p>bootstrap: <code>{self.bootstrap}</code></p>"


class Session:
    """The current cluster and its clients. Use `current()` rather than making one."""

    def __init__(self) -> None:
        self.cluster: Cluster | None = None
        self._events: list[str] = []
        self._client: Any = None
        self._producers: dict[tuple[tuple[str, Any], ...], Any] = {}
        self._client_lock: asyncio.Lock | None = None
        self._sync_lock = threading.RLock()

    # -- the current cluster ---------------------------------------------------------------

    def note(self, message: str) -> None:
        """Collect a backend's progress line; the next result shows it."""
        self._events.append(message)

    def take_notes(self) -> list[str]:
        notes, self._events = self._events, []
        return notes

    def use(self, cluster: Cluster) -> None:
        """Make ``cluster`` the current one (closing the clients of the previous one)."""
        with self._sync_lock:
            if self.cluster is not cluster:
                self.close_clients()
            self.cluster = cluster

    def require(self) -> Cluster:
        """The current cluster, or the remembered bundled one if it runs; else an error."""
        with self._sync_lock:
            if self.cluster is not None:
                return self.cluster
            cluster = self._remembered_cluster()
            if cluster is None:
                raise KafkabookError(NO_CLUSTER)
            self.cluster = cluster
            return cluster

    def _remembered_cluster(self) -> Cluster | None:
        memory = _remembered()
        if memory.get("backend") != "bundled" or not memory.get("data_dir"):
            return None
        data_dir = Path(memory["data_dir"])
        if not (data_dir / "cluster.json").exists():
            return None
        try:
            cluster = Cluster("bundled", data_dir=data_dir, on_event=self.note)
            status = cluster.status()
        except BackendError:
            return None
        if not any(n.state == "running" for n in status.brokers):
            return None
        return cluster

    # -- clients -----------------------------------------------------------------------------

    def _bootstrap(self) -> str:
        cluster = self.require()
        return getattr(cluster.backend, "bootstrap_servers", None) or cluster.bootstrap

    def connection_kwargs(self) -> dict[str, Any]:
        """aiokafka keyword arguments for this cluster's security settings and client id."""
        from kafkabook.backends.external import connection_kwargs

        kwargs = connection_kwargs(self.require().client_config())
        kwargs.setdefault("client_id", CLIENT_ID)
        kwargs["bootstrap_servers"] = self._bootstrap()
        return kwargs

    async def client(self) -> Any:
        """The started ``AIOKafkaClient`` of the current cluster (made on first use)."""
        from aiokafka import AIOKafkaClient
        from aiokafka.errors import KafkaError as AioKafkaError

        if self._client_lock is None:
            self._client_lock = asyncio.Lock()
        async with self._client_lock:
            if self._client is not None:
                return self._client
            kwargs = self.connection_kwargs()
            client = AIOKafkaClient(request_timeout_ms=REQUEST_TIMEOUT_MS, **kwargs)
            try:
                await client.bootstrap()
            except AioKafkaError as exc:
                with contextlib.suppress(Exception):
                    await client.close()
                raise KafkabookError(
                    f"cannot reach the cluster at {kwargs['bootstrap_servers']} ({exc}): "
                    "%kafka cluster status shows whether it runs, %kafka cluster up starts it",
                ) from exc
            self._client = client
            return client

    async def admin(self) -> Admin:
        """An `Admin` over the shared client."""
        return Admin(await self.client())

    async def producer(self, settings: Mapping[str, Any]) -> Any:
        """A started ``AIOKafkaProducer`` with ``settings``; one per distinct settings, reused."""
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError as AioKafkaError

        key = tuple(sorted(settings.items()))
        producer = self._producers.get(key)
        if producer is not None:
            return producer
        kwargs = {**self.connection_kwargs(), "request_timeout_ms": 30_000, **settings}
        try:
            producer = AIOKafkaProducer(**kwargs)
        except (TypeError, ValueError) as exc:
            raise KafkabookError(f"bad producer settings: {exc}") from exc
        from kafkabook.api.sender import bound_not_enough_replicas

        bound_not_enough_replicas(producer)
        try:
            await producer.start()
        except AioKafkaError as exc:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise KafkabookError(
                f"cannot reach the cluster at {kwargs['bootstrap_servers']} ({exc}): "
                "%kafka cluster status shows whether it runs, %kafka cluster up starts it",
            ) from exc
        self._producers[key] = producer
        return producer

    async def discard_producer(self, settings: Mapping[str, Any]) -> None:
        """Drop the producer with ``settings`` and what it still retries; the next call makes
        a fresh one.

        After a failed or timed-out call nothing it sent may be written later behind the
        error. And after a failed batch an idempotent producer's sequence numbers run ahead of
        the log, so the partition would refuse its next batch (OUT_OF_ORDER_SEQUENCE_NUMBER);
        a new producer gets a new producer id.
        """
        from kafkabook.api.sender import abandon

        producer = self._producers.pop(tuple(sorted(settings.items())), None)
        if producer is not None:
            await abandon(producer)

    async def _close_clients(self) -> None:
        producers, self._producers = list(self._producers.values()), {}
        client, self._client = self._client, None
        for producer in producers:
            try:
                await asyncio.wait_for(producer.stop(), 5.0)
            except Exception:
                # Batches for partitions without a leader keep stop() waiting: drop them.
                from kafkabook.api.sender import abandon

                await abandon(producer)
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), 5.0)

    def close_clients(self) -> None:
        """Close every client of this session (they are made again when needed)."""
        if self._client is None and not self._producers:
            return
        with contextlib.suppress(Exception):
            loop.run(self._close_clients(), timeout=15.0)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = CALL_TIMEOUT) -> T:
        """Run ``coro`` on the background loop (see `kafkabook.api.loop.run`)."""
        return loop.run(coro, timeout)


_current = Session()

# aiokafka logs warnings (a topic being auto-created, a broker reconnecting) that Python would
# print to stderr for lack of a handler; in a notebook they read as errors. A NullHandler keeps
# them out of cell outputs while a logging setup of the user's own still receives them.
logging.getLogger("aiokafka").addHandler(logging.NullHandler())


def current() -> Session:
    """The session of this process."""
    return _current


def run_api(fn: Callable[[Admin], Coroutine[Any, Any, T]], timeout: float = CALL_TIMEOUT) -> T:
    """Run ``fn(admin)`` on the loop for the current cluster (the common shape of API calls)."""
    session = current()
    session.require()

    async def call() -> T:
        return await fn(await session.admin())

    return session.run(call(), timeout)


# -- the cluster API ------------------------------------------------------------------------------


def _backend_options(
    name: str,
    brokers: int | None,
    data_dir: str | os.PathLike[str] | None,
    base_port: int | None,
    configs: Mapping[str, str] | None,
) -> dict[str, Any]:
    session = current()
    if name == "bundled":
        if data_dir is None and not os.environ.get("KAFKABOOK_DATA_DIR"):
            memory = _remembered()
            if memory.get("backend") == "bundled" and memory.get("data_dir"):
                data_dir = memory["data_dir"]
        return {
            "data_dir": data_dir,
            "brokers": brokers,
            "base_port": base_port,
            "configs": configs,
            "on_event": session.note,
        }
    if base_port is not None:
        raise KafkabookError(f"--base-port is for the bundled backend, not {name}")
    options: dict[str, Any] = {"configs": configs}
    if brokers is not None:
        options["brokers"] = brokers
    if name == "jvm":
        if data_dir is None:
            import platformdirs

            data_dir = Path(platformdirs.user_cache_dir("kafkabook")) / "jvm-cluster"
        options["data_dir"] = data_dir
    elif data_dir is not None:
        raise KafkabookError(f"--data-dir is for the bundled and jvm backends, not {name}")
    return options


def _same_cluster(cluster: Cluster, name: str, options: Mapping[str, Any]) -> bool:
    backend = cluster.backend
    if backend.name != name:
        return False
    data_dir = options.get("data_dir")
    if name == "bundled":
        from kafkabook.backends.bundled import resolve_data_dir

        return Path(backend.data_dir) == resolve_data_dir(data_dir)  # type: ignore[attr-defined]
    if name == "jvm":
        return Path(backend.data_dir) == Path(data_dir).expanduser().absolute()  # type: ignore[attr-defined]
    return True


@one_line
def cluster_up(
    brokers: int | None = None,
    *,
    backend: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    base_port: int | None = None,
    configs: Mapping[str, str] | None = None,
) -> ClusterInfo:
    """Start a cluster (or reattach to the running one) and make it the session's cluster.

    ``backend`` is "bundled" (default, or ``$KAFKABOOK_BACKEND``), "jvm" or "testcontainers".
    For the bundled backend ``data_dir`` identifies the cluster: without it, the one this
    session used last, else ``$KAFKABOOK_DATA_DIR``, else the user cache directory.

    >>> kb.cluster_up(brokers=3).bootstrap                     # doctest: +SKIP
    '127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094'
    """
    session = current()
    name = backend or os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND
    if name == "external":
        raise KafkabookError("an external cluster is not started: %kafka connect HOST:PORT uses it")
    if name not in BACKENDS:
        raise KafkabookError(
            f"unknown backend {name!r}: choose bundled, jvm or testcontainers",
        )
    options = _backend_options(name, brokers, data_dir, base_port, configs)
    session.take_notes()
    existing = session.cluster
    if existing is not None and _same_cluster(existing, name, options):
        cluster = existing
        if name == "bundled":
            # A bundled backend object only holds options: take this call's, keep the clients.
            cluster.backend = load_backend(name, **options)
    else:
        cluster = Cluster(name, **options)
    status = cluster.up()
    session.use(cluster)
    if name == "bundled":
        _remember({"backend": "bundled", "data_dir": str(cluster.backend.data_dir)})  # type: ignore[attr-defined]
    return ClusterInfo(status, session.take_notes())


@one_line
def cluster_status() -> ClusterInfo:
    """Every node of the current cluster with its address, pid and state.

    >>> print(kb.cluster_status())                             # doctest: +SKIP
    ROLE         ID ADDRESS                    PID  STATE
    controller    0 127.0.0.1:9095            4711  running
    ...
    """
    session = current()
    cluster = session.require()
    session.take_notes()
    return ClusterInfo(cluster.status(), session.take_notes())


@one_line
def cluster_down() -> Message:
    """Stop the current cluster (its data stays) and close the session's clients.

    >>> kb.cluster_down()                                      # doctest: +SKIP
    stopped 4 node(s); the data stays in /home/me/.cache/kafkabook/cluster
    """
    session = current()
    cluster = session.require()
    session.close_clients()
    session.take_notes()
    cluster.down()
    notes = session.take_notes()
    where = getattr(cluster.backend, "data_dir", None)
    if cluster.backend.name == "external":
        text = "disconnected (kafkabook leaves an external cluster running)"
        session.cluster = None
    else:
        text = "\n".join(notes) or f"stopped the {cluster.backend.name} cluster"
        if where is not None and "data stays" not in text:
            text += f"; the data stays in {where} for the next %kafka cluster up"
    return Message(text, data_dir=None if where is None else str(where))


@one_line
def connect(bootstrap: str, config: Mapping[str, str] | None = None) -> ClusterInfo:
    """Use a cluster you already run: ``bootstrap`` servers plus client settings (SASL/SSL).

    Secrets (passwords, JAAS lines, tokens) are never shown back.

    >>> kb.connect("broker.example:9093", {"security.protocol": "SASL_SSL",
    ...            "sasl.mechanism": "PLAIN", "sasl.username": "me",
    ...            "sasl.password": "..."})                        # doctest: +SKIP
    """
    session = current()
    from kafkabook.backends.external import ExternalBackend

    cluster = Cluster(ExternalBackend(bootstrap, dict(config or {})))
    status = cluster.up()  # a Metadata round trip: fails now if the cluster is unreachable
    session.use(cluster)
    return ClusterInfo(status, [f"connected to {cluster.backend.bootstrap_servers}"])  # type: ignore[attr-defined]


def _close_at_exit() -> None:
    with contextlib.suppress(Exception):
        _current.close_clients()
    with contextlib.suppress(Exception):
        loop.stop()


atexit.register(_close_at_exit)
