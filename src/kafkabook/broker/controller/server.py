"""The controller process: owns the metadata log and answers the brokers' JSON RPC.

:class:`Controller` holds the decisions (which records to write for each request or event) and
:class:`ControllerServer` the sockets and timers. Everything runs on one asyncio loop and every
request handler except the ``fetch_metadata`` long poll is synchronous, so each request reads
the image, decides, appends its records and applies them without interleaving with any other:
no locks are needed. The only blocking I/O is the small append+flush of the metadata log.

Broker lifecycle, as in KRaft:

* ``register`` writes ``register_broker`` and ``broker_state(fenced=true)``. The broker epoch is
  the offset of the ``register_broker`` record.
* A heartbeat whose ``metadata_offset`` has reached that offset unfences the broker, and
  partitions left without a leader that it can lead get one.
* No heartbeat for ``broker.session.timeout.ms`` fences the broker: it leaves every ISR (unless
  it is the last member) and every partition it led elects a new leader.
* ``want_shutdown`` starts a controlled shutdown: leadership moves away first and the broker is
  told ``shutdown_ok`` once it leads nothing and the live brokers have seen the moves.
* With ``auto.leader.rebalance.enable``, every ``leader.imbalance.check.interval.seconds``
  leadership goes back to preferred replicas that are live and in the ISR.

>>> import tempfile
>>> c = Controller(tempfile.mkdtemp(), cluster_id="demo")
>>> c.start()
>>> c.handle_sync({"id": 1, "op": "describe_quorum"})["leader_epoch"]
1
>>> c.close()
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import inspect
import json
import logging
import math
import random
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from kafkabook.broker.controller.election import (
    AlterPartitionError,
    alter_isr,
    elect_leader,
    elect_preferred,
    remove_broker,
    validate_alter_partition,
)
from kafkabook.broker.controller.metadata_log import LogEntry, MetadataLog
from kafkabook.broker.controller.placement import (
    PlacementError,
    normalize_assignments,
    place_additional_partitions,
    place_new_topic,
    validate_assignment,
)
from kafkabook.broker.controller.rpc import FrameError, RequestError, read_frame, write_frame
from kafkabook.broker.state import (
    BROKER_RESOURCE,
    NO_LEADER,
    TOPIC_RESOURCE,
    MetadataImage,
    PartitionState,
    TopicImage,
)
from kafkabook.broker.topics import collides, topic_name_error

log = logging.getLogger("kafkabook.controller")

# Producer ids are handed out in blocks of this size, as Kafka does (KIP-730).
PRODUCER_ID_BLOCK_SIZE = 1000

#: Controller settings and their bundled defaults. Two differ from Kafka's on purpose, so that a
#: failover is visible within a lesson: broker.session.timeout.ms (Kafka: 9000) and
#: leader.imbalance.check.interval.seconds (Kafka: 300). default.replication.factor is absent:
#: unset, the bundled cluster uses min(3, live brokers) where Kafka uses 1.
DEFAULT_CONFIGS: dict[str, str] = {
    "broker.session.timeout.ms": "2000",
    "auto.leader.rebalance.enable": "true",
    "leader.imbalance.check.interval.seconds": "5",
    "num.partitions": "1",
    "unclean.leader.election.enable": "false",
}

#: How long after a session deadline the controller checks it (timer slack, seconds).
SESSION_CHECK_MARGIN_S = 0.002

#: Largest number of records one fetch_metadata answer carries.
MAX_FETCH_RECORDS = 1000
#: Longest a fetch_metadata long poll may wait, whatever the broker asks.
MAX_FETCH_WAIT_MS = 60_000

_UNKNOWN_PARTITION = "This server does not host this topic-partition."


def validate_topic_name(name: str) -> None:
    """Raise ``INVALID_TOPIC_EXCEPTION`` with Kafka's message if ``name`` is not a legal topic.

    >>> validate_topic_name("orders.v1")
    >>> validate_topic_name("orders!")
    Traceback (most recent call last):
    ...
    kafkabook.broker.controller.rpc.RequestError: Topic name "orders!" is illegal, it contains \
a character other than ASCII alphanumerics, '.', '_' and '-'
    """
    problem = topic_name_error(name)
    if problem:
        raise RequestError("INVALID_TOPIC_EXCEPTION", problem)


def _as_bool(value: str | None) -> bool:
    return str(value).strip().lower() == "true"


def new_cluster_id() -> str:
    """A Kafka-style cluster id: a random UUID as 22 characters of URL-safe base64."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


# Request field readers: a missing or mistyped field is the client's mistake (INVALID_REQUEST).
_MISSING: Any = object()


def _field(req: Mapping[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = req.get(name, default)
    if value is _MISSING:
        raise RequestError("INVALID_REQUEST", f"missing field {name!r}")
    if value is default and default is not _MISSING:
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RequestError("INVALID_REQUEST", f"field {name!r} has the wrong type")
    return value


def _int(req: Mapping[str, Any], name: str, default: Any = _MISSING) -> int:
    return _field(req, name, int, default)


def _str(req: Mapping[str, Any], name: str, default: Any = _MISSING) -> str:
    return _field(req, name, str, default)


def _bool(req: Mapping[str, Any], name: str, default: Any = False) -> bool:
    return _field(req, name, bool, default)


def _list(req: Mapping[str, Any], name: str, default: Any = _MISSING) -> list[Any]:
    return _field(req, name, list, default)


def _config_map(raw: Any) -> dict[str, str | None]:
    """Configs given as ``{k: v}`` or as ``[{"name": k, "value": v}]`` (Kafka's shape)."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, list) and all(isinstance(c, Mapping) for c in raw):
        items = [(c.get("name"), c.get("value")) for c in raw]
    else:
        raise RequestError("INVALID_REQUEST", "configs must be an object or a list of name/value")
    result: dict[str, str | None] = {}
    for key, value in items:
        if not isinstance(key, str):
            raise RequestError("INVALID_REQUEST", "config names must be strings")
        result[key] = None if value is None else str(value)
    return result


class Controller:
    """The controller's state machine: the metadata log, the image, and the broker sessions.

    ``clock`` (monotonic seconds) is injectable so tests can expire sessions without sleeping.
    Call :meth:`start` before handling requests and :meth:`close` at the end.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        node_id: int = 0,
        configs: Mapping[str, str] | None = None,
        cluster_id: str | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.node_id = node_id
        self.static_configs = {**DEFAULT_CONFIGS, **(configs or {})}
        self._requested_cluster_id = cluster_id
        self.cluster_id = cluster_id or ""
        self.rng = rng or random.Random()
        self.clock = clock
        self.image = MetadataImage()
        self.epoch = 0
        #: (host, port) the RPC listens on, set by ControllerServer.start().
        self.listener: tuple[str, int] = ("127.0.0.1", 0)
        self._log: MetadataLog | None = None
        # Broker id -> monotonic deadline of its session; only the controller's memory, as in
        # KRaft: a restarted controller gives every live broker a fresh session.
        self._sessions: dict[int, float] = {}
        self._reported_offset: dict[int, int] = {}
        self._last_heartbeat_ms: dict[int, int] = {}
        self._caught_up_ms: dict[int, int] = {}
        # Broker id -> offset every live broker must reach before its controlled shutdown ends.
        self._shutdown_offset: dict[int, int] = {}
        # Replaced after every append; long polls wait on the current one.
        self._appended = asyncio.Event()
        self._ops: dict[str, Callable[[dict[str, Any]], Any]] = {
            "register": self.op_register,
            "heartbeat": self.op_heartbeat,
            "fetch_metadata": self.op_fetch_metadata,
            "create_topics": self.op_create_topics,
            "delete_topics": self.op_delete_topics,
            "create_partitions": self.op_create_partitions,
            "alter_partition": self.op_alter_partition,
            "alter_configs": self.op_alter_configs,
            "elect_leaders": self.op_elect_leaders,
            "describe_quorum": self.op_describe_quorum,
            "allocate_producer_ids": self.op_allocate_producer_ids,
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def metadata_log(self) -> MetadataLog:
        if self._log is None:
            raise RuntimeError("controller not started")
        return self._log

    def start(self) -> None:
        """Replay the log, settle the cluster id and write a ``controller`` record (epoch+1)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cluster_id = self._load_cluster_id()
        self._log = MetadataLog.open(self.data_dir)
        self.image = self._log.replay()
        self.epoch = max(self.image.controller_epoch, self._log.last_epoch) + 1
        self._write([{"type": "controller", "controller_id": self.node_id, "epoch": self.epoch}])
        now = self.clock()
        for broker in self.image.brokers.values():
            if not broker.fenced:
                self._sessions[broker.broker_id] = now + self.session_timeout
        log.info(
            "controller %d started: epoch %d, cluster id %s, %d metadata records, %d topics",
            self.node_id,
            self.epoch,
            self.cluster_id,
            self._log.end_offset,
            len(self.image.topics),
        )

    def close(self) -> None:
        """Close the metadata log."""
        if self._log is not None:
            self._log.close()

    def _load_cluster_id(self) -> str:
        meta = self.data_dir / "meta.json"
        if meta.exists():
            stored = json.loads(meta.read_text())["cluster_id"]
            if self._requested_cluster_id and self._requested_cluster_id != stored:
                raise SystemExit(
                    f"cluster id {self._requested_cluster_id} does not match {stored} stored in "
                    f"{meta}: refusing to serve another cluster's metadata"
                )
            return str(stored)
        cluster_id = self._requested_cluster_id or new_cluster_id()
        meta.write_text(json.dumps({"cluster_id": cluster_id, "node_id": self.node_id}) + "\n")
        return cluster_id

    # ------------------------------------------------------------------ configs

    def static_config(self, name: str) -> str | None:
        """A controller setting: ``--config`` value or bundled default."""
        return self.static_configs.get(name)

    @property
    def session_timeout(self) -> float:
        """``broker.session.timeout.ms`` in seconds."""
        return float(self.static_configs["broker.session.timeout.ms"]) / 1000.0

    @property
    def rebalance_interval(self) -> float:
        """``leader.imbalance.check.interval.seconds`` (fractions allowed, for tests)."""
        return float(self.static_configs["leader.imbalance.check.interval.seconds"])

    @property
    def auto_rebalance(self) -> bool:
        return _as_bool(self.static_configs.get("auto.leader.rebalance.enable"))

    def unclean_allowed(self, topic: str) -> bool:
        """``unclean.leader.election.enable``: topic override, dynamic cluster default, static."""
        name = "unclean.leader.election.enable"
        for key in ((TOPIC_RESOURCE, topic), (BROKER_RESOURCE, "")):
            value = self.image.configs.get(key, {}).get(name)
            if value is not None:
                return _as_bool(value)
        return _as_bool(self.static_configs.get(name))

    def default_replication_factor(self) -> int:
        configured = self.static_configs.get("default.replication.factor")
        if configured is not None:
            return int(configured)
        # At least 1, so that with no live broker the error says "all fenced", not "RF 0".
        return max(1, min(3, len(self.image.live_broker_ids())))

    # ------------------------------------------------------------------ writing

    def _write(self, records: list[dict[str, Any]]) -> list[LogEntry]:
        """Append records under the current epoch, apply them, wake up long polls."""
        entries = self.metadata_log.append(self.epoch, records)
        for entry in entries:
            self.image.apply(entry.record, offset=entry.offset)
        if entries:
            self._appended.set()
            self._appended = asyncio.Event()
        return entries

    def _live(self) -> set[int]:
        return set(self.image.live_broker_ids())

    def _take_out(self, broker_id: int, *, unclean_ok: bool) -> list[dict[str, Any]]:
        """Partition records moving ``broker_id`` out of every ISR and leadership."""
        eligible = self._live() - {broker_id}
        records = []
        for topic, index, state in self.image.partitions():
            if broker_id not in state.isr and state.leader != broker_id:
                continue
            unclean = unclean_ok and self.unclean_allowed(topic.name)
            new = remove_broker(state, broker_id, eligible, unclean=unclean)
            if new is not state:
                records.append(new.to_record(topic.topic_id, index))
        return records

    def _broker_state(self, broker_id: int, *, fenced: bool, shutting_down: bool) -> dict[str, Any]:
        return {
            "type": "broker_state",
            "broker_id": broker_id,
            "fenced": fenced,
            "shutting_down": shutting_down,
        }

    # ------------------------------------------------------------------ dispatch

    async def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Answer one RPC request; errors become ``{"error", "message"}``, never exceptions."""
        request_id = request.get("id")
        op = request.get("op")
        try:
            handler = self._ops.get(op) if isinstance(op, str) else None
            if handler is None:
                raise RequestError("INVALID_REQUEST", f"unknown op {op!r}")
            result = handler(dict(request))
            if inspect.isawaitable(result):
                result = await result
        except RequestError as exc:
            return {"id": request_id, "error": exc.error, "message": exc.message}
        except Exception as exc:  # a bug: answer, log, keep serving the others
            log.exception("op %s failed", op)
            return {"id": request_id, "error": "UNKNOWN_SERVER_ERROR", "message": repr(exc)}
        return {"id": request_id, "error": None, **result}

    def handle_sync(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`handle` for the synchronous ops, outside any event loop (tests, doctests)."""
        if request.get("op") == "fetch_metadata":
            raise ValueError("fetch_metadata may wait: use handle() on a loop")
        coroutine = self.handle(request)
        try:
            coroutine.send(None)
        except StopIteration as done:
            return dict(done.value)
        coroutine.close()
        raise RuntimeError("synchronous op suspended")

    # ------------------------------------------------------------------ brokers

    def op_register(self, req: dict[str, Any]) -> dict[str, Any]:
        broker_id = _int(req, "broker_id")
        host = _str(req, "host")
        port = _int(req, "port")
        incarnation = _str(req, "incarnation")
        if broker_id < 0:
            raise RequestError("INVALID_REQUEST", "broker ids are non-negative")
        now = self.clock()
        existing = self.image.brokers.get(broker_id)
        records: list[dict[str, Any]] = []
        if existing is not None:
            alive = self._sessions.get(broker_id, -math.inf) > now
            if existing.incarnation != incarnation and not existing.fenced and alive:
                # Another process still holds this id: refuse until its session expires, so a
                # copy started by mistake cannot steal the registration.
                raise RequestError(
                    "DUPLICATE_BROKER_REGISTRATION",
                    f"Another broker is registered with broker id {broker_id}.",
                )
            if not existing.fenced:
                records.extend(self._take_out(broker_id, unclean_ok=True))
        broker_epoch = self.metadata_log.end_offset + len(records)
        records.append(
            {
                "type": "register_broker",
                "broker_id": broker_id,
                "host": host,
                "port": port,
                "broker_epoch": broker_epoch,
                "incarnation": incarnation,
            }
        )
        records.append(self._broker_state(broker_id, fenced=True, shutting_down=False))
        self._write(records)
        self._sessions[broker_id] = now + self.session_timeout
        self._shutdown_offset.pop(broker_id, None)
        log.info(
            "broker %d registered at %s:%d, broker epoch %d", broker_id, host, port, broker_epoch
        )
        return {"broker_epoch": broker_epoch, "cluster_id": self.cluster_id}

    def _check_epoch(self, broker_id: int, broker_epoch: int) -> None:
        broker = self.image.brokers.get(broker_id)
        if broker is None:
            raise RequestError(
                "STALE_BROKER_EPOCH", f"No broker registration found for broker id {broker_id}."
            )
        if broker.broker_epoch != broker_epoch:
            raise RequestError(
                "STALE_BROKER_EPOCH",
                f"Broker {broker_id} has epoch {broker.broker_epoch}, not {broker_epoch}.",
            )

    def op_heartbeat(self, req: dict[str, Any]) -> dict[str, Any]:
        broker_id = _int(req, "broker_id")
        broker_epoch = _int(req, "broker_epoch")
        metadata_offset = _int(req, "metadata_offset")
        want_shutdown = _bool(req, "want_shutdown")
        self._check_epoch(broker_id, broker_epoch)
        broker = self.image.brokers[broker_id]
        now_ms = int(time.time() * 1000)
        self._sessions[broker_id] = self.clock() + self.session_timeout
        self._reported_offset[broker_id] = metadata_offset
        self._last_heartbeat_ms[broker_id] = now_ms
        if metadata_offset >= self.metadata_log.end_offset - 1:
            self._caught_up_ms[broker_id] = now_ms
        if want_shutdown:
            return self._controlled_shutdown(broker_id)
        if broker.fenced and metadata_offset >= broker.broker_epoch:
            self._unfence(broker_id)
        broker = self.image.brokers[broker_id]
        return {"fenced": broker.fenced, "shutdown_ok": False}

    def _unfence(self, broker_id: int) -> None:
        records = [self._broker_state(broker_id, fenced=False, shutting_down=False)]
        eligible = self._live() | {broker_id}
        for topic, index, state in self.image.partitions():
            # A partition whose whole ISR was fenced waits leaderless; this broker may be the
            # one that can lead it again.
            if state.leader == NO_LEADER and broker_id in state.replicas:
                new = elect_leader(state, eligible, unclean=self.unclean_allowed(topic.name))
                if new is not state:
                    records.append(new.to_record(topic.topic_id, index))
        self._write(records)
        log.info(
            "broker %d caught up with its registration: unfenced (%d leaderless partitions "
            "got a leader)",
            broker_id,
            len(records) - 1,
        )

    def _controlled_shutdown(self, broker_id: int) -> dict[str, Any]:
        broker = self.image.brokers[broker_id]
        if broker.fenced:
            return {"fenced": True, "shutdown_ok": True}
        records: list[dict[str, Any]] = []
        if not broker.shutting_down:
            records.append(self._broker_state(broker_id, fenced=False, shutting_down=True))
            log.info("broker %d asked for a controlled shutdown", broker_id)
        records.extend(self._take_out(broker_id, unclean_ok=False))
        if records:
            entries = self._write(records)
            self._shutdown_offset[broker_id] = entries[-1].offset
        leads = self.image.partitions_led_by(broker_id)
        target = self._shutdown_offset.get(broker_id, -1)
        # Like KRaft, let the broker go only once the live brokers (and itself) have applied
        # the leadership moves, so clients asking anyone are sent to the new leaders.
        watchers = [*self.image.live_broker_ids(), broker_id]
        caught_up = all(self._reported_offset.get(b, -1) >= target for b in watchers)
        if leads or not caught_up:
            return {"fenced": False, "shutdown_ok": False}
        self._write([self._broker_state(broker_id, fenced=True, shutting_down=False)])
        self._sessions.pop(broker_id, None)
        self._shutdown_offset.pop(broker_id, None)
        log.info("broker %d finished its controlled shutdown: fenced", broker_id)
        return {"fenced": True, "shutdown_ok": True}

    def next_session_deadline(self) -> float | None:
        """The earliest session deadline (``clock`` seconds), None with no live session."""
        return min(self._sessions.values(), default=None)

    def fence_expired(self) -> list[int]:
        """Fence every live broker whose session has expired; returns their ids.

        As KRaft's controller does, one write takes the broker out of every ISR and moves the
        leadership of every partition it led, so a new leader can acknowledge acks=all
        produces at once instead of waiting for replica.lag.time.max.ms.
        """
        now = self.clock()
        fenced = []
        for broker_id, deadline in sorted(self._sessions.items()):
            if deadline > now:
                continue
            del self._sessions[broker_id]
            broker = self.image.brokers.get(broker_id)
            if broker is None or broker.fenced:
                continue
            records = self._take_out(broker_id, unclean_ok=True)
            records.insert(0, self._broker_state(broker_id, fenced=True, shutting_down=False))
            self._write(records)
            self._shutdown_offset.pop(broker_id, None)
            fenced.append(broker_id)
            last = self._last_heartbeat_ms.get(broker_id)
            log.warning(
                "broker %d missed heartbeats for %d ms (last heartbeat %s): fenced, "
                "%d partitions changed",
                broker_id,
                int(self.session_timeout * 1000),
                f"{int(time.time() * 1000) - last} ms ago" if last is not None else "unknown",
                len(records) - 1,
            )
        return fenced

    def rebalance_leaders(self) -> int:
        """Preferred-leader election wherever the preferred replica is live and in the ISR.

        Returns how many partitions changed leader.
        """
        eligible = self._live()
        records = []
        for topic, index, state in self.image.partitions():
            new = elect_preferred(state, eligible)
            if new is not None and new is not state:
                records.append(new.to_record(topic.topic_id, index))
        if records:
            self._write(records)
            log.info(
                "auto leader rebalance: %d partitions back on their preferred leader", len(records)
            )
        return len(records)

    # ------------------------------------------------------------------ metadata

    async def op_fetch_metadata(self, req: dict[str, Any]) -> dict[str, Any]:
        from_offset = _int(req, "from_offset")
        max_wait_ms = min(max(_int(req, "max_wait_ms", 0), 0), MAX_FETCH_WAIT_MS)
        max_records = min(max(_int(req, "max_records", MAX_FETCH_RECORDS), 1), MAX_FETCH_RECORDS)
        if from_offset < 0:
            raise RequestError("INVALID_REQUEST", "from_offset must be >= 0")
        metadata_log = self.metadata_log
        if from_offset > metadata_log.end_offset:
            raise RequestError(
                "OFFSET_OUT_OF_RANGE",
                f"offset {from_offset} is past the end of the metadata log "
                f"({metadata_log.end_offset})",
            )
        if from_offset == metadata_log.end_offset and max_wait_ms > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._appended.wait(), max_wait_ms / 1000.0)
        entries = metadata_log.read(from_offset, max_records)
        return {
            "records": [e.to_json() for e in entries],
            "end_offset": metadata_log.end_offset,
        }

    def op_allocate_producer_ids(self, req: dict[str, Any]) -> dict[str, Any]:
        """Hand a broker the next block of producer ids (KIP-730's AllocateProducerIds)."""
        first = self.image.next_producer_id
        self._write(
            [
                {
                    "type": "producer_ids",
                    "broker_id": int(req["broker_id"]),
                    "next_producer_id": first + PRODUCER_ID_BLOCK_SIZE,
                }
            ]
        )
        return {"first_producer_id": first, "count": PRODUCER_ID_BLOCK_SIZE}

    def op_describe_quorum(self, req: dict[str, Any]) -> dict[str, Any]:
        end = self.metadata_log.end_offset
        now_ms = int(time.time() * 1000)
        host, port = self.listener
        observers = [
            {
                "id": b,
                # A broker reports the offset of the last record it applied; its log end
                # offset, in quorum terms, is the next one.
                "log_end_offset": self._reported_offset.get(b, -2) + 1,
                "last_fetch_ms": self._last_heartbeat_ms.get(b, -1),
                "last_caught_up_ms": self._caught_up_ms.get(b, -1),
            }
            for b in sorted(self.image.brokers)
        ]
        voter = {
            "id": self.node_id,
            "host": host,
            "port": port,
            "log_end_offset": end,
            "last_fetch_ms": now_ms,
            "last_caught_up_ms": now_ms,
        }
        return {
            "leader_id": self.node_id,
            "leader_epoch": self.epoch,
            "high_watermark": end,
            "voters": [voter],
            "observers": observers,
        }

    # ------------------------------------------------------------------ topics

    def op_create_topics(self, req: dict[str, Any]) -> dict[str, Any]:
        topics = _list(req, "topics")
        validate_only = _bool(req, "validate_only")
        seen: set[str] = set()
        return {"results": [self._create_topic(t, validate_only, seen) for t in topics]}

    def _create_topic(self, spec: Any, validate_only: bool, seen: set[str]) -> dict[str, Any]:
        name = spec.get("name") if isinstance(spec, Mapping) else None
        result: dict[str, Any] = {
            "name": name,
            "error": None,
            "message": None,
            "topic_id": None,
            "num_partitions": -1,
            "replication_factor": -1,
        }
        try:
            if not isinstance(name, str):
                raise RequestError("INVALID_REQUEST", "topic name missing")
            if name in seen:
                raise RequestError("INVALID_REQUEST", "Duplicate topic name.")
            seen.add(name)
            validate_topic_name(name)
            if name in self.image.topics:
                raise RequestError("TOPIC_ALREADY_EXISTS", f"Topic '{name}' already exists.")
            for existing in sorted(self.image.topics):
                if collides(name, existing):
                    raise RequestError(
                        "INVALID_TOPIC_EXCEPTION",
                        f"Topic '{name}' collides with existing topic: {existing}",
                    )
            configs = {k: v for k, v in _config_map(spec.get("configs")).items() if v is not None}
            assignment = self._topic_assignment(spec)
        except (RequestError, PlacementError) as exc:
            result.update(error=exc.error, message=exc.message)
            return result
        result.update(num_partitions=len(assignment), replication_factor=len(assignment[0]))
        if validate_only:
            return result
        topic_id = str(uuid.uuid4())
        live = self._live()
        records: list[dict[str, Any]] = [{"type": "topic", "name": name, "topic_id": topic_id}]
        for index, replicas in enumerate(assignment):
            isr = [r for r in replicas if r in live]
            state = PartitionState(replicas=replicas, isr=isr, leader=isr[0])
            records.append(state.to_record(topic_id, index))
        if configs:
            records.append(
                {
                    "type": "config",
                    "resource_type": TOPIC_RESOURCE,
                    "name": name,
                    "configs": configs,
                }
            )
        self._write(records)
        result["topic_id"] = topic_id
        log.info("created topic %s (%s): %s", name, topic_id, assignment)
        return result

    def _topic_assignment(self, spec: Mapping[str, Any]) -> list[list[int]]:
        num_partitions = _int(spec, "num_partitions", -1)
        replication_factor = _int(spec, "replication_factor", -1)
        # A list of replica lists, or {partition_index: broker_ids}.
        manual = _field(spec, "assignments", (list, dict), None) or []
        live = self.image.live_broker_ids()
        if manual:
            if num_partitions != -1:
                raise RequestError(
                    "INVALID_REQUEST",
                    "A manual partition assignment was specified, but numPartitions was not "
                    "set to -1.",
                )
            if replication_factor != -1:
                raise RequestError(
                    "INVALID_REQUEST",
                    "A manual partition assignment was specified, but replicationFactor was not "
                    "set to -1.",
                )
            assignment = normalize_assignments(manual, indexed=True)
            validate_assignment(assignment, registered=self.image.brokers, live=live)
            return assignment
        if num_partitions == -1:
            num_partitions = int(self.static_configs["num.partitions"])
        elif num_partitions <= 0:
            raise RequestError(
                "INVALID_PARTITIONS",
                "Number of partitions was set to an invalid non-positive value.",
            )
        if replication_factor == -1:
            replication_factor = self.default_replication_factor()
        elif replication_factor <= 0:
            raise RequestError(
                "INVALID_REPLICATION_FACTOR",
                "Replication factor must be larger than 0, or -1 to use the default value.",
            )
        return place_new_topic(num_partitions, replication_factor, live, rng=self.rng)

    def op_delete_topics(self, req: dict[str, Any]) -> dict[str, Any]:
        results = []
        for name in _list(req, "names"):
            topic = self.image.topics.get(name) if isinstance(name, str) else None
            if topic is None:
                results.append(
                    {
                        "name": name,
                        "error": "UNKNOWN_TOPIC_OR_PARTITION",
                        "message": _UNKNOWN_PARTITION,
                        "topic_id": None,
                    }
                )
                continue
            self._write([{"type": "remove_topic", "topic_id": topic.topic_id}])
            log.info("deleted topic %s (%s)", topic.name, topic.topic_id)
            results.append(
                {"name": name, "error": None, "message": None, "topic_id": topic.topic_id}
            )
        return {"results": results}

    def op_create_partitions(self, req: dict[str, Any]) -> dict[str, Any]:
        validate_only = _bool(req, "validate_only")
        results = []
        for spec in _list(req, "topics"):
            name = spec.get("name") if isinstance(spec, Mapping) else None
            try:
                self._create_partitions(spec, validate_only)
            except (RequestError, PlacementError) as exc:
                results.append({"name": name, "error": exc.error, "message": exc.message})
                continue
            results.append({"name": name, "error": None, "message": None})
        return {"results": results}

    def _create_partitions(self, spec: Any, validate_only: bool) -> None:
        if not isinstance(spec, Mapping):
            raise RequestError("INVALID_REQUEST", "topic entry must be an object")
        name = _str(spec, "name")
        count = _int(spec, "count")
        manual = _field(spec, "assignments", list, None)
        topic = self.image.topics.get(name)
        if topic is None:
            raise RequestError("UNKNOWN_TOPIC_OR_PARTITION", _UNKNOWN_PARTITION)
        current = len(topic.partitions)
        if count == current:
            raise RequestError("INVALID_PARTITIONS", f"Topic already has {current} partition(s).")
        if count < current:
            raise RequestError(
                "INVALID_PARTITIONS",
                f"The topic {name} currently has {current} partition(s); {count} would not be an "
                "increase.",
            )
        existing = [list(topic.partitions[i].replicas) for i in sorted(topic.partitions)]
        live = self.image.live_broker_ids()
        if manual:
            added = normalize_assignments(manual, indexed=False)
            if len(added) != count - current:
                raise PlacementError(
                    "INVALID_REPLICA_ASSIGNMENT",
                    f"Attempted to add {count - current} additional partition(s), but only "
                    f"{len(added)} assignment(s) were specified.",
                )
            validate_assignment(
                added,
                registered=self.image.brokers,
                live=live,
                replication_factor=len(existing[0]) if existing else None,
                first_partition=current,
            )
        else:
            added = place_additional_partitions(existing, count, live)
        if validate_only:
            return
        live_set = set(live)
        records = []
        for offset, replicas in enumerate(added):
            isr = [r for r in replicas if r in live_set]
            state = PartitionState(replicas=replicas, isr=isr, leader=isr[0])
            records.append(state.to_record(topic.topic_id, current + offset))
        self._write(records)
        log.info("topic %s grew from %d to %d partitions", name, current, count)

    # ------------------------------------------------------------------ partitions

    def _partition(self, topic: TopicImage | None, index: int) -> PartitionState:
        state = topic.partitions.get(index) if topic is not None else None
        if state is None:
            raise RequestError("UNKNOWN_TOPIC_OR_PARTITION", _UNKNOWN_PARTITION)
        return state

    def op_alter_partition(self, req: dict[str, Any]) -> dict[str, Any]:
        broker_id = _int(req, "broker_id")
        self._check_epoch(broker_id, _int(req, "broker_epoch"))
        topic_id = _str(req, "topic_id")
        index = _int(req, "partition")
        new_isr = _list(req, "new_isr")
        if not all(isinstance(r, int) and not isinstance(r, bool) for r in new_isr):
            raise RequestError("INVALID_REQUEST", "new_isr must be a list of broker ids")
        topic = self.image.topics_by_id.get(topic_id)
        if topic is None:
            raise RequestError("UNKNOWN_TOPIC_ID", "This server does not host this topic ID.")
        state = self._partition(topic, index)
        try:
            validate_alter_partition(
                state,
                requester=broker_id,
                leader_epoch=_int(req, "leader_epoch"),
                partition_epoch=_int(req, "partition_epoch"),
                new_isr=new_isr,
                eligible=self._live(),
            )
        except AlterPartitionError as exc:
            # The current state rides along so the leader can resync without waiting for
            # the metadata log.
            return {
                "error": exc.error,
                "message": exc.message,
                "partition": state.to_record(topic_id, index),
            }
        new = alter_isr(state, new_isr)
        if new is not state:
            self._write([new.to_record(topic_id, index)])
            log.info(
                "%s-%d ISR %s -> %s (by leader %d)",
                topic.name,
                index,
                state.isr,
                new.isr,
                broker_id,
            )
        return {"partition": new.to_record(topic_id, index)}

    def op_elect_leaders(self, req: dict[str, Any]) -> dict[str, Any]:
        election_type = _int(req, "election_type")
        if election_type not in (0, 1):
            raise RequestError("INVALID_REQUEST", f"unknown election type {election_type}")
        requested = _field(req, "partitions", list, None)
        elect_all = requested is None
        targets: list[tuple[Any, Any]]
        if elect_all:
            targets = [(t.name, i) for t, i, _ in self.image.partitions()]
        else:
            targets = [
                (p.get("topic"), p.get("partition")) if isinstance(p, Mapping) else (None, None)
                for p in requested
            ]
        eligible = self._live()
        pending: dict[tuple[str, int], PartitionState] = {}
        results = []
        for name, index in targets:
            error, message = None, None
            topic = self.image.topics.get(name) if isinstance(name, str) else None
            valid_index = isinstance(index, int) and not isinstance(index, bool)
            state = topic.partitions.get(index) if topic is not None and valid_index else None
            if topic is None or state is None:
                error, message = "UNKNOWN_TOPIC_OR_PARTITION", _UNKNOWN_PARTITION
            else:
                state = pending.get((topic.topic_id, index), state)
                if election_type == 0:
                    error, message, new = self._preferred(state, eligible)
                else:
                    error, message, new = self._unclean(state, eligible)
                if new is not None:
                    pending[(topic.topic_id, index)] = new
            if elect_all and error == "ELECTION_NOT_NEEDED":
                continue  # as Kafka: electing "everything" reports only what it touched
            results.append({"topic": name, "partition": index, "error": error, "message": message})
        if pending:
            self._write([s.to_record(tid, i) for (tid, i), s in pending.items()])
            log.info("elect_leaders(type %d) moved %d leaders", election_type, len(pending))
        return {"results": results}

    @staticmethod
    def _preferred(
        state: PartitionState, eligible: set[int]
    ) -> tuple[str | None, str | None, PartitionState | None]:
        if state.replicas and state.leader == state.replicas[0]:
            return "ELECTION_NOT_NEEDED", "Leader is already the preferred replica.", None
        new = elect_preferred(state, eligible)
        if new is None:
            return (
                "PREFERRED_LEADER_NOT_AVAILABLE",
                "The preferred replica is not live or not in the ISR.",
                None,
            )
        return None, None, new

    @staticmethod
    def _unclean(
        state: PartitionState, eligible: set[int]
    ) -> tuple[str | None, str | None, PartitionState | None]:
        if state.leader != NO_LEADER:
            return "ELECTION_NOT_NEEDED", "The partition already has a leader.", None
        new = elect_leader(state, eligible, unclean=True)
        if new.leader == NO_LEADER:
            return "ELIGIBLE_LEADERS_NOT_AVAILABLE", "No replica of the partition is live.", None
        return None, None, new

    # ------------------------------------------------------------------ configs

    def op_alter_configs(self, req: dict[str, Any]) -> dict[str, Any]:
        validate_only = _bool(req, "validate_only")
        results = []
        for resource in _list(req, "resources"):
            rtype = resource.get("resource_type") if isinstance(resource, Mapping) else None
            name = resource.get("name") if isinstance(resource, Mapping) else None
            try:
                record = self._config_change(resource)
            except RequestError as exc:
                results.append(
                    {
                        "resource_type": rtype,
                        "name": name,
                        "error": exc.error,
                        "message": exc.message,
                    }
                )
                continue
            if record is not None and not validate_only:
                self._write([record])
                log.info("configs of %s %r changed: %s", rtype, name, record["configs"])
            results.append({"resource_type": rtype, "name": name, "error": None, "message": None})
        return {"results": results}

    def _config_change(self, resource: Any) -> dict[str, Any] | None:
        if not isinstance(resource, Mapping):
            raise RequestError("INVALID_REQUEST", "resource entry must be an object")
        rtype = _str(resource, "resource_type")
        name = _str(resource, "name")
        if rtype not in (TOPIC_RESOURCE, BROKER_RESOURCE):
            raise RequestError("INVALID_REQUEST", f"unsupported resource type {rtype!r}")
        if rtype == TOPIC_RESOURCE and name not in self.image.topics:
            raise RequestError("UNKNOWN_TOPIC_OR_PARTITION", _UNKNOWN_PARTITION)
        to_set = _config_map(resource.get("set"))
        to_delete = _field(resource, "delete", list, None) or []
        replace = _bool(resource, "replace")
        current = self.image.configs.get((rtype, name), {})
        wanted: dict[str, str | None] = {} if replace else dict(current)
        for key in to_delete:
            wanted.pop(str(key), None)
        wanted.update(to_set)
        changes: dict[str, str | None] = {}
        for key in set(current) | set(wanted):
            after = wanted.get(key)
            if current.get(key) != after:
                changes[key] = after
        if not changes:
            return None
        return {
            "type": "config",
            "resource_type": rtype,
            "name": name,
            "configs": dict(sorted(changes.items())),
        }


class ControllerServer:
    """Sockets and timers around a :class:`Controller`: the part that needs a running loop."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self._server: asyncio.Server | None = None
        self._background: list[asyncio.Task[None]] = []
        self._connections: set[asyncio.Task[Any]] = set()

    async def start(self, port: int, host: str = "127.0.0.1") -> int:
        """Listen on ``host:port`` (port 0 picks one) and start the timers; returns the port."""
        self._server = await asyncio.start_server(self._serve_connection, host, port)
        bound = self._server.sockets[0].getsockname()[1]
        self.controller.listener = (host, int(bound))
        self._background = [
            asyncio.create_task(self._session_loop(), name="controller-sessions"),
            asyncio.create_task(self._rebalance_loop(), name="controller-rebalance"),
        ]
        log.info("controller %d listening on %s:%d", self.controller.node_id, host, bound)
        return int(bound)

    async def stop(self) -> None:
        """Stop listening, drop connections (cancelling long polls) and stop the timers."""
        if self._server is not None:
            self._server.close()
        for task in [*self._background, *self._connections]:
            task.cancel()
        await asyncio.gather(*self._background, *self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        self.controller.close()

    async def _session_loop(self) -> None:
        # Sleeps until the earliest session deadline, as Kafka 3's controller schedules its
        # fencing event at the heartbeat manager's next check time: a dead broker is fenced
        # broker.session.timeout.ms after its last heartbeat, not up to one polling period
        # later. Deadlines only move later (heartbeats) or appear a whole timeout ahead
        # (registrations), so nothing expires before the wake-up.
        controller = self.controller
        while True:
            deadline = controller.next_session_deadline()
            if deadline is None:
                delay = controller.session_timeout
            else:
                delay = deadline - controller.clock()
            # The margin keeps the loop from waking a hair early and sleeping 0 s in a spin.
            await asyncio.sleep(max(delay, 0.0) + SESSION_CHECK_MARGIN_S)
            try:
                controller.fence_expired()
            except Exception:
                log.exception("fencing expired brokers failed")

    async def _rebalance_loop(self) -> None:
        if not self.controller.auto_rebalance:
            return
        while True:
            await asyncio.sleep(self.controller.rebalance_interval)
            try:
                self.controller.rebalance_leaders()
            except Exception:
                log.exception("auto leader rebalance failed")

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        me = asyncio.current_task()
        if me is not None:
            self._connections.add(me)
        peer = writer.get_extra_info("peername")
        write_lock = asyncio.Lock()
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    request = await read_frame(reader)
                except (FrameError, asyncio.IncompleteReadError, ConnectionError) as exc:
                    log.warning("dropping connection from %s: %s", peer, exc)
                    break
                if request is None:
                    break
                # Each request runs as its own task so a long poll does not hold up heartbeats
                # sent on the same connection; answers carry the request id.
                task = asyncio.create_task(self._answer(request, writer, write_lock))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
        finally:
            for task in in_flight:
                task.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if me is not None:
                self._connections.discard(me)

    async def _answer(
        self, request: dict[str, Any], writer: asyncio.StreamWriter, lock: asyncio.Lock
    ) -> None:
        response = await self.controller.handle(request)
        async with lock:
            try:
                await write_frame(writer, response)
            except FrameError as exc:
                await write_frame(
                    writer,
                    {"id": request.get("id"), "error": "UNKNOWN_SERVER_ERROR", "message": str(exc)},
                )
            except ConnectionError:
                pass  # the broker went away; it will ask again after reconnecting


def _parse_configs(items: Iterable[str]) -> dict[str, str]:
    configs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--config expects key=value, got {item!r}")
        configs[key.strip()] = value.strip()
    return configs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kafkabook.broker.controller",
        description="The kafkabook controller: owns cluster metadata for the bundled brokers.",
    )
    parser.add_argument("--node-id", type=int, default=0)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cluster-id", default=None)
    parser.add_argument(
        "--config", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Run the controller until SIGTERM or SIGINT."""
    controller = Controller(
        args.data_dir,
        node_id=args.node_id,
        configs=_parse_configs(args.config),
        cluster_id=args.cluster_id,
    )
    controller.start()
    server = ControllerServer(controller)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start(args.port)
        await stop.wait()
        log.info("controller %d stopping", controller.node_id)
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m kafkabook.broker.controller``."""
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(args))
    return 0
