"""Real Apache Kafka in Docker: N `apache/kafka` containers in KRaft mode on one Docker network.

Each container gets three listeners (see `plan_container_cluster`): INTERNAL for replication
between containers (advertised under its network alias), CONTROLLER for the quorum, and
EXTERNAL bound to a fixed port on the host's 127.0.0.1 and advertised as such, so clients on
the host reach every broker. The server.properties come from `kraft.py`, written into the
container by its command, so the containers run exactly the configuration that the jvm
backend runs.

Faults go through Docker: kill = SIGKILL, stop = `docker stop` (SIGTERM, controlled shutdown),
start = `docker start` (same container, same data), pause/resume = `docker pause`/`unpause`.
`down()` stops the containers and keeps them; `remove()` deletes them and their network.
Testcontainers' reaper also removes them when the Python process that made them ends.

Needs `pip install 'kafkabook[containers]'` and a running Docker engine.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time
import uuid
from collections.abc import Mapping
from typing import Any

from kafkabook.backends.base import Backend, BackendError, ClusterStatus, NodeState, NodeStatus
from kafkabook.backends.external import fetch_metadata, port_open
from kafkabook.backends.jvm import DEFAULT_KAFKA_VERSION, free_ports
from kafkabook.backends.kraft import (
    CONTROLLER_LISTENER,
    KraftCluster,
    KraftNode,
    Listener,
    new_cluster_id,
)

DEFAULT_IMAGE = f"apache/kafka:{DEFAULT_KAFKA_VERSION}"
INTERNAL_LISTENER = "INTERNAL"
EXTERNAL_LISTENER = "EXTERNAL"
INTERNAL_PORT = 19092
EXTERNAL_PORT = 9092
CONTROLLER_PORT = 9093
LOG_DIR = "/tmp/kraft-combined-logs"  # writable by the image's unprivileged user
KAFKA_BIN = "/opt/kafka/bin"
PROPERTIES_PATH = "/tmp/kafkabook-server.properties"
PROPERTIES_ENV = "KAFKABOOK_SERVER_PROPERTIES"

BUNDLED_HINT = "use the bundled backend (the default), which needs no Docker"
NO_ENGINE_HINT = f"start Docker, or {BUNDLED_HINT}"


def alias(node_id: int) -> str:
    """The network alias under which the other containers reach node `node_id`."""
    return f"kafka-{node_id}"


def plan_container_cluster(
    *,
    brokers: int,
    host_ports: list[int],
    cluster_id: str | None = None,
    host: str = "127.0.0.1",
    fast_failover: bool = False,
    overrides: Mapping[str, str] | None = None,
) -> KraftCluster:
    """Brokers 1..N, each also a controller while N <= 3 (else nodes 1-3 are the voters).

    `host_ports[i]` is where broker i+1's EXTERNAL listener is published on the host.
    """
    if brokers < 1:
        raise ValueError(f"a cluster needs at least one broker, not {brokers}")
    if len(host_ports) != brokers:
        raise ValueError(f"{brokers} brokers need {brokers} host ports, got {len(host_ports)}")
    voters = 3 if brokers >= 3 else 1  # 2 voters would halt on either's loss
    nodes = []
    for node_id, host_port in enumerate(host_ports, start=1):
        listeners = [
            Listener(INTERNAL_LISTENER, INTERNAL_PORT, "0.0.0.0", advertised_host=alias(node_id)),
            Listener(EXTERNAL_LISTENER, EXTERNAL_PORT, "0.0.0.0", host, host_port),
        ]
        roles: tuple[Any, ...] = ("broker",)
        if node_id <= voters:
            listeners.append(
                Listener(
                    CONTROLLER_LISTENER, CONTROLLER_PORT, "0.0.0.0", advertised_host=alias(node_id)
                )
            )
            roles = ("broker", "controller")
        nodes.append(KraftNode(node_id, roles, tuple(listeners), LOG_DIR))
    return KraftCluster(
        cluster_id=cluster_id or new_cluster_id(),
        nodes=tuple(nodes),
        inter_broker_listener=INTERNAL_LISTENER,
        client_listener=EXTERNAL_LISTENER,
        fast_failover=fast_failover,
        overrides=dict(overrides or {}),
    )


def container_script(
    cluster: KraftCluster,
    node_id: int,
    kafka_bin: str = KAFKA_BIN,
    properties_path: str = PROPERTIES_PATH,
) -> str:
    """The shell command a node's container runs: write its server.properties (passed in the
    environment), format the storage if it is new, then become the Kafka server."""
    props = shlex.quote(properties_path)
    fmt = " ".join(
        shlex.quote(a)
        for a in [
            f"{kafka_bin}/kafka-storage.sh",
            "format",
            "--config",
            properties_path,
            *cluster.format_args(node_id),
        ]
    )
    start = f"{shlex.quote(kafka_bin + '/kafka-server-start.sh')} {props}"
    return f'printf "%s" "${PROPERTIES_ENV}" > {props} && {fmt} && exec {start}'


def container_env(
    cluster: KraftCluster, node_id: int, heap: str = "-Xms128m -Xmx512m"
) -> dict[str, str]:
    """The node's environment: its server.properties text and the JVM heap. (The image's own
    entrypoint would build a config from KAFKA_* variables; this backend bypasses it.)"""
    return {PROPERTIES_ENV: cluster.server_properties(node_id), "KAFKA_HEAP_OPTS": heap}


def docker_engine_problem(timeout: float = 3.0) -> str | None:
    """None if a Docker engine answers; else one line saying why not and what to do."""
    try:
        import docker
        import testcontainers  # noqa: F401
    except ImportError as exc:
        return (
            f"the testcontainers backend needs the {exc.name} package: "
            f"pip install 'kafkabook[containers]', or {BUNDLED_HINT}"
        )
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=int(max(1, timeout)))
        try:
            client.ping()
        finally:
            client.close()
    except Exception:
        return f"no Docker engine answers at {where}: {NO_ENGINE_HINT}"
    return None


class TestcontainersBackend(Backend):
    """N Kafka brokers (KRaft, combined controllers) in `apache/kafka` containers."""

    __test__ = False  # not a pytest test class, despite the name
    name = "testcontainers"

    def __init__(
        self,
        brokers: int = 3,
        *,
        image: str | None = None,
        configs: Mapping[str, Any] | None = None,
        fast_failover: bool = False,
        heap: str = "-Xms128m -Xmx512m",
        ready_timeout: float = 300.0,
        stop_timeout: int = 30,
    ) -> None:
        if brokers < 1:
            raise BackendError(f"a cluster needs at least one broker, not {brokers}")
        self.brokers = brokers
        self.image = image or os.environ.get("KAFKABOOK_KAFKA_IMAGE") or DEFAULT_IMAGE
        self.configs = {str(k): str(v) for k, v in (configs or {}).items()}
        self.fast_failover = fast_failover
        self.heap = heap
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.tag = uuid.uuid4().hex[:8]
        self._cluster: KraftCluster | None = None
        self._network: Any = None
        self._containers: dict[int, Any] = {}
        self._killed: set[int] = set()

    def __repr__(self) -> str:
        return f"TestcontainersBackend(brokers={self.brokers}, image={self.image!r})"

    # -- helpers -----------------------------------------------------------------------------

    def _require_engine(self) -> None:
        problem = docker_engine_problem()
        if problem:
            raise BackendError(problem)

    def cluster(self) -> KraftCluster:
        if self._cluster is None:
            raise BackendError("no containers yet: call up() first")
        return self._cluster

    def _container(self, node_id: int) -> Any:
        if node_id not in self._containers:
            if not self._containers:
                raise BackendError("no containers yet: call up() first")
            raise BackendError(f"no node {node_id} (nodes: {sorted(self._containers)})")
        return self._containers[node_id].get_wrapped_container()

    def _create(self) -> None:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.network import Network

        ports = free_ports(self.brokers)
        self._cluster = plan_container_cluster(
            brokers=self.brokers,
            host_ports=ports,
            fast_failover=self.fast_failover,
            overrides=self.configs,
        )
        self._network = Network().create()
        for node in self._cluster.nodes:
            c = (
                DockerContainer(self.image)
                .with_name(f"kafkabook-{self.tag}-{node.node_id}")
                .with_network(self._network)
                .with_network_aliases(alias(node.node_id))
                .with_envs(**container_env(self._cluster, node.node_id, self.heap))
                .with_command(["-c", container_script(self._cluster, node.node_id)])
                .with_kwargs(entrypoint=["/bin/sh"], hostname=alias(node.node_id))
            )
            # Publish on the host's loopback only, at the port the broker advertises.
            host_port = node.listener(EXTERNAL_LISTENER).public_port
            c.ports[f"{EXTERNAL_PORT}/tcp"] = ("127.0.0.1", host_port)  # type: ignore[assignment]
            self._containers[node.node_id] = c
        for c in self._containers.values():
            c.start()

    def _wait_ready(self, node_ids: list[int], deadline: float) -> None:
        cluster = self.cluster()
        pending = set(node_ids)
        expected = {n for n, st in self._states().items() if st == "running"}
        while pending:
            for node_id in sorted(pending):
                c = self._container(node_id)
                c.reload()
                if c.status == "exited":
                    logs = c.logs(tail=5).decode(errors="replace").strip().splitlines()
                    last = logs[-1] if logs else "no output"
                    raise BackendError(f"container of node {node_id} exited: {last[:300]}")
                li = cluster.node(node_id).listener(EXTERNAL_LISTENER)
                if not port_open(li.public_host, li.public_port):
                    continue
                try:
                    md = fetch_metadata((li.public_host, li.public_port), timeout=3.0)
                except BackendError:
                    continue
                if expected <= md.broker_ids:
                    pending.discard(node_id)
            if pending and time.monotonic() > deadline:
                raise BackendError(
                    f"node(s) {sorted(pending)} not ready after {self.ready_timeout:g}s: "
                    f"see `docker logs kafkabook-{self.tag}-<id>`"
                )
            if pending:
                time.sleep(0.5)

    def _states(self) -> dict[int, NodeState]:
        result: dict[int, NodeState] = {}
        for node_id in self._containers:
            result[node_id] = self._state(node_id)[0]
        return result

    def _state(self, node_id: int) -> tuple[NodeState, int | None]:
        c = self._container(node_id)
        try:
            c.reload()
        except Exception:
            return "killed", None
        state = c.attrs.get("State", {})
        if state.get("Paused"):
            return "paused", state.get("Pid") or None
        if state.get("Running"):
            return "running", state.get("Pid") or None
        return ("killed" if node_id in self._killed else "stopped"), None

    # -- the Backend interface ---------------------------------------------------------------

    def up(self) -> ClusterStatus:
        self._require_engine()
        t0 = time.monotonic()
        if not self._containers:
            self._create()
            to_wait = sorted(self._containers)
        else:
            to_wait = []
            for node_id, st in self._states().items():
                if st == "paused":
                    self.resume(node_id)
                elif st in ("stopped", "killed"):
                    self._container(node_id).start()
                    self._killed.discard(node_id)
                to_wait.append(node_id)
        self._wait_ready(to_wait, t0 + self.ready_timeout)
        return self.status()

    def down(self) -> None:
        for node_id in list(self._containers):
            c = self._container(node_id)
            with contextlib.suppress(Exception):
                c.reload()
                if c.attrs.get("State", {}).get("Paused"):
                    c.unpause()
                c.stop(timeout=self.stop_timeout)

    def remove(self) -> None:
        """Delete the containers and their network (and so their data)."""
        for c in self._containers.values():
            with contextlib.suppress(Exception):
                c.stop()  # testcontainers' stop removes the container
        self._containers.clear()
        if self._network is not None:
            with contextlib.suppress(Exception):
                self._network.remove()
            self._network = None
        self._cluster = None

    def status(self) -> ClusterStatus:
        if self._cluster is None:
            return ClusterStatus(backend=self.name, nodes=())
        nodes: list[NodeStatus] = []
        for node in self._cluster.nodes:
            st, pid = self._state(node.node_id)
            li = node.listener(EXTERNAL_LISTENER)
            nodes.append(
                NodeStatus(node.node_id, "broker", li.public_host, li.public_port, pid, st)
            )
        return ClusterStatus(backend=self.name, nodes=tuple(nodes))

    def kill(self, node_id: int) -> None:
        self._container(node_id).kill(signal="SIGKILL")
        self._killed.add(node_id)

    def stop(self, node_id: int) -> None:
        self._container(node_id).stop(timeout=self.stop_timeout)
        self._killed.discard(node_id)

    def start(self, node_id: int) -> None:
        c = self._container(node_id)
        if self._state(node_id)[0] == "paused":
            raise BackendError(f"node {node_id} is paused: resume({node_id}) it instead")
        c.start()
        self._killed.discard(node_id)
        self._wait_ready([node_id], time.monotonic() + self.ready_timeout)

    def pause(self, node_id: int) -> None:
        self._container(node_id).pause()

    def resume(self, node_id: int) -> None:
        self._container(node_id).unpause()
