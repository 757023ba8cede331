"""Break and repair brokers: the only API besides `cluster_*` that goes through the backend.

Each call acts on one node of the current cluster and returns the cluster's status after it.
Backends that cannot (an external cluster) answer with a one-line error.

>>> import kafkabook as kb
>>> kb.broker.kill(2)          # doctest: +SKIP
killed broker 2 (SIGKILL)
ROLE         ID ADDRESS                    PID  STATE
...
broker        2 127.0.0.1:9093               -  killed
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from kafkabook.api.errors import KafkabookError, one_line
from kafkabook.api.session import ClusterInfo, current
from kafkabook.backends.base import UnsupportedOperation

ACTIONS = ("kill", "stop", "start", "pause", "resume")


def _act(action: str, node_id: int) -> ClusterInfo:
    session = current()
    cluster = session.require()
    session.take_notes()
    if not isinstance(node_id, int) or isinstance(node_id, bool):
        raise KafkabookError(f"a broker id is a whole number, not {node_id!r}")
    try:
        getattr(cluster, action)(node_id)
    except UnsupportedOperation as exc:
        raise KafkabookError(
            f"{exc}: %kafka cluster up starts a bundled cluster whose brokers you can break"
            if cluster.backend.name == "external"
            else str(exc)
        ) from exc
    notes = session.take_notes()
    return ClusterInfo(cluster.status(), notes or [f"{action}: node {node_id}"])


class Brokers:
    """``kb.broker``: kill, stop, start, pause or resume one node of the current cluster.

    Node ids are the broker ids (1..N on the bundled backend); 0 is its controller.
    """

    def __repr__(self) -> str:
        return "kb.broker: kill(id), stop(id), start(id), pause(id), resume(id)"

    @one_line
    def kill(self, node_id: int) -> ClusterInfo:
        """Crash a broker (SIGKILL): ``kb.broker.kill(2)``."""
        return _act("kill", node_id)

    @one_line
    def stop(self, node_id: int) -> ClusterInfo:
        """Controlled shutdown (SIGTERM, wait for exit): ``kb.broker.stop(2)``."""
        return _act("stop", node_id)

    @one_line
    def start(self, node_id: int) -> ClusterInfo:
        """Start a stopped or killed broker with its data: ``kb.broker.start(2)``."""
        return _act("start", node_id)

    @one_line
    def pause(self, node_id: int) -> ClusterInfo:
        """Hang a broker (SIGSTOP; its sockets stay open): ``kb.broker.pause(3)``."""
        return _act("pause", node_id)

    @one_line
    def resume(self, node_id: int) -> ClusterInfo:
        """Continue a paused broker (SIGCONT): ``kb.broker.resume(3)``."""
        return _act("resume", node_id)

    def __getattr__(self, name: str) -> object:
        # `kafkabook.broker` is also the package of the broker processes. The top-level package
        # keeps `kb.broker` bound to this object (see kafkabook/__init__.py) and lets attribute
        # paths into that package (kafkabook.broker.records) through here.
        package = sys.modules.get("kafkabook.broker")
        if package is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(package, name)

    def action(self, name: str) -> Callable[[int], ClusterInfo]:
        """The method for an action name (what ``%kafka broker NAME ID`` calls)."""
        if name not in ACTIONS:
            raise KafkabookError(f"unknown broker action {name!r}: use {', '.join(ACTIONS)}")
        return getattr(self, name)


broker = Brokers()
