"""The bundled backend: a Kafka cluster made of local Python processes.

One controller (node id 0) and N brokers (ids 1..N), each its own OS process bound to 127.0.0.1.
They are started detached (a session of their own, output to ``D/logs/<name>.log``), so they
outlive the terminal or notebook kernel that started them. The data directory ``D`` *is* the
cluster: ``D/cluster.json`` records its ports, pids and configs, and ``D/controller`` and
``D/broker-<id>`` hold each node's data, so the next ``up`` brings back the same cluster.

>>> backend = BundledBackend(data_dir="/tmp/kb-demo", brokers=3)     # doctest: +SKIP
>>> print(backend.up())                                              # doctest: +SKIP
ROLE         ID ADDRESS                    PID  STATE
controller    0 127.0.0.1:9095           4711  running
broker        1 127.0.0.1:9092           4712  running
...
bootstrap: 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
>>> backend.kill(2); backend.start(2); backend.down()              # doctest: +SKIP

Two environment variables choose the modules run as ``python -m MODULE`` for each role:
``KAFKABOOK_BROKER_MODULE`` (default ``kafkabook.broker``) and ``KAFKABOOK_CONTROLLER_MODULE``
(default ``kafkabook.broker.controller``). They exist to run an instrumented or stand-in
implementation (the process-management tests use a tiny stand-in node); clients never notice.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import os
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import platformdirs
import psutil

from kafkabook.backends.base import Backend, BackendError, ClusterStatus, NodeState, NodeStatus
from kafkabook.backends.signals import is_paused, set_paused

HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 9092
DEFAULT_BROKERS = 3
MAX_BROKERS = 9
DEFAULT_READY_TIMEOUT = 20.0
DEFAULT_STOP_TIMEOUT = 15.0

CLUSTER_FILE = "cluster.json"
LOCK_FILE = "cluster.lock"
FORMAT_VERSION = 1

DATA_DIR_ENV = "KAFKABOOK_DATA_DIR"
BROKER_MODULE_ENV = "KAFKABOOK_BROKER_MODULE"
CONTROLLER_MODULE_ENV = "KAFKABOOK_CONTROLLER_MODULE"
DEFAULT_BROKER_MODULE = "kafkabook.broker"
DEFAULT_CONTROLLER_MODULE = "kafkabook.broker.controller"

# Readiness polling: a refused connect costs microseconds, so a short sleep keeps `up` close to
# the moment the last broker answers without burning the CPU the starting brokers need.
POLL_INTERVAL = 0.01
# Each (re)start writes this line into the node's log, so an error shows only this run's output.
LOG_MARKER = "=== kafkabook:"
LOG_TAIL_LINES = 20

Role = Literal["broker", "controller"]
# What kafkabook last did to a node; with the process's liveness it gives the NodeState.
Action = Literal["created", "start", "kill", "stop", "pause", "resume", "down"]
_ACTIONS: frozenset[str] = frozenset(
    ("created", "start", "kill", "stop", "pause", "resume", "down"),
)

log = logging.getLogger("kafkabook.backends.bundled")


# -- data directory ---------------------------------------------------------------------------


def default_data_dir() -> Path:
    """``$KAFKABOOK_DATA_DIR`` if set, else ``<user cache dir>/kafkabook/cluster``.

    >>> os.environ["KAFKABOOK_DATA_DIR"] = "/tmp/kb"; default_data_dir()   # doctest: +SKIP
    PosixPath('/tmp/kb')
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("kafkabook")) / "cluster"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """The absolute data directory: the one given, or `default_data_dir()`.

    Absolute because the path is matched against process command lines (the pid-reuse guard).
    """
    path = default_data_dir() if data_dir is None else Path(data_dir).expanduser()
    return path.resolve()


# -- ports ------------------------------------------------------------------------------------


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on ``host:port`` right now.

    >>> port_is_free(9092)   # doctest: +SKIP
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Our servers (asyncio) bind with SO_REUSEADDR, so connections of a previous run lingering
        # in TIME_WAIT do not stop them; test the same way, or a restart would see its own
        # leftovers as "taken". A listening socket still makes the bind fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class PortPlan:
    """The ports chosen for a new cluster: brokers first, then the controller.

    ``note`` says why they are not the ones asked for (None when they are).
    """

    ports: tuple[int, ...]
    note: str | None = None


def _first_taken(ports: Sequence[int], host: str) -> int | None:
    return next((p for p in ports if not port_is_free(p, host)), None)


def _check_port_range(base_port: int, count: int) -> None:
    if base_port < 1 or base_port + count - 1 > 65535:
        raise BackendError(
            f"base port {base_port} does not leave room for {count} ports (1-65535)",
        )


def choose_ports(
    count: int,
    base_port: int | None = None,
    *,
    default_base: int = DEFAULT_BASE_PORT,
    host: str = HOST,
) -> PortPlan:
    """Pick ``count`` ports: ``base_port`` upward, or ``default_base`` upward with a fallback.

    With an explicit ``base_port`` a taken port is an error. Without one, a taken default moves
    the cluster to the next contiguous free block (or ports the OS hands out) and the plan's
    note says so.

    >>> choose_ports(4).ports                    # doctest: +SKIP
    (9092, 9093, 9094, 9095)
    """
    if base_port is not None:
        _check_port_range(base_port, count)
        wanted = range(base_port, base_port + count)
        taken = _first_taken(wanted, host)
        if taken is not None:
            raise BackendError(
                f"port {taken} on {host} is taken (--base-port {base_port} needs ports "
                f"{wanted[0]}-{wanted[-1]}); choose another --base-port",
            )
        return PortPlan(tuple(wanted))

    _check_port_range(default_base, count)
    taken = _first_taken(range(default_base, default_base + count), host)
    if taken is None:
        return PortPlan(tuple(range(default_base, default_base + count)))
    # Keep the ports contiguous when we can: "9093-9096" is easier to read (and type) than
    # four random numbers. Skip past each taken port instead of re-testing every base.
    base = taken + 1
    limit = min(65535, default_base + 2000)
    while base + count - 1 <= limit:
        blocked = _first_taken(range(base, base + count), host)
        if blocked is None:
            ports = tuple(range(base, base + count))
            return PortPlan(ports, _moved_note(taken, ports))
        base = blocked + 1
    ports = _ports_from_os(count, host)
    return PortPlan(ports, _moved_note(taken, ports))


def _moved_note(taken: int, ports: Sequence[int]) -> str:
    if list(ports) == list(range(ports[0], ports[0] + len(ports))):
        shown = f"{ports[0]}-{ports[-1]}"
    else:
        shown = ", ".join(map(str, ports))
    return f"port {taken} is taken: using ports {shown} instead (--base-port chooses them)"


def _ports_from_os(count: int, host: str) -> tuple[int, ...]:
    # Hold every socket open until all are bound, or the OS could hand out one port twice.
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((host, 0))
        return tuple(sorted(sock.getsockname()[1] for sock in socks))
    finally:
        for sock in socks:
            sock.close()


# -- cluster.json -----------------------------------------------------------------------------


@dataclass
class NodeRecord:
    """One node as ``cluster.json`` remembers it.

    >>> NodeRecord("broker", 2, 9093).name
    'broker-2'
    """

    role: Role
    node_id: int
    port: int
    pid: int | None = None
    last_action: Action = "created"
    # The module last run for this node: the pid-reuse guard looks for it in the command line.
    module: str | None = None

    @property
    def name(self) -> str:
        """File-system name: ``controller`` or ``broker-<id>`` (data dir and log file)."""
        return "controller" if self.role == "controller" else f"broker-{self.node_id}"

    @property
    def title(self) -> str:
        """How messages name it: ``the controller`` or ``broker 2``."""
        return "the controller" if self.role == "controller" else f"broker {self.node_id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "port": self.port,
            "pid": self.pid,
            "last_action": self.last_action,
            "module": self.module,
        }

    @classmethod
    def from_dict(cls, role: Role, data: Mapping[str, Any]) -> NodeRecord:
        pid = data.get("pid")
        action = data.get("last_action", "created")
        if action not in _ACTIONS:
            raise ValueError(f"unknown last_action {action!r}")
        module = data.get("module")
        return cls(
            role=role,
            node_id=_as_int(data["node_id"], "node_id"),
            port=_as_int(data["port"], "port"),
            pid=None if pid is None else _as_int(pid, "pid"),
            last_action=action,
            module=None if module is None else str(module),
        )


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, not {value!r}")
    return value


@dataclass
class ClusterFile:
    """The contents of ``D/cluster.json``: what identifies a bundled cluster.

    >>> state = ClusterFile.new(brokers=3, ports=[9092, 9093, 9094, 9095])
    >>> [b.port for b in state.brokers], state.controller.port
    ([9092, 9093, 9094], 9095)
    """

    brokers: list[NodeRecord]
    controller: NodeRecord
    configs: dict[str, str] = field(default_factory=dict)
    cluster_id: str | None = None
    host: str = HOST

    @classmethod
    def new(
        cls,
        brokers: int,
        ports: Sequence[int],
        configs: Mapping[str, str] | None = None,
    ) -> ClusterFile:
        """A cluster not started yet: broker i listens on ``ports[i-1]``, the controller last."""
        if len(ports) != brokers + 1:
            raise ValueError(f"{brokers} brokers and a controller need {brokers + 1} ports")
        return cls(
            brokers=[NodeRecord("broker", i, ports[i - 1]) for i in range(1, brokers + 1)],
            controller=NodeRecord("controller", 0, ports[-1]),
            configs=dict(configs or {}),
        )

    @property
    def nodes(self) -> list[NodeRecord]:
        """Controller first, then brokers by id: the order of the status table."""
        return [self.controller, *self.brokers]

    def node(self, node_id: int) -> NodeRecord:
        """The node with this id, or a BackendError naming the ids that exist."""
        for record in self.nodes:
            if record.node_id == node_id:
                return record
        raise BackendError(
            f"no node {node_id} in this cluster: brokers are 1-{len(self.brokers)}, "
            "the controller is 0",
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "cluster_id": self.cluster_id,
                "host": self.host,
                "configs": self.configs,
                "controller": self.controller.to_dict(),
                "brokers": [b.to_dict() for b in self.brokers],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> ClusterFile:
        """Parse; any malformation is a ValueError (callers turn it into a BackendError)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown format {data.get('format')!r} (expected {FORMAT_VERSION})")
        configs = data.get("configs") or {}
        if not isinstance(configs, dict):
            raise ValueError("configs must be an object")
        brokers = [NodeRecord.from_dict("broker", b) for b in data["brokers"]]
        if [b.node_id for b in brokers] != list(range(1, len(brokers) + 1)) or not brokers:
            raise ValueError("broker ids must be 1..N")
        cluster_id = data.get("cluster_id")
        return cls(
            brokers=brokers,
            controller=NodeRecord.from_dict("controller", data["controller"]),
            configs={str(k): str(v) for k, v in configs.items()},
            cluster_id=None if cluster_id is None else str(cluster_id),
            host=str(data.get("host", HOST)),
        )

    @classmethod
    def load(cls, path: Path) -> ClusterFile:
        """Read ``path``; a damaged file is a one-line BackendError, never a traceback."""
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(
                f"{path} is not a kafkabook cluster file ({exc}); move it away or use "
                "another --data-dir",
            ) from exc

    def save(self, path: Path) -> None:
        """Write atomically: a reader (another `kafkabook` command) never sees half a file."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        os.replace(tmp, path)


# -- processes --------------------------------------------------------------------------------

# Popen objects of the nodes this Python process started. Keeping them referenced stops
# `subprocess` from warning about "still running" children, and lets us reap them once they exit
# so that a notebook kernel does not collect zombies.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap(pid: int) -> None:
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.poll()


def _node_process(record: NodeRecord, node_dir: Path) -> psutil.Process | None:
    """The live process of ``record``, or None.

    Pids get reused, so a pid only counts when its command line still names our module and this
    node's data directory. Zombies count as gone (and are reaped when they are our children).
    """
    if record.pid is None:
        return None
    try:
        proc = psutil.Process(record.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            _reap(record.pid)
            return None
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        _reap(record.pid)
        return None
    module = record.module or "kafkabook"
    if str(node_dir) not in cmdline or not any(module in arg for arg in cmdline):
        return None
    return proc


def _derive_state(record: NodeRecord, proc: psutil.Process | None) -> NodeState:
    if proc is not None:
        return "paused" if is_paused(proc) else "running"
    # Dead: "killed" when we killed it, and also when it died while it should have been running
    # (a crash is a kill the user did not ask for); "stopped" after a stop, a down, or never run.
    if record.last_action in ("kill", "start", "pause", "resume"):
        return "killed"
    return "stopped"


def _has_exited(proc: psutil.Process) -> bool:
    child = _CHILDREN.get(proc.pid)
    if child is not None:
        if child.poll() is None:
            return False
        _CHILDREN.pop(proc.pid, None)
        return True
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(procs: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait for ``procs`` to exit (reaping our children); return those still alive.

    A zombie counts as gone. psutil's own wait does not count it for a process that is not our
    child, and waits until whoever adopted it reaps it: up to seconds under some init systems.
    """
    alive = list(procs)
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in alive if not _has_exited(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.005)


def tail_log(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines the node wrote since it was last started ('' if none).

    >>> print(tail_log(Path("/tmp/kb-demo/logs/broker-1.log"), 2))   # doctest: +SKIP
    ... INFO kafkabook.broker: registered with the controller, epoch 3
    ... INFO kafkabook.broker: listening on 127.0.0.1:9092
    """
    try:
        with path.open("rb") as fh:
            fh.seek(0, io.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    marker = text.rfind(LOG_MARKER)
    if marker >= 0:
        text = text[marker:].split("\n", 1)[1] if "\n" in text[marker:] else ""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


class NodeStartError(BackendError):
    """A node died or did not become ready while starting.

    ``str()`` is one line; the log tail is kept in ``log_tail`` and attached as an exception
    note, so a notebook traceback shows it too.
    """

    def __init__(self, message: str, log_path: Path, log_tail: str) -> None:
        super().__init__(message)
        self.log_path = log_path
        self.log_tail = log_tail
        if log_tail:
            self.add_note(f"last lines of {log_path}:\n{log_tail}")


# -- the Kafka Metadata probe -----------------------------------------------------------------


class ProbeError(Exception):
    """A Metadata round trip failed (bad frame, wrong correlation id, peer closed)."""


@contextlib.contextmanager
def _without_hypothesis() -> Iterator[None]:
    """Import kio without the hypothesis integration it loads when hypothesis is installed.

    That integration registers test strategies: on first use in a directory it spends about
    1.5 s of CPU building a Unicode table and writes ``.hypothesis/`` into the current
    directory, while the nodes we just spawned need that CPU. The probe only needs kio's
    serializers. When hypothesis is already imported (a test run) nothing changes.
    """
    if "hypothesis" in sys.modules:
        yield
        return
    sys.modules["hypothesis"] = None  # type: ignore[assignment]  # makes `import` fail
    try:
        yield
    finally:
        if sys.modules.get("hypothesis", ...) is None:
            del sys.modules["hypothesis"]


@cache
def _metadata_codec(version: int) -> tuple[Any, ...]:
    # kio takes a third of a second to import; only pay for it when we probe a broker.
    with _without_hypothesis():
        return _import_metadata_codec(version)


def _import_metadata_codec(version: int) -> tuple[Any, ...]:
    from kio.schema.request_header.v1.header import RequestHeader
    from kio.schema.response_header.v0.header import ResponseHeader
    from kio.serial import entity_reader, entity_writer

    if version == 1:
        from kio.schema.metadata.v1.request import MetadataRequest
        from kio.schema.metadata.v1.response import MetadataResponse
    elif version == 2:
        from kio.schema.metadata.v2.request import MetadataRequest
        from kio.schema.metadata.v2.response import MetadataResponse
    else:
        raise ValueError(f"Metadata v{version} is not supported by the probe (1 or 2)")
    return (
        RequestHeader,
        entity_writer(RequestHeader),
        MetadataRequest,
        entity_writer(MetadataRequest),
        entity_reader(ResponseHeader),
        entity_reader(MetadataResponse),
    )


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ProbeError("connection closed by the broker")
        chunks += chunk
    return bytes(chunks)


def request_metadata(
    host: str,
    port: int,
    *,
    version: int = 1,
    timeout: float = 2.0,
    correlation_id: int = 1,
) -> Any:
    """One Kafka Metadata round trip asking for no topics; returns kio's MetadataResponse.

    Raises OSError when the broker cannot be reached, ProbeError when its answer is not one.

    >>> [b.node_id for b in request_metadata("127.0.0.1", 9092).brokers]   # doctest: +SKIP
    [1, 2, 3]
    """
    from kio.static.primitive import i16, i32

    header_t, write_header, request_t, write_request, read_header, read_response = _metadata_codec(
        version
    )
    body = io.BytesIO()
    write_header(
        body,
        header_t(
            request_api_key=i16(request_t.__api_key__),
            request_api_version=i16(version),
            correlation_id=i32(correlation_id),
            client_id="kafkabook-probe",
        ),
    )
    # An empty topic list (not null, which means "all topics") keeps the answer tiny.
    write_request(body, request_t(topics=()))
    payload = body.getvalue()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
        if not 0 < size <= 64 * 1024 * 1024:
            raise ProbeError(f"implausible response size {size}")
        frame = _recv_exactly(sock, size)
    try:
        header, used = read_header(frame, 0)
        response, _ = read_response(frame, used)
    except Exception as exc:  # kio raises several types on malformed input
        raise ProbeError(f"undecodable Metadata v{version} response: {exc}") from exc
    if header.correlation_id != correlation_id:
        raise ProbeError(f"correlation id {header.correlation_id} != {correlation_id}")
    return response


# -- the backend ------------------------------------------------------------------------------


class BundledBackend(Backend):
    """A cluster of local Python processes (one controller, N brokers) kept in ``data_dir``.

    ``brokers`` and ``base_port`` default to what the data directory already holds, or to 3
    brokers on ports 9092 upward for a new cluster. ``configs`` (Kafka configs, ``{"k": "v"}``)
    reach every process; None keeps the recorded ones. ``on_event`` receives progress lines
    ("started ... in 0.6 s", "port 9092 is taken ..."); by default they go to the logger.

    >>> backend = BundledBackend(data_dir="/tmp/kb-demo", brokers=1)   # doctest: +SKIP
    >>> backend.up().bootstrap                                        # doctest: +SKIP
    '127.0.0.1:9092'
    >>> backend.pause(1); backend.status().brokers[0].state           # doctest: +SKIP
    'paused'
    """

    name = "bundled"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        brokers: int | None = None,
        base_port: int | None = None,
        configs: Mapping[str, str] | None = None,
        *,
        ready_timeout: float = DEFAULT_READY_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        if brokers is not None and not 1 <= brokers <= MAX_BROKERS:
            raise BackendError(f"a bundled cluster has 1 to {MAX_BROKERS} brokers, not {brokers}")
        if base_port is not None:
            _check_port_range(base_port, (brokers or DEFAULT_BROKERS) + 1)
        self.data_dir = resolve_data_dir(data_dir)
        self.brokers = brokers
        self.base_port = base_port
        self.configs = None if configs is None else {str(k): str(v) for k, v in configs.items()}
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self._on_event = on_event
        self._lock_depth = 0

    def __repr__(self) -> str:
        return f"BundledBackend(data_dir={str(self.data_dir)!r})"

    # -- paths and small helpers ---------------------------------------------------------------

    @property
    def cluster_file(self) -> Path:
        return self.data_dir / CLUSTER_FILE

    def node_dir(self, record: NodeRecord) -> Path:
        """Where a node keeps its data: ``D/controller`` or ``D/broker-<id>``."""
        return self.data_dir / record.name

    def log_path(self, record: NodeRecord) -> Path:
        """Where a node's stdout and stderr go: ``D/logs/<name>.log``."""
        return self.data_dir / "logs" / f"{record.name}.log"

    def log_tail(self, node_id: int, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines node ``node_id`` logged since its last start (for notebooks).

        >>> print(BundledBackend("/tmp/kb-demo").log_tail(1))   # doctest: +SKIP
        """
        return tail_log(self.log_path(self._load().node(node_id)), lines)

    @property
    def cluster_id(self) -> str | None:
        """The id the brokers report (Metadata v2+), as recorded at the last start."""
        return self._load().cluster_id

    @property
    def bootstrap(self) -> str:
        # The ports are fixed for the life of the data dir: no need to look at processes.
        state = self._load()
        return ",".join(f"{state.host}:{b.port}" for b in state.brokers)

    def _emit(self, message: str) -> None:
        if self._on_event is not None:
            self._on_event(message)
        else:
            log.info(message)

    def _hint(self, command: str) -> str:
        # Suggest a command the user can paste: name the data dir only when it is not the default.
        if self.data_dir != resolve_data_dir(None):
            command += f" --data-dir {shlex.quote(str(self.data_dir))}"
        return f"`{command}`"

    def _load(self) -> ClusterFile:
        if not self.cluster_file.exists():
            raise BackendError(
                f"no cluster in {self.data_dir}: {self._hint('kafkabook cluster up')} starts one",
            )
        return ClusterFile.load(self.cluster_file)

    def _save(self, state: ClusterFile) -> None:
        state.save(self.cluster_file)

    @contextlib.contextmanager
    def _locked(self, create: bool = False) -> Iterator[None]:
        """Serialize commands on one data dir (a terminal and a notebook may both drive it)."""
        if self._lock_depth:
            yield
            return
        if create:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        elif not self.cluster_file.exists():
            self._load()  # raises the "no cluster" error
        with open(self.data_dir / LOCK_FILE, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1

    def _process(self, record: NodeRecord) -> psutil.Process | None:
        return _node_process(record, self.node_dir(record))

    def _module(self, role: Role) -> str:
        if role == "broker":
            return os.environ.get(BROKER_MODULE_ENV) or DEFAULT_BROKER_MODULE
        return os.environ.get(CONTROLLER_MODULE_ENV) or DEFAULT_CONTROLLER_MODULE

    def _status_of(self, state: ClusterFile) -> ClusterStatus:
        nodes = []
        for record in state.nodes:
            proc = self._process(record)
            nodes.append(
                NodeStatus(
                    node_id=record.node_id,
                    role=record.role,
                    host=state.host,
                    port=record.port,
                    pid=proc.pid if proc is not None else None,
                    state=_derive_state(record, proc),
                ),
            )
        return ClusterStatus(backend=self.name, nodes=tuple(nodes), data_dir=str(self.data_dir))

    # -- Backend interface -----------------------------------------------------------------------

    def status(self) -> ClusterStatus:
        """Every node with its port, pid and state (running, paused, stopped, killed)."""
        return self._status_of(self._load())

    def up(self) -> ClusterStatus:
        """Start the cluster, restart it from its data, or reattach to it if it is running.

        Returns once every broker answers Metadata listing all brokers.
        """
        began = time.monotonic()
        with self._locked(create=True):
            if self.cluster_file.exists():
                state = self._load()
                self._check_same_shape(state)
                alive = [r for r in state.nodes if self._process(r) is not None]
                if alive:
                    return self._reattach(state)
                if self.configs is not None and self.configs != state.configs:
                    state.configs = dict(self.configs)
                    self._emit(f"configs for this start: {_show_configs(state.configs)}")
                self._check_ports_free(state)
                fresh = False
            else:
                self._check_new_dir()
                brokers = self.brokers or DEFAULT_BROKERS
                plan = choose_ports(brokers + 1, self.base_port)
                if plan.note:
                    self._emit(plan.note)
                state = ClusterFile.new(brokers, plan.ports, self.configs)
                fresh = True
            self._start_nodes(state, state.nodes, {b.node_id for b in state.brokers}, fresh=fresh)
            self._record_cluster_id(state)
            elapsed = time.monotonic() - began
            what = f"the controller and {len(state.brokers)} broker(s)"
            verb = "started" if fresh else "restarted (with their data)"
            self._emit(f"{verb} {what} in {elapsed:.2f} s; data in {self.data_dir}")
            return self._status_of(state)

    def down(self) -> None:
        """Stop every node: brokers first (controlled shutdown), then the controller.

        Each gets SIGTERM and ``stop_timeout`` seconds to exit before SIGKILL. Data stays.
        """
        with self._locked():
            state = self._load()
            stopped = 0
            for group in (state.brokers, [state.controller]):
                running = [(r, p) for r in group if (p := self._process(r)) is not None]
                stopped += len(running)
                self._terminate(running, self.stop_timeout, escalate=True)
            for record in state.nodes:
                record.pid = None
                record.last_action = "down"
            self._save(state)
        if stopped:
            self._emit(f"stopped {stopped} process(es); the data stays in {self.data_dir}")
        else:
            self._emit(f"nothing was running in {self.data_dir}")

    def kill(self, node_id: int) -> None:
        """SIGKILL a node (a crash): no controlled shutdown, the log may end mid-batch."""
        with self._locked():
            state = self._load()
            record, proc = self._running(state, node_id)
            proc.send_signal(signal.SIGKILL)
            if _wait_gone([proc], 5.0):
                raise BackendError(f"{record.title} (pid {proc.pid}) survived SIGKILL for 5 s")
            record.pid = None
            record.last_action = "kill"
            self._save(state)
        self._emit(f"killed {record.title} (SIGKILL)")

    def stop(self, node_id: int) -> None:
        """SIGTERM a node and wait for it to exit (brokers shut down in a controlled way)."""
        with self._locked():
            state = self._load()
            record, proc = self._running(state, node_id)
            self._terminate([(record, proc)], self.stop_timeout, escalate=False)
            record.pid = None
            record.last_action = "stop"
            self._save(state)
        self._emit(f"stopped {record.title}")

    def start(self, node_id: int) -> None:
        """Start a stopped or killed node again, on its port and with its data."""
        with self._locked():
            state = self._load()
            record = state.node(node_id)
            proc = self._process(record)
            if proc is not None:
                if is_paused(proc):
                    raise BackendError(
                        f"{record.title} is paused (pid {proc.pid}): "
                        f"{self._hint(f'kafkabook broker resume {node_id}')} continues it",
                    )
                raise BackendError(f"{record.title} is already running (pid {proc.pid})")
            if record.role == "broker" and self._process(state.controller) is None:
                raise BackendError(
                    "the controller is not running: start it first with "
                    f"{self._hint('kafkabook broker start 0')}",
                )
            self._check_ports_free(state, [record])
            began = time.monotonic()
            wanted = {node_id} if record.role == "broker" else set()
            self._start_nodes(state, [record], wanted, fresh=False)
        self._emit(f"started {record.title} in {time.monotonic() - began:.2f} s")

    def pause(self, node_id: int) -> None:
        """SIGSTOP a node: it hangs with its sockets open, as a stuck JVM or a GC pause would."""
        with self._locked():
            state = self._load()
            record, proc = self._running(state, node_id)
            set_paused(proc, True)
            record.last_action = "pause"
            self._save(state)
        self._emit(f"paused {record.title} (SIGSTOP)")

    def resume(self, node_id: int) -> None:
        """SIGCONT a paused node."""
        with self._locked():
            state = self._load()
            record, proc = self._running(state, node_id)
            set_paused(proc, False)
            record.last_action = "resume"
            self._save(state)
        self._emit(f"resumed {record.title} (SIGCONT)")

    # -- internals ---------------------------------------------------------------------------------

    def _running(self, state: ClusterFile, node_id: int) -> tuple[NodeRecord, psutil.Process]:
        record = state.node(node_id)
        proc = self._process(record)
        if proc is None:
            raise BackendError(
                f"{record.title} is not running (it is {_derive_state(record, None)}): "
                f"{self._hint(f'kafkabook broker start {node_id}')} starts it",
            )
        return record, proc

    def _check_same_shape(self, state: ClusterFile) -> None:
        if self.brokers is not None and self.brokers != len(state.brokers):
            raise BackendError(
                f"{self.data_dir} holds a {len(state.brokers)}-broker cluster, not "
                f"{self.brokers}: use another --data-dir for a {self.brokers}-broker cluster",
            )
        if self.base_port is not None and self.base_port != state.brokers[0].port:
            raise BackendError(
                f"the cluster in {self.data_dir} uses ports from {state.brokers[0].port}, not "
                f"{self.base_port}: a cluster keeps its ports (use another --data-dir)",
            )

    def _check_new_dir(self) -> None:
        # Refuse to fill a directory that is not ours: `--data-dir ~` would otherwise scatter
        # broker directories over a home directory.
        ours = {CLUSTER_FILE, LOCK_FILE, "logs", "controller"}
        ours |= {f"broker-{i}" for i in range(1, MAX_BROKERS + 1)}
        foreign = sorted(p.name for p in self.data_dir.iterdir() if p.name not in ours)
        if foreign:
            raise BackendError(
                f"{self.data_dir} is not empty and holds no {CLUSTER_FILE} (found {foreign[0]!r}):"
                " choose a new or empty --data-dir",
            )

    def _reattach(self, state: ClusterFile) -> ClusterStatus:
        if self.configs is not None and self.configs != state.configs:
            raise BackendError(
                f"the cluster in {self.data_dir} is running with other configs "
                f"({_show_configs(state.configs)}): {self._hint('kafkabook cluster down')} first",
            )
        status = self._status_of(state)
        down = [n for n in status.nodes if n.state != "running"]
        message = f"reattached to the running cluster in {self.data_dir} (started nothing)"
        if down:
            message += "; not running: " + ", ".join(
                f"{'controller' if n.role == 'controller' else 'broker'} {n.node_id} ({n.state})"
                for n in down
            )
        self._emit(message)
        return status

    def _check_ports_free(self, state: ClusterFile, records: Sequence[NodeRecord] = ()) -> None:
        for record in records or state.nodes:
            if not port_is_free(record.port, state.host):
                raise BackendError(
                    f"port {record.port} of {record.title} is taken by another program; "
                    f"the cluster in {self.data_dir} needs it back",
                )

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Logs must reach the file as they are written: they are what a failing start shows.
        env["PYTHONUNBUFFERED"] = "1"
        # kio loads hypothesis when it is installed (test setups), and hypothesis caches a
        # Unicode table in `.hypothesis/` under the current directory, costing ~1.5 s of CPU
        # per process whenever that directory is new. One shared cache keeps the node data
        # directories clean and pays that cost once per machine instead of once per node.
        env.setdefault(
            "HYPOTHESIS_STORAGE_DIRECTORY",
            str(Path(platformdirs.user_cache_dir("kafkabook")) / "hypothesis"),
        )
        # Run the same kafkabook as ours, even from a source tree that was never pip-installed.
        package_root = str(Path(__file__).resolve().parents[2])
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([package_root, *paths])
        return env

    def _spawn(self, state: ClusterFile, record: NodeRecord, env: Mapping[str, str]) -> None:
        module = self._module(record.role)
        node_dir = self.node_dir(record)
        node_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", module, "--node-id", str(record.node_id)]
        argv += ["--port", str(record.port)]
        if record.role == "broker":
            argv += ["--controller", f"{state.host}:{state.controller.port}"]
        argv += ["--data-dir", str(node_dir)]
        for key, value in state.configs.items():
            argv += ["--config", f"{key}={value}"]
        log_path = self.log_path(record)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        with log_path.open("ab") as log_file:
            log_file.write(f"{LOG_MARKER} {stamp} {shlex.join(argv)}\n".encode())
            log_file.flush()
            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=node_dir,
                env=dict(env),
                # Its own session: Ctrl-C in the terminal or a kernel restart does not reach it.
                start_new_session=True,
            )
        _CHILDREN[child.pid] = child
        record.pid = child.pid
        record.module = module
        record.last_action = "start"

    def _start_nodes(
        self,
        state: ClusterFile,
        records: Sequence[NodeRecord],
        wanted: set[int],
        *,
        fresh: bool,
    ) -> None:
        """Spawn ``records`` all at once and wait until they are ready; undo everything if not.

        A broker is ready when it answers Metadata listing ``wanted`` broker ids (all of them
        for ``up``: a client can then use the whole cluster at once). A controller started on
        its own is ready when it accepts connections.
        """
        self._save(state)  # ports and configs are on disk before any process exists
        env = self._child_env()
        try:
            for record in records:
                self._spawn(state, record, env)
        finally:
            self._save(state)  # pids are on disk even if a later spawn failed
        deadline = time.monotonic() + self.ready_timeout
        try:
            self._await_ready(state, records, wanted, deadline)
        except BaseException:
            # Leave nothing half-started behind, including on Ctrl-C.
            running = [(r, p) for r in records if (p := self._process(r)) is not None]
            self._terminate(running, 2.0, escalate=True)
            for record in records:
                record.pid = None
                record.last_action = "down" if fresh else "stop"
            if fresh:
                # The cluster never existed: forget its ports so a retry starts from scratch.
                self.cluster_file.unlink(missing_ok=True)
            else:
                self._save(state)
            raise

    def _await_ready(
        self,
        state: ClusterFile,
        records: Sequence[NodeRecord],
        wanted: set[int],
        deadline: float,
    ) -> None:
        brokers = [r for r in records if r.role == "broker"]
        # Processes that must stay alive meanwhile: those we started, and the controller the
        # brokers depend on.
        watched = list(records)
        if brokers and state.controller not in watched:
            watched.append(state.controller)
        probes: list[NodeRecord] = brokers or list(records)
        if brokers:
            _metadata_codec(1)  # import kio now, while the processes start, not in N threads
        stop = threading.Event()
        last_seen: dict[int, str] = {}

        def probe(record: NodeRecord) -> bool:
            need = wanted or {record.node_id}
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                try:
                    if record.role == "controller":
                        with socket.create_connection((state.host, record.port), timeout=0.5):
                            return True
                    response = request_metadata(
                        state.host, record.port, timeout=min(1.0, remaining)
                    )
                    seen = {int(b.node_id) for b in response.brokers}
                    if need <= seen:
                        return True
                    last_seen[record.node_id] = (
                        f"answered Metadata listing brokers {sorted(seen)}, "
                        f"not yet all of {sorted(need)}"
                    )
                except (OSError, ProbeError) as exc:
                    last_seen[record.node_id] = f"last attempt: {exc}"
                stop.wait(POLL_INTERVAL)
            return False

        with ThreadPoolExecutor(len(probes), thread_name_prefix="kafkabook-ready") as pool:
            futures = {pool.submit(probe, r): r for r in probes}
            pending = set(futures)
            try:
                while pending:
                    done, pending = wait_futures(
                        pending, timeout=POLL_INTERVAL, return_when=FIRST_COMPLETED
                    )
                    for future in done:
                        if not future.result():
                            record = futures[future]
                            raise self._start_error(
                                record,
                                f"{record.title} did not get ready within "
                                f"{self.ready_timeout:g} s "
                                f"({last_seen.get(record.node_id, 'no answer')})",
                            )
                    for record in watched:
                        self._check_alive(record)
            finally:
                stop.set()

    def _check_alive(self, record: NodeRecord) -> None:
        child = _CHILDREN.get(record.pid or -1)
        if child is not None:
            code = child.poll()
            if code is None:
                return
            _CHILDREN.pop(child.pid, None)
            what = f"exited with code {code}" if code >= 0 else f"died of signal {-code}"
        elif self._process(record) is not None:
            return
        else:
            what = "is gone"
        raise self._start_error(record, f"{record.title} {what} while starting")

    def _start_error(self, record: NodeRecord, message: str) -> NodeStartError:
        path = self.log_path(record)
        return NodeStartError(f"{message}; its log is {path}", path, tail_log(path))

    def _terminate(
        self,
        targets: Sequence[tuple[NodeRecord, psutil.Process]],
        timeout: float,
        *,
        escalate: bool,
    ) -> None:
        """SIGTERM ``targets`` together, wait, and SIGKILL the stragglers if ``escalate``."""
        if not targets:
            return
        for _record, proc in targets:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGTERM)
                # A paused process would hold the SIGTERM until resumed: resume it to handle it.
                proc.send_signal(signal.SIGCONT)
        alive = _wait_gone([p for _r, p in targets], timeout)
        if not alive:
            return
        names = ", ".join(r.title for r, p in targets if p in alive)
        if not escalate:
            raise BackendError(
                f"{names} did not exit within {timeout:g} s of SIGTERM "
                "(kill forces it; see its log for what it is waiting for)",
            )
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        if _wait_gone(alive, 5.0):
            raise BackendError(f"{names} survived SIGKILL for 5 s")
        self._emit(f"{names} did not exit within {timeout:g} s of SIGTERM: killed (SIGKILL)")

    def _record_cluster_id(self, state: ClusterFile) -> None:
        # Metadata v2 is the first version that carries the cluster id. Recording it is a
        # courtesy for `status`; a broker that cannot say it does not fail the start.
        try:
            response = request_metadata(state.host, state.brokers[0].port, version=2)
        except (OSError, ProbeError) as exc:
            log.debug("could not read the cluster id: %s", exc)
            return
        cluster_id = response.cluster_id
        if cluster_id and state.cluster_id and cluster_id != state.cluster_id:
            self._emit(
                f"the cluster id changed from {state.cluster_id} to {cluster_id}: "
                "the controller did not find its old metadata",
            )
        if cluster_id:
            state.cluster_id = cluster_id
            self._save(state)


def _show_configs(configs: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in configs.items()) or "none"
