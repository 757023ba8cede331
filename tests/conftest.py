"""Fixtures shared by the whole suite.

``bundled_cluster`` is the one most tests want: a real bundled cluster (controller + 3 brokers
as OS processes) on free ports in a temporary directory, shared by the session and stopped at
its end. ``bundled_cluster_factory`` makes others (other sizes, configs, or private ones).

    def test_produce(bundled_cluster):
        producer = KafkaProducer(bootstrap_servers=bundled_cluster.bootstrap)

    def test_failover(bundled_cluster_factory):
        backend = bundled_cluster_factory(brokers=3, fresh=True)   # private: break it freely
        backend.kill(1)
"""

from __future__ import annotations

import contextlib
import importlib.util
import random
import socket
from collections.abc import Callable, Iterator, Mapping

import pytest

from kafkabook.backends.base import BackendError
from kafkabook.backends.bundled import BundledBackend

# Below Linux's ephemeral range (32768+), so a client socket's local port cannot take a port we
# picked between choosing it and the broker binding it.
_PORT_RANGE = (20000, 32000)


def port_is_bindable(port: int) -> bool:
    """Whether 127.0.0.1:port is free right now (a bind test, as the servers will bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def find_free_port_block(count: int) -> int:
    """The first port of ``count`` consecutive free ports, picked at random (never hard-wired)."""
    low, high = _PORT_RANGE
    for _ in range(500):
        base = random.randrange(low, high - count)
        if all(port_is_bindable(p) for p in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports in {low}-{high}")


def bundled_implementation_available() -> bool:
    """Whether the broker and controller entry points (`python -m ...`) exist in this tree."""
    modules = ("kafkabook.broker.__main__", "kafkabook.broker.controller.__main__")
    try:
        return all(importlib.util.find_spec(m) is not None for m in modules)
    except ImportError:
        return False


@pytest.fixture(scope="session")
def free_port_block() -> Callable[[int], int]:
    """``free_port_block(n)`` -> first of n consecutive free ports on 127.0.0.1."""
    return find_free_port_block


def _heal(backend: BundledBackend) -> None:
    # A test may have killed or paused nodes of a shared cluster: give the next one a whole
    # cluster. The controller first, since brokers need it to start.
    for node in backend.status().nodes:
        if node.state == "paused":
            backend.resume(node.node_id)
        elif node.state != "running":
            backend.start(node.node_id)


@pytest.fixture(scope="session")
def bundled_cluster_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., BundledBackend]]:
    """Factory of running bundled clusters: ``factory(brokers=3, configs=None, fresh=False)``
    returns a BundledBackend whose brokers all answer Metadata.

    Clusters with the same brokers and configs are shared by the session, and healed (paused
    nodes resumed, dead ones started) each time they are handed out again; ``fresh=True`` gives
    a private one. Every cluster is brought down at the end of the session.
    """
    if not bundled_implementation_available():
        pytest.skip(
            "the bundled broker/controller (python -m kafkabook.broker) is not in this tree"
        )
    shared: dict[tuple[int, tuple[tuple[str, str], ...]], BundledBackend] = {}
    started: list[BundledBackend] = []

    def make(
        brokers: int = 3,
        configs: Mapping[str, str] | None = None,
        fresh: bool = False,
    ) -> BundledBackend:
        key = (brokers, tuple(sorted((configs or {}).items())))
        if not fresh and key in shared:
            _heal(shared[key])
            return shared[key]
        for attempt in range(3):
            backend = BundledBackend(
                data_dir=tmp_path_factory.mktemp(f"bundled-{brokers}b"),
                brokers=brokers,
                base_port=find_free_port_block(brokers + 1),
                configs=configs,
            )
            started.append(backend)
            try:
                backend.up()
                break
            except BackendError as exc:
                # Another program may grab a port between our check and the bind: retry.
                if "is taken" not in str(exc) or attempt == 2:
                    raise
        if not fresh:
            shared[key] = backend
        return backend

    yield make
    for backend in started:
        with contextlib.suppress(BackendError):
            backend.down()


@pytest.fixture(scope="session")
def bundled_cluster(bundled_cluster_factory: Callable[..., BundledBackend]) -> BundledBackend:
    """The session's shared 3-broker bundled cluster (use ``.bootstrap`` for clients).

    Shared: a test that kills or pauses nodes should use ``bundled_cluster_factory(fresh=True)``.
    """
    return bundled_cluster_factory()
