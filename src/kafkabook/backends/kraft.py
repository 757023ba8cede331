"""KRaft configuration for real Apache Kafka nodes, shared by the jvm and testcontainers backends.

Pure functions and frozen dataclasses: nothing here touches a file, a socket or a process.
A `KraftCluster` describes every node (id, roles, listeners, log directory) and renders each
node's `server.properties` and the extra arguments its `kafka-storage format` needs.

>>> cluster = plan_local_cluster(brokers=3, broker_ports=[9092, 9093, 9094],
...                              controller_ports=[9192, 9193, 9194],
...                              data_dir="/tmp/kb", cluster_id="MkU3OEVBNTcwNTJENDM2Qg")
>>> props = cluster.properties(1)
>>> props["process.roles"], props["controller.quorum.voters"]
('broker,controller', '1@127.0.0.1:9192,2@127.0.0.1:9193,3@127.0.0.1:9194')
>>> cluster.bootstrap_servers()
'127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094'
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Role = Literal["broker", "controller"]
ControllerMode = Literal["combined", "separate"]
QuorumMode = Literal["static", "dynamic"]

BROKER_LISTENER = "PLAINTEXT"
CONTROLLER_LISTENER = "CONTROLLER"
SECURITY_PROTOCOLS = frozenset({"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"})

#: Settings that make a crash visible within seconds instead of tens of seconds: the controller
#: fences a silent broker after 3 s (default 9 s) and leaders drop a stuck follower from the ISR
#: after 5 s (default 30 s).
FAST_FAILOVER: Mapping[str, str] = MappingProxyType(
    {
        "broker.heartbeat.interval.ms": "500",
        "broker.session.timeout.ms": "3000",
        "replica.lag.time.max.ms": "5000",
        "controller.quorum.election.timeout.ms": "1000",
        "controller.quorum.fetch.timeout.ms": "2000",
    }
)


def replication_defaults(brokers: int) -> dict[str, str]:
    """Replication settings of the internal topics that a cluster of `brokers` brokers can meet.

    Kafka's defaults (replication factor 3) make a one- or two-broker cluster fail to create
    `__consumer_offsets` and `__transaction_state`; this scales them down, never above 3.
    """
    if brokers < 1:
        raise ValueError(f"a cluster needs at least one broker, not {brokers}")
    rf = str(min(3, brokers))
    min_isr = str(min(2, brokers))
    return {
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": min_isr,
        # Consumers join a new group at once instead of waiting 3 s for more members.
        "group.initial.rebalance.delay.ms": "0",
    }


# ---------------------------------------------------------------------------------------------
# Identifiers


def _uuid_text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def new_cluster_id() -> str:
    """A fresh cluster id in Kafka's own Uuid text form (22 base64url characters).

    Ids that begin with '-' are drawn again: a command line would take them for an option.
    """
    while True:
        text = _uuid_text(uuid.uuid4().bytes)
        if not text.startswith("-"):
            return text


def is_valid_cluster_id(text: str) -> bool:
    """True if `text` is a Kafka Uuid as `kafka-storage format --cluster-id` accepts it."""
    if len(text) != 22 or text.startswith("-"):
        return False
    try:
        raw = base64.urlsafe_b64decode(text + "==")
    except (ValueError, TypeError):
        return False
    return len(raw) == 16 and _uuid_text(raw) == text and raw != bytes(16)


def directory_id(cluster_id: str, node_id: int) -> str:
    """A stable metadata-directory id for `node_id`, derived from the cluster id.

    Used only for a dynamic quorum, where `--initial-controllers` names each controller's
    directory. Deriving it keeps the plan a pure function of its inputs.
    """
    digest = hashlib.sha256(f"kafkabook/{cluster_id}/{node_id}".encode()).digest()
    raw = bytearray(digest[:16])
    while True:
        text = _uuid_text(bytes(raw))
        # Kafka reserves the Uuids below 100 (unassigned, lost, ...) for directories.
        if not text.startswith("-") and int.from_bytes(raw, "big") >= 100:
            return text
        raw[0] = (raw[0] + 1) % 256


# ---------------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class Listener:
    """One listener of a node: where it binds and what it tells clients and peers to dial."""

    name: str
    port: int
    host: str = "127.0.0.1"
    advertised_host: str | None = None
    advertised_port: int | None = None
    protocol: str = "PLAINTEXT"

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum() or not self.name.isupper():
            raise ValueError(f"listener name must be upper-case letters/digits/_: {self.name!r}")
        for port in (self.port, self.advertised_port):
            if port is not None and not 0 <= port <= 65535:
                raise ValueError(f"listener {self.name}: port {port} out of range")
        if self.protocol not in SECURITY_PROTOCOLS:
            raise ValueError(f"listener {self.name}: unknown security protocol {self.protocol}")

    @property
    def public_host(self) -> str:
        return self.advertised_host or self.host

    @property
    def public_port(self) -> int:
        return self.port if self.advertised_port is None else self.advertised_port

    @property
    def bind_uri(self) -> str:
        return f"{self.name}://{_host(self.host)}:{self.port}"

    @property
    def advertised_uri(self) -> str:
        return f"{self.name}://{_host(self.public_host)}:{self.public_port}"

    @property
    def address(self) -> str:
        """`host:port` as a peer dials it."""
        return f"{_host(self.public_host)}:{self.public_port}"


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass(frozen=True)
class KraftNode:
    """One Kafka process: a broker, a controller, or both (combined mode)."""

    node_id: int
    roles: tuple[Role, ...]
    listeners: tuple[Listener, ...]
    log_dir: str
    overrides: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.node_id < 0:
            raise ValueError(f"node ids are >= 0, not {self.node_id}")
        if not self.roles or set(self.roles) - {"broker", "controller"}:
            raise ValueError(f"node {self.node_id}: roles must be broker and/or controller")
        if len(set(self.roles)) != len(self.roles):
            raise ValueError(f"node {self.node_id}: repeated role in {self.roles}")
        names = [li.name for li in self.listeners]
        if len(set(names)) != len(names):
            raise ValueError(f"node {self.node_id}: repeated listener name in {names}")

    @property
    def is_broker(self) -> bool:
        return "broker" in self.roles

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles

    def listener(self, name: str) -> Listener:
        for li in self.listeners:
            if li.name == name:
                return li
        raise KeyError(f"node {self.node_id} has no listener {name}")

    def has_listener(self, name: str) -> bool:
        return any(li.name == name for li in self.listeners)


@dataclass(frozen=True)
class KraftCluster:
    """Every node of a KRaft cluster and the settings they share."""

    cluster_id: str
    nodes: tuple[KraftNode, ...]
    inter_broker_listener: str = BROKER_LISTENER
    controller_listener: str = CONTROLLER_LISTENER
    client_listener: str = BROKER_LISTENER
    quorum: QuorumMode = "static"
    fast_failover: bool = False
    overrides: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not is_valid_cluster_id(self.cluster_id):
            raise ValueError(
                f"not a Kafka cluster id (22 base64url characters): {self.cluster_id!r}"
            )
        if self.quorum not in ("static", "dynamic"):
            raise ValueError(f"quorum must be 'static' or 'dynamic', not {self.quorum!r}")
        ids = [n.node_id for n in self.nodes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"node ids repeat: {ids}")
        if not self.brokers:
            raise ValueError("a cluster needs at least one broker")
        if not self.controllers:
            raise ValueError("a KRaft cluster needs at least one controller")
        for n in self.controllers:
            if not n.has_listener(self.controller_listener):
                raise ValueError(
                    f"controller {n.node_id} has no {self.controller_listener} listener"
                )
        for n in self.brokers:
            for name in {self.inter_broker_listener, self.client_listener}:
                if not n.has_listener(name):
                    raise ValueError(f"broker {n.node_id} has no {name} listener")
            if n.has_listener(self.controller_listener) and not n.is_controller:
                raise ValueError(
                    f"broker {n.node_id} is no controller but has a controller listener"
                )
        if self.controller_listener in (self.inter_broker_listener, self.client_listener):
            raise ValueError("the controller listener must differ from the broker listeners")

    # -- views ------------------------------------------------------------------------------

    @property
    def brokers(self) -> tuple[KraftNode, ...]:
        return tuple(n for n in self.nodes if n.is_broker)

    @property
    def controllers(self) -> tuple[KraftNode, ...]:
        return tuple(n for n in self.nodes if n.is_controller)

    def node(self, node_id: int) -> KraftNode:
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        raise KeyError(f"no node {node_id} in this cluster")

    def bootstrap_servers(self, listener: str | None = None) -> str:
        """The brokers' `host:port` list on `listener` (default: the client listener)."""
        name = listener or self.client_listener
        return ",".join(n.listener(name).address for n in self.brokers)

    def quorum_voters(self) -> str:
        """`controller.quorum.voters`: `id@host:port` of every controller."""
        return ",".join(
            f"{n.node_id}@{n.listener(self.controller_listener).address}" for n in self.controllers
        )

    def quorum_bootstrap_servers(self) -> str:
        """`controller.quorum.bootstrap.servers`: every controller's `host:port`."""
        return ",".join(n.listener(self.controller_listener).address for n in self.controllers)

    def initial_controllers(self) -> str:
        """`--initial-controllers` of a dynamic quorum: `id@host:port:directory-id` each."""
        return ",".join(
            f"{n.node_id}@{n.listener(self.controller_listener).address}:"
            f"{directory_id(self.cluster_id, n.node_id)}"
            for n in self.controllers
        )

    # -- rendering --------------------------------------------------------------------------

    def properties(self, node_id: int) -> dict[str, str]:
        """The `server.properties` of one node, as an ordered dict of strings.

        Later layers win: generated settings, then `fast_failover`, then the cluster-wide
        overrides, then the node's own overrides.
        """
        node = self.node(node_id)
        props: dict[str, str] = {
            "node.id": str(node.node_id),
            "process.roles": ",".join(r for r in ("broker", "controller") if r in node.roles),
            "listeners": ",".join(li.bind_uri for li in node.listeners),
            "advertised.listeners": ",".join(li.advertised_uri for li in node.listeners),
            "listener.security.protocol.map": _protocol_map(self.nodes),
            "controller.listener.names": self.controller_listener,
        }
        if node.is_broker:
            props["inter.broker.listener.name"] = self.inter_broker_listener
        if self.quorum == "static":
            props["controller.quorum.voters"] = self.quorum_voters()
        else:
            props["controller.quorum.bootstrap.servers"] = self.quorum_bootstrap_servers()
        props["log.dirs"] = node.log_dir
        props.update(replication_defaults(len(self.brokers)))
        if self.fast_failover:
            props.update(FAST_FAILOVER)
        props.update({str(k): str(v) for k, v in self.overrides.items()})
        props.update({str(k): str(v) for k, v in node.overrides.items()})
        return props

    def server_properties(self, node_id: int) -> str:
        """`properties(node_id)` as the text of a `server.properties` file."""
        return render_properties(
            self.properties(node_id),
            header=f"kafkabook: node {node_id} of cluster {self.cluster_id}",
        )

    def format_args(self, node_id: int) -> list[str]:
        """Arguments after `kafka-storage format --config FILE` for this node.

        A static quorum needs only the cluster id. A dynamic one names the initial controllers
        on controllers and says "none" on pure brokers.
        """
        node = self.node(node_id)
        args = ["--cluster-id", self.cluster_id, "--ignore-formatted"]
        if self.quorum == "dynamic":
            if node.is_controller:
                args += ["--initial-controllers", self.initial_controllers()]
            else:
                args += ["--no-initial-controllers"]
        return args


def _protocol_map(nodes: Iterable[KraftNode]) -> str:
    seen: dict[str, str] = {}
    for node in nodes:
        for li in node.listeners:
            if seen.setdefault(li.name, li.protocol) != li.protocol:
                raise ValueError(f"listener {li.name} has two security protocols")
    return ",".join(f"{name}:{proto}" for name, proto in seen.items())


# ---------------------------------------------------------------------------------------------
# Planning the usual shapes


def default_controller_ids(mode: ControllerMode, brokers: int, controllers: int) -> list[int]:
    """Node ids of the controllers. Brokers are always 1..N.

    Combined: the first `controllers` brokers double as controllers. Separate: one controller
    is node 0 (as in the bundled cluster); several are 1001, 1002, ...
    """
    if mode == "combined":
        return list(range(1, controllers + 1))
    if controllers == 1:
        return [0]
    return list(range(1001, 1001 + controllers))


def plan_local_cluster(
    *,
    brokers: int = 3,
    broker_ports: Sequence[int],
    controller_ports: Sequence[int],
    data_dir: str,
    mode: ControllerMode = "combined",
    controllers: int | None = None,
    host: str = "127.0.0.1",
    cluster_id: str | None = None,
    quorum: QuorumMode = "static",
    fast_failover: bool = False,
    overrides: Mapping[str, str] | None = None,
    node_overrides: Mapping[int, Mapping[str, str]] | None = None,
) -> KraftCluster:
    """Plan a cluster whose processes all run on one host (the jvm backend's shape).

    `broker_ports[i]` is broker i+1's client port; `controller_ports[j]` is controller j's
    quorum port. `controllers` defaults to 3 voters when there are 3 or more brokers in
    combined mode, else 1. Node i's data lives in `data_dir/node-<id>`.
    """
    if brokers < 1:
        raise ValueError(f"a cluster needs at least one broker, not {brokers}")
    if mode not in ("combined", "separate"):
        raise ValueError(f"mode must be 'combined' or 'separate', not {mode!r}")
    if controllers is None:
        controllers = 3 if mode == "combined" and brokers >= 3 else 1
    if controllers < 1:
        raise ValueError("a KRaft cluster needs at least one controller")
    if mode == "combined" and controllers > brokers:
        raise ValueError(f"combined mode: {controllers} controllers but only {brokers} brokers")
    if len(broker_ports) != brokers:
        raise ValueError(f"{brokers} brokers need {brokers} broker ports, got {len(broker_ports)}")
    if len(controller_ports) != controllers:
        raise ValueError(
            f"{controllers} controllers need {controllers} controller ports, "
            f"got {len(controller_ports)}"
        )
    ports = [*broker_ports, *controller_ports]
    if len(set(ports)) != len(ports):
        raise ValueError(f"ports repeat: {ports}")

    per_node = node_overrides or {}
    controller_ids = default_controller_ids(mode, brokers, controllers)
    ctl_port = dict(zip(controller_ids, controller_ports, strict=True))
    root = data_dir.rstrip("/") or "/"

    def make(node_id: int, roles: tuple[Role, ...], listeners: list[Listener]) -> KraftNode:
        return KraftNode(
            node_id=node_id,
            roles=roles,
            listeners=tuple(listeners),
            log_dir=f"{root}/node-{node_id}",
            overrides=dict(per_node.get(node_id, {})),
        )

    nodes: list[KraftNode] = []
    if mode == "separate":
        for cid in controller_ids:
            nodes.append(
                make(cid, ("controller",), [Listener(CONTROLLER_LISTENER, ctl_port[cid], host)])
            )
    for i, port in enumerate(broker_ports, start=1):
        listeners = [Listener(BROKER_LISTENER, port, host)]
        roles: tuple[Role, ...] = ("broker",)
        if mode == "combined" and i in ctl_port:
            listeners.append(Listener(CONTROLLER_LISTENER, ctl_port[i], host))
            roles = ("broker", "controller")
        nodes.append(make(i, roles, listeners))

    unknown = set(per_node) - {n.node_id for n in nodes}
    if unknown:
        raise ValueError(f"overrides for unknown nodes: {sorted(unknown)}")
    return KraftCluster(
        cluster_id=cluster_id or new_cluster_id(),
        nodes=tuple(nodes),
        quorum=quorum,
        fast_failover=fast_failover,
        overrides=dict(overrides or {}),
    )


# ---------------------------------------------------------------------------------------------
# java.util.Properties text


def _escape(text: str, *, key: bool) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\f":
            out.append("\\f")
        elif ch == " " and (key or i == 0):
            out.append("\\ ")
        elif ch in "=:#!" and (key or i == 0):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) > 0x7E:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else _surrogates(ch))
        else:
            out.append(ch)
    return "".join(out)


def _surrogates(ch: str) -> str:
    code = ord(ch) - 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def render_properties(props: Mapping[str, str], header: str | None = None) -> str:
    """Render `props` as `java.util.Properties` text (ASCII, escaped), in the given order."""
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    for key, value in props.items():
        if not key:
            raise ValueError("empty property name")
        lines.append(f"{_escape(str(key), key=True)}={_escape(str(value), key=False)}")
    return "\n".join(lines) + "\n"


def parse_properties(text: str) -> dict[str, str]:
    """Read `java.util.Properties` text: comments, `=`/`:`/space separators, escapes and
    backslash-continued lines. The inverse of `render_properties`."""
    logical: list[str] = []
    pending = ""
    for raw in re.split(r"\r\n|\r|\n", text):
        line = raw.lstrip(" \t\f")
        if not pending and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending += line[:-1]
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)

    result: dict[str, str] = {}
    for line in logical:
        key_chars: list[str] = []
        i = 0
        while i < len(line):
            ch = line[i]
            if ch == "\\" and i + 1 < len(line):
                key_chars.append(line[i : i + 2])
                i += 2
                continue
            if ch in "=: \t\f":
                break
            key_chars.append(ch)
            i += 1
        while i < len(line) and line[i] in " \t\f":
            i += 1
        if i < len(line) and line[i] in "=:":
            i += 1
            while i < len(line) and line[i] in " \t\f":
                i += 1
        result[_unescape("".join(key_chars))] = _unescape(line[i:])
    return result


_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "f": "\f"}


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 >= len(text):
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u" and i + 6 <= len(text):
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
            continue
        out.append(_SIMPLE_ESCAPES.get(nxt, nxt))
        i += 2
    # Join UTF-16 surrogate pairs written as two \u escapes.
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")
