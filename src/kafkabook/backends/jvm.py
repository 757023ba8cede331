"""Real Apache Kafka brokers as local JVM processes: the "oracle" that keeps kafkabook honest.

The jars come from `make oracle-jars` (Maven, into `~/.cache/kafkabook/oracle/<version>/libs`)
or from an unpacked Kafka distribution (`kafka_home`). Every process binds 127.0.0.1 and logs
to `D/logs/node-<id>.log`; `D/cluster.json` remembers the cluster id, ports and pids, so a
later `JvmBackend(D).up()` (from another kernel, say) reattaches instead of starting anew.

>>> backend = JvmBackend("/tmp/kb-jvm", brokers=3)          # doctest: +SKIP
>>> backend.up().bootstrap                                  # doctest: +SKIP
'127.0.0.1:40123,127.0.0.1:40125,127.0.0.1:40127'
>>> backend.kill(2); backend.start(2); backend.down()       # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from kafkabook.backends.base import Backend, BackendError, ClusterStatus, NodeState, NodeStatus
from kafkabook.backends.external import fetch_metadata, port_open
from kafkabook.backends.kraft import (
    BROKER_LISTENER,
    CONTROLLER_LISTENER,
    ControllerMode,
    KraftCluster,
    QuorumMode,
    plan_local_cluster,
)
from kafkabook.backends.signals import PAUSED_STATES, set_paused

#: The Kafka version that oracle/pom.xml and scripts/oracle-jars.sh fetch by default.
DEFAULT_KAFKA_VERSION = "4.4.0"

#: Modest JVM settings: the machine this runs on may have 2 cores for 3 brokers and a notebook.
DEFAULT_JVM_OPTS: tuple[str, ...] = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
)

STATE_FILE = "cluster.json"

_LOG4J2 = """\
# kafkabook: every Kafka process logs to D/logs/<name>.log, nothing to the console.
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/${sys:kafkabook.log.name}.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.kafka.name = org.apache.kafka.clients.NetworkClient
logger.kafka.level = WARN
"""

# Command line tools: warnings and errors on stderr, their normal output untouched.
_TOOLS_LOG4J2 = """\
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
"""

# The same for Kafka 3.x, which logs through log4j 1 (reload4j).
_LOG4J1 = """\
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=${kafka.logs.dir}/${kafkabook.log.name}.log
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients.NetworkClient=WARN
"""


# ---------------------------------------------------------------------------------------------
# Finding Java and the jars


def default_oracle_dir(version: str | None = None) -> Path:
    """`$KAFKABOOK_ORACLE_DIR`, else `~/.cache/kafkabook/oracle/<version>`."""
    env = os.environ.get("KAFKABOOK_ORACLE_DIR")
    if env:
        return Path(env).expanduser()
    version = version or os.environ.get("KAFKABOOK_KAFKA_VERSION") or DEFAULT_KAFKA_VERSION
    return Path.home() / ".cache" / "kafkabook" / "oracle" / version


def default_jars_dir() -> Path:
    return default_oracle_dir() / "libs"


def find_java(java: str | None = None) -> str:
    """The `java` to run: the argument, `$JAVA_HOME/bin/java`, or `java` on PATH."""
    candidates = [java] if java else []
    java_home = os.environ.get("JAVA_HOME")
    if not java and java_home:
        candidates.append(str(Path(java_home) / "bin" / "java"))
    if not java:
        candidates.append("java")
    for cand in candidates:
        found = shutil.which(cand) if cand else None
        if found:
            return found
    raise BackendError(
        "Java not found (looked at "
        + ", ".join(c for c in candidates if c)
        + "): install a JDK 17+ or set JAVA_HOME"
    )


_KAFKA_JAR = re.compile(r"kafka_(\d+\.\d+)-(\d+\.\d+\.\d+[^/]*?)\.jar$")


def find_kafka_jar(jars_dir: Path) -> tuple[Path, str]:
    """The `kafka_<scala>-<version>.jar` in `jars_dir`, and that version."""
    hits = []
    if jars_dir.is_dir():
        for path in jars_dir.iterdir():
            m = _KAFKA_JAR.match(path.name)
            if m and not path.name.endswith(("-test.jar", "-sources.jar", "-javadoc.jar")):
                hits.append((path, m.group(2)))
    if not hits:
        raise BackendError(f"Apache Kafka jars not found in {jars_dir}: run `make oracle-jars`")
    if len(hits) > 1:
        names = ", ".join(sorted(p.name for p, _ in hits))
        raise BackendError(f"several Kafka versions in {jars_dir} ({names}): keep one")
    return hits[0]


def storage_tool_class(kafka_jar: Path) -> str:
    """The main class of `kafka-storage format` in this Kafka version."""
    try:
        with zipfile.ZipFile(kafka_jar) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise BackendError(f"cannot read {kafka_jar}: {exc}") from None
    for cls in ("kafka.tools.StorageTool", "org.apache.kafka.tools.StorageTool"):
        if cls.replace(".", "/") + ".class" in names:
            return cls
    raise BackendError(f"no StorageTool in {kafka_jar}: is this a KRaft-capable Kafka (3.3+)?")


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct TCP ports that are free on `host` right now."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# ---------------------------------------------------------------------------------------------
# The backend


class JvmBackend(Backend):
    """N Kafka brokers (KRaft) as local `java` processes under `data_dir`.

    `mode="combined"` (default) runs brokers that are controllers too (3 voters when there are
    3+ brokers); `mode="separate"` adds `controllers` controller-only processes. `configs` go
    into every node's server.properties; `node_configs={id: {...}}` into one node's.
    `fast_failover=True` fences a dead broker within ~3 s instead of ~9 s.
    """

    name = "jvm"

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        brokers: int = 3,
        *,
        kafka_home: str | os.PathLike[str] | None = None,
        jars_dir: str | os.PathLike[str] | None = None,
        configs: Mapping[str, Any] | None = None,
        node_configs: Mapping[int, Mapping[str, Any]] | None = None,
        mode: ControllerMode = "combined",
        controllers: int | None = None,
        quorum: QuorumMode = "static",
        fast_failover: bool = False,
        java: str | None = None,
        jvm_opts: Sequence[str] = DEFAULT_JVM_OPTS,
        ready_timeout: float = 180.0,
        stop_timeout: float = 60.0,
    ) -> None:
        if kafka_home is not None and jars_dir is not None:
            raise BackendError("give kafka_home or jars_dir, not both")
        if brokers < 1:
            raise BackendError(f"a cluster needs at least one broker, not {brokers}")
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.brokers = brokers
        if kafka_home is not None:
            self.jars_dir = Path(kafka_home).expanduser().absolute() / "libs"
        elif jars_dir is not None:
            self.jars_dir = Path(jars_dir).expanduser().absolute()
        else:
            self.jars_dir = default_jars_dir()
        self.configs = {str(k): _config_value(v) for k, v in (configs or {}).items()}
        self.node_configs = {
            int(n): {str(k): _config_value(v) for k, v in c.items()}
            for n, c in (node_configs or {}).items()
        }
        self.mode: ControllerMode = mode
        self.controllers = controllers
        self.quorum: QuorumMode = quorum
        self.fast_failover = fast_failover
        self.java = java
        self.jvm_opts = tuple(jvm_opts)
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self._children: dict[int, subprocess.Popen[bytes]] = {}  # by pid
        #: Seconds the last `up()` took until every broker answered Metadata.
        self.last_up_seconds: float | None = None

    def __repr__(self) -> str:
        return f"JvmBackend(data_dir={str(self.data_dir)!r}, brokers={self.brokers})"

    # -- paths -------------------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def config_file(self, node_id: int) -> Path:
        return self.data_dir / "config" / f"node-{node_id}.properties"

    def log_file(self, node_id: int) -> Path:
        return self.logs_dir / f"node-{node_id}.log"

    # -- state file --------------------------------------------------------------------------

    def _load_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot read {self.state_file}: {exc}") from None
        if state.get("backend") != self.name:
            raise BackendError(
                f"{self.data_dir} holds a {state.get('backend', 'unknown')} cluster, "
                "not a jvm one: pick another data_dir"
            )
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.state_file)

    def _set_node(self, node_id: int, **fields: Any) -> None:
        state = self._load_state()
        if state is None:
            raise BackendError(f"no jvm cluster in {self.data_dir}: call up() first")
        state["nodes"].setdefault(str(node_id), {}).update(fields)
        self._save_state(state)
        if fields.get("pid", 0) is None:
            (self.data_dir / f"node-{node_id}.pid").unlink(missing_ok=True)

    def _plan(self, state: Mapping[str, Any]) -> KraftCluster:
        return plan_local_cluster(
            brokers=state["brokers"],
            broker_ports=state["broker_ports"],
            controller_ports=state["controller_ports"],
            data_dir=str(self.data_dir / "data"),
            mode=state["mode"],
            controllers=len(state["controller_ports"]),
            cluster_id=state["cluster_id"],
            quorum=state["quorum"],
            fast_failover=self.fast_failover,
            overrides=self.configs,
            node_overrides=self.node_configs,
        )

    def _new_state(self) -> dict[str, Any]:
        count = self._controller_count()
        ports = free_ports(self.brokers + count)
        state: dict[str, Any] = {
            "backend": self.name,
            "format": 1,
            "brokers": self.brokers,
            "mode": self.mode,
            "quorum": self.quorum,
            "broker_ports": ports[: self.brokers],
            "controller_ports": ports[self.brokers :],
        }
        plan = plan_local_cluster(
            brokers=self.brokers,
            broker_ports=state["broker_ports"],
            controller_ports=state["controller_ports"],
            data_dir=str(self.data_dir / "data"),
            mode=self.mode,
            controllers=count,
            quorum=self.quorum,
        )
        state["cluster_id"] = plan.cluster_id
        state["nodes"] = {str(n.node_id): {"pid": None, "state": "stopped"} for n in plan.nodes}
        return state

    def _controller_count(self) -> int:
        if self.controllers is not None:
            return self.controllers
        return 3 if self.mode == "combined" and self.brokers >= 3 else 1

    def cluster(self) -> KraftCluster:
        """The KRaft plan of this cluster (ports, ids, properties); needs a prior `up()`."""
        state = self._load_state()
        if state is None:
            raise BackendError(f"no jvm cluster in {self.data_dir}: call up() first")
        return self._plan(state)

    # -- processes ---------------------------------------------------------------------------

    def _process(self, node_id: int, pid: int | None) -> psutil.Process | None:
        """The live Kafka process of `node_id`, or None (never a reused pid)."""
        if not pid:
            return None
        child = self._children.get(pid)
        if child is not None and child.poll() is not None:
            del self._children[pid]  # our child, now reaped: the pid is gone
            return None
        try:
            proc = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return None
        if _exited(proc):
            return None
        try:
            cmdline = proc.cmdline()
        except psutil.ZombieProcess:
            return proc  # exiting: its main thread has ended, other threads still run
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        if "kafka.Kafka" not in cmdline or str(self.config_file(node_id)) not in cmdline:
            return None
        return proc

    def _node_state(self, node_id: int, info: Mapping[str, Any]) -> tuple[NodeState, int | None]:
        proc = self._process(node_id, info.get("pid"))
        if proc is None:
            recorded = info.get("state", "stopped")
            # A process that vanished without kill()/stop() crashed: that is a kill too.
            return ("killed" if recorded != "stopped" else "stopped"), None
        try:
            paused = proc.status() in PAUSED_STATES
        except psutil.Error:
            return "killed", None
        return ("paused" if paused else "running"), proc.pid

    def _java_command(self, main: str, args: Sequence[str], log_name: str) -> list[str]:
        return [
            find_java(self.java),
            *self.jvm_opts,
            f"-Dkafka.logs.dir={self.logs_dir}",
            f"-Dkafkabook.log.name={log_name}",
            f"-Dlog4j2.configurationFile={self.data_dir / 'config' / 'log4j2.properties'}",
            f"-Dlog4j.configuration=file:{self.data_dir / 'config' / 'log4j.properties'}",
            "-cp",
            str(self.jars_dir / "*"),
            main,
            *args,
        ]

    def _write_configs(self, cluster: KraftCluster) -> None:
        cfg = self.data_dir / "config"
        cfg.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        (cfg / "log4j2.properties").write_text(_LOG4J2)
        (cfg / "log4j.properties").write_text(_LOG4J1)
        (cfg / "tools-log4j2.properties").write_text(_TOOLS_LOG4J2)
        for node in cluster.nodes:
            self.config_file(node.node_id).write_text(cluster.server_properties(node.node_id))

    def _format(self, cluster: KraftCluster, node_ids: Iterable[int]) -> None:
        """`kafka-storage format` every node whose log dir is not formatted yet, in parallel."""
        kafka_jar, _ = find_kafka_jar(self.jars_dir)
        tool = storage_tool_class(kafka_jar)
        running: list[tuple[int, subprocess.Popen[bytes], Path]] = []
        for node_id in node_ids:
            node = cluster.node(node_id)
            if (Path(node.log_dir) / "meta.properties").exists():
                continue
            Path(node.log_dir).mkdir(parents=True, exist_ok=True)
            out = self.logs_dir / f"format-node-{node_id}.out"
            args = ["format", "--config", str(self.config_file(node_id))]
            args += cluster.format_args(node_id)
            cmd = self._java_command(tool, args, f"format-node-{node_id}")
            # A one-shot tool: the C1 compiler alone starts it faster.
            cmd.insert(1, "-XX:TieredStopAtLevel=1")
            with out.open("wb") as fh:
                proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
            running.append((node_id, proc, out))
        for node_id, proc, out in running:
            try:
                rc = proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = -9
            if rc != 0:
                raise BackendError(
                    f"formatting node {node_id}'s storage failed ({_last_line(out)}): see {out}"
                )

    def _spawn(self, node_id: int) -> int:
        out = self.logs_dir / f"node-{node_id}.out"
        cmd = self._java_command("kafka.Kafka", [str(self.config_file(node_id))], f"node-{node_id}")
        with out.open("ab") as fh:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # a Ctrl-C in the notebook must not reach the brokers
            )
        self._children[proc.pid] = proc
        (self.data_dir / f"node-{node_id}.pid").write_text(f"{proc.pid}\n")
        self._set_node(node_id, pid=proc.pid, state="running")
        return proc.pid

    def _check_alive(self, node_id: int, pid: int) -> None:
        if self._process(node_id, pid) is None:
            self._set_node(node_id, pid=None, state="killed")
            raise BackendError(
                f"node {node_id} exited while starting ({_last_error(self.log_file(node_id))}): "
                f"see {self.log_file(node_id)}"
            )

    def _wait_ready(self, cluster: KraftCluster, pids: Mapping[int, int], deadline: float) -> None:
        """Until every started broker answers Metadata listing all running brokers."""
        pending = dict(pids)
        while pending:
            for node_id, pid in list(pending.items()):
                self._check_alive(node_id, pid)
                node = cluster.node(node_id)
                if not node.is_broker:
                    li = node.listener(CONTROLLER_LISTENER)
                    if port_open(li.host, li.port):
                        del pending[node_id]
                    continue
                li = node.listener(BROKER_LISTENER)
                if not port_open(li.host, li.port):
                    continue
                expected = {n for n, st in self._states().items() if st == "running"}
                expected &= {b.node_id for b in cluster.brokers}
                try:
                    md = fetch_metadata((li.host, li.port), timeout=3.0)
                except BackendError:
                    continue
                if expected <= md.broker_ids:
                    del pending[node_id]
            if not pending:
                return
            if time.monotonic() > deadline:
                waiting = ", ".join(str(n) for n in sorted(pending))
                raise BackendError(
                    f"node(s) {waiting} not ready after {self.ready_timeout:g}s: "
                    f"see {self.logs_dir}"
                )
            time.sleep(0.2)

    def _states(self) -> dict[int, NodeState]:
        state = self._load_state() or {"nodes": {}}
        return {int(n): self._node_state(int(n), info)[0] for n, info in state["nodes"].items()}

    def _node_process(self, node_id: int) -> psutil.Process | None:
        """The live process of ``node_id``; a clear error if the cluster has no such node."""
        state = self._load_state()
        if state is None:
            raise BackendError(f"no jvm cluster in {self.data_dir}: call up() first")
        if str(node_id) not in state["nodes"]:
            known = ", ".join(sorted(state["nodes"], key=int))
            raise BackendError(f"no node {node_id} in this cluster (nodes: {known})")
        return self._process(node_id, state["nodes"][str(node_id)].get("pid"))

    def _signal(self, node_id: int, sig: signal.Signals) -> psutil.Process | None:
        proc = self._node_process(node_id)
        if proc is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(sig)
        return proc

    def _wait_gone(self, node_id: int, proc: psutil.Process, timeout: float) -> bool:
        """Wait until the process has exited completely (and reap it if it is our child)."""
        child = self._children.get(proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child is not None:
                if child.poll() is not None:
                    self._children.pop(proc.pid, None)
                    return True
            elif _exited(proc):
                return True
            time.sleep(0.05)
        return False

    # -- the Backend interface ---------------------------------------------------------------

    def up(self) -> ClusterStatus:
        t0 = time.monotonic()
        java = find_java(self.java)
        find_kafka_jar(self.jars_dir)
        state = self._load_state()
        if state is None:
            state = self._new_state()
        elif state["brokers"] != self.brokers or state["mode"] != self.mode:
            raise BackendError(
                f"{self.data_dir} holds a {state['brokers']}-broker {state['mode']} cluster: "
                f"use brokers={state['brokers']}, mode={state['mode']!r} or another data_dir"
            )
        state["java"] = java
        state["jars_dir"] = str(self.jars_dir)
        state["kafka_version"] = find_kafka_jar(self.jars_dir)[1]
        self._save_state(state)
        cluster = self._plan(state)
        self._write_configs(cluster)

        to_start = [
            n.node_id
            for n in cluster.nodes
            if self._node_state(n.node_id, state["nodes"][str(n.node_id)])[0]
            in ("stopped", "killed")
        ]
        for node_id, st in self._states().items():
            if st == "paused":
                self.resume(node_id)
        self._format(cluster, to_start)
        # Controllers first: brokers then find a quorum at once.
        to_start.sort(key=lambda n: (cluster.node(n).is_broker, n))
        pids = {node_id: self._spawn(node_id) for node_id in to_start}
        # Nodes that were running already must answer too: that is what reattaching checks.
        for key, info in (self._load_state() or {"nodes": {}})["nodes"].items():
            if int(key) not in pids and info.get("pid"):
                pids[int(key)] = info["pid"]
        self._wait_ready(cluster, pids, t0 + self.ready_timeout)
        self.last_up_seconds = time.monotonic() - t0
        return self.status()

    def down(self) -> None:
        """SIGTERM every node and wait (SIGKILL after `stop_timeout`).

        Pure brokers go first, all together: their controlled shutdown needs a live controller
        quorum. Then every node that is a controller (in combined mode, all of them) together.
        """
        state = self._load_state()
        if state is None:
            return
        cluster = self._plan(state)
        phases = [
            [n.node_id for n in cluster.nodes if not n.is_controller],
            [n.node_id for n in cluster.nodes if n.is_controller],
        ]
        for phase in phases:
            procs: dict[int, psutil.Process] = {}
            for node_id in phase:
                proc = self._process(node_id, state["nodes"][str(node_id)].get("pid"))
                if proc is None:
                    continue
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.send_signal(signal.SIGCONT)  # a paused JVM cannot act on SIGTERM
                    proc.send_signal(signal.SIGTERM)
                procs[node_id] = proc
            deadline = time.monotonic() + self.stop_timeout
            for node_id, proc in procs.items():
                if not self._wait_gone(node_id, proc, max(0.0, deadline - time.monotonic())):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        proc.kill()
                    self._wait_gone(node_id, proc, 10.0)
        for key in state["nodes"]:
            state["nodes"][key].update(pid=None, state="stopped")
            (self.data_dir / f"node-{key}.pid").unlink(missing_ok=True)
        self._save_state(state)

    def status(self) -> ClusterStatus:
        state = self._load_state()
        if state is None:
            return ClusterStatus(backend=self.name, nodes=(), data_dir=str(self.data_dir))
        cluster = self._plan(state)
        nodes: list[NodeStatus] = []
        for node in cluster.nodes:
            st, pid = self._node_state(node.node_id, state["nodes"][str(node.node_id)])
            if node.is_broker:
                li = node.listener(BROKER_LISTENER)
                nodes.append(NodeStatus(node.node_id, "broker", li.host, li.port, pid, st))
            if node.is_controller:
                li = node.listener(CONTROLLER_LISTENER)
                nodes.append(NodeStatus(node.node_id, "controller", li.host, li.port, pid, st))
        nodes.sort(key=lambda n: (n.role != "controller", n.node_id))
        return ClusterStatus(backend=self.name, nodes=tuple(nodes), data_dir=str(self.data_dir))

    def kill(self, node_id: int) -> None:
        proc = self._signal(node_id, signal.SIGKILL)
        if proc is not None:
            self._wait_gone(node_id, proc, 10.0)
        self._set_node(node_id, pid=None, state="killed")

    def stop(self, node_id: int) -> None:
        proc = self._signal(node_id, signal.SIGCONT)
        if proc is None:
            self._set_node(node_id, pid=None, state="stopped")
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGTERM)
        if not self._wait_gone(node_id, proc, self.stop_timeout):
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
            self._wait_gone(node_id, proc, 10.0)
            self._set_node(node_id, pid=None, state="killed")
            raise BackendError(
                f"node {node_id} did not stop within {self.stop_timeout:g}s and was killed"
            )
        self._set_node(node_id, pid=None, state="stopped")

    def start(self, node_id: int) -> None:
        state = self._load_state()
        if state is None:
            raise BackendError(f"no jvm cluster in {self.data_dir}: call up() first")
        if str(node_id) not in state["nodes"]:
            raise BackendError(f"no node {node_id} in this cluster")
        st, _ = self._node_state(node_id, state["nodes"][str(node_id)])
        if st == "running":
            return
        if st == "paused":
            raise BackendError(f"node {node_id} is paused: resume({node_id}) it instead")
        cluster = self._plan(state)
        self._write_configs(cluster)
        self._format(cluster, [node_id])
        t0 = time.monotonic()
        pid = self._spawn(node_id)
        self._wait_ready(cluster, {node_id: pid}, t0 + self.ready_timeout)

    def pause(self, node_id: int) -> None:
        self._set_paused(node_id, True)
        self._set_node(node_id, state="paused")

    def resume(self, node_id: int) -> None:
        self._set_paused(node_id, False)
        self._set_node(node_id, state="running")

    def _set_paused(self, node_id: int, paused: bool) -> None:
        proc = self._node_process(node_id)
        if proc is None:
            raise BackendError(f"node {node_id} is not running")
        with contextlib.suppress(psutil.NoSuchProcess):
            set_paused(proc, paused)

    # -- extras ------------------------------------------------------------------------------

    def rss(self) -> dict[int, int]:
        """Resident memory in bytes of every running node's JVM."""
        state = self._load_state() or {"nodes": {}}
        result = {}
        for key, info in state["nodes"].items():
            proc = self._process(int(key), info.get("pid"))
            if proc is not None:
                with contextlib.suppress(psutil.Error):
                    result[int(key)] = proc.memory_info().rss
        return result

    def tool_command(self, main_class: str, *args: str) -> list[str]:
        """A `java` command line for one of Kafka's tools with this cluster's jars, e.g.
        `tool_command("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", b, "--list")`.
        """
        return [
            find_java(self.java),
            "-Xmx256m",
            "-XX:+UseSerialGC",
            f"-Dlog4j2.configurationFile={self.data_dir / 'config' / 'tools-log4j2.properties'}",
            "-cp",
            str(self.jars_dir / "*"),
            main_class,
            *args,
        ]


def _exited(proc: psutil.Process) -> bool:
    """True once `proc` has exited completely; a child of ours is reaped on the way.

    A JVM whose main thread has ended shows as a zombie while its other threads still shut
    down, so "zombie" alone does not mean gone: for our own child, gone means reapable; for
    another process's child, a zombie with no thread left.
    """
    try:
        if proc.status() != psutil.STATUS_ZOMBIE:
            return False
        parent = proc.ppid()
    except psutil.NoSuchProcess:
        return True
    if parent == os.getpid():
        try:
            pid, _ = os.waitpid(proc.pid, os.WNOHANG)
        except ChildProcessError:
            return True  # reaped already (by a Popen object, say)
        return pid != 0
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text()
    except OSError:
        return True
    threads = re.search(r"^Threads:\s*(\d+)", status, re.MULTILINE)
    return threads is None or int(threads.group(1)) <= 1


def _config_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no output"
    return lines[-1].strip()[:300] if lines else "no output"


def _last_error(path: Path) -> str:
    """The last ERROR/FATAL line of a Kafka log, or its last line."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    for line in reversed(lines):
        if "] ERROR " in line or "] FATAL " in line:
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "empty log"
