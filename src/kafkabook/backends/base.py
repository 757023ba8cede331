"""The backend interface: how kafkabook starts, stops and breaks a cluster.

Everything else (topics, produce, consume, widgets) talks to the cluster through the Kafka
protocol only, so it behaves the same on every backend. A backend only starts, stops and injects
faults, and says where its brokers listen.

>>> from kafkabook.backends.bundled import BundledBackend
>>> backend = BundledBackend(data_dir="/tmp/kb-demo", brokers=3)   # doctest: +SKIP
>>> backend.up().bootstrap                                          # doctest: +SKIP
'127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094'
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Literal

NodeState = Literal["running", "stopped", "paused", "killed"]


class BackendError(RuntimeError):
    """A one-line, user-facing error: what went wrong and what to do about it."""


class UnsupportedOperation(BackendError):
    """The backend cannot do this (for example killing a broker of an external cluster)."""


@dataclass(frozen=True)
class NodeStatus:
    """One broker or controller process as the backend sees it."""

    node_id: int
    role: Literal["broker", "controller"]
    host: str
    port: int
    pid: int | None
    state: NodeState


@dataclass(frozen=True)
class ClusterStatus:
    """What `status()` returns: every node, and the bootstrap servers."""

    backend: str
    nodes: tuple[NodeStatus, ...]
    data_dir: str | None = None
    client_config: dict[str, str] = field(default_factory=dict)

    @property
    def brokers(self) -> tuple[NodeStatus, ...]:
        return tuple(n for n in self.nodes if n.role == "broker")

    @property
    def controllers(self) -> tuple[NodeStatus, ...]:
        return tuple(n for n in self.nodes if n.role == "controller")

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{n.host}:{n.port}" for n in self.brokers)

    def __str__(self) -> str:
        lines = [f"{'ROLE':<11} {'ID':>3} {'ADDRESS':<21} {'PID':>8}  STATE"]
        for n in self.nodes:
            pid = "-" if n.pid is None else str(n.pid)
            lines.append(
                f"{n.role:<11} {n.node_id:>3} {n.host + ':' + str(n.port):<21} {pid:>8}  {n.state}"
            )
        lines.append(f"bootstrap: {self.bootstrap}")
        return "\n".join(lines)


class Backend(abc.ABC):
    """Start, stop and break a Kafka cluster. Subclasses: bundled, jvm, testcontainers, external."""

    name: str

    @abc.abstractmethod
    def up(self) -> ClusterStatus:
        """Start the cluster (or reattach to it) and return once every broker answers Metadata."""

    @abc.abstractmethod
    def down(self) -> None:
        """Stop every process of the cluster; its data stays for the next `up`."""

    @abc.abstractmethod
    def status(self) -> ClusterStatus:
        """Every node with its address, pid and state."""

    @property
    def bootstrap(self) -> str:
        """The bootstrap servers, `host:port,host:port`."""
        return self.status().bootstrap

    def client_config(self) -> dict[str, str]:
        """Extra client settings (SASL/SSL) that every client of this cluster needs."""
        return {}

    def kill(self, node_id: int) -> None:
        """SIGKILL a broker: a crash."""
        raise UnsupportedOperation(f"the {self.name} backend cannot kill brokers")

    def stop(self, node_id: int) -> None:
        """Controlled shutdown of a broker: leadership moves away first."""
        raise UnsupportedOperation(f"the {self.name} backend cannot stop brokers")

    def start(self, node_id: int) -> None:
        """Start a stopped or killed broker again with its data."""
        raise UnsupportedOperation(f"the {self.name} backend cannot start brokers")

    def pause(self, node_id: int) -> None:
        """SIGSTOP a broker: a hung process that holds its sockets open."""
        raise UnsupportedOperation(f"the {self.name} backend cannot pause brokers")

    def resume(self, node_id: int) -> None:
        """SIGCONT a paused broker."""
        raise UnsupportedOperation(f"the {self.name} backend cannot resume brokers")
