"""What the conformance scenarios share: a `Target` (one running cluster, either backend) with
the few protocol conversations every scenario needs, record batches, waiting, and the list of
deliberate differences read from docs/differences.md.

A scenario takes a `Target`, does the same thing on either backend and asserts what Kafka does.
Values that legitimately differ between two clusters (ids, ports, timestamps, cluster ids) are
never asserted literally. A difference that is deliberate is asserted through `documented()`,
which fails unless docs/differences.md names it.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from kafkabook.backends.base import Backend, BackendError

from .wire import Wire, plain

REPO = Path(__file__).resolve().parents[2]
DIFFERENCES = REPO / "docs" / "differences.md"

T = TypeVar("T")

BACKENDS = ("jvm", "bundled")

#: Static broker configs of both shared clusters: a topic config with one broker synonym
#: (delete.retention.ms) and one whose synonym is derived (retention.ms from hours).
SHARED_CONFIGS: Mapping[str, str] = {
    "log.retention.hours": "100",
    "log.cleaner.delete.retention.ms": "3600000",
}

#: The private clusters of test_failover.py: topic auto-creation off; on Kafka also the bundled
#: cluster's leader.imbalance.check.interval.seconds, so both restore preferred leaders alike.
JVM_BREAKABLE_CONFIGS: Mapping[str, str] = {
    "auto.create.topics.enable": "false",
    "leader.imbalance.check.interval.seconds": "5",
}
BUNDLED_BREAKABLE_CONFIGS: Mapping[str, str] = {"auto.create.topics.enable": "false"}


#: The docs/differences.md entry on eligible leader replicas, which Kafka 4 enables and the
#: bundled cluster lacks: ISR of a leaderless partition, min.insync.replicas' config source.
ELR = "Eligible leader replicas (KIP-966"


def bundled_bug(reason: str) -> pytest.MarkDecorator:
    """Marks a scenario that real Kafka passes and the bundled cluster fails: `reason` names
    the bug. conftest.py turns it into xfail(strict=True) for the bundled backend only, so the
    scenario still runs (and must pass) against Kafka, and an accidental fix is noticed."""
    return pytest.mark.bundled_bug(reason)


# Kafka error codes the scenarios name (org.apache.kafka.common.protocol.Errors).
NONE = 0
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
LEADER_NOT_AVAILABLE = 5
NOT_LEADER_OR_FOLLOWER = 6
MESSAGE_TOO_LARGE = 10
INVALID_TOPIC_EXCEPTION = 17
NOT_ENOUGH_REPLICAS = 19
INVALID_REQUIRED_ACKS = 21
INVALID_TIMESTAMP = 32
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_REPLICA_ASSIGNMENT = 39
INVALID_CONFIG = 40
INVALID_REQUEST = 42
OUT_OF_ORDER_SEQUENCE_NUMBER = 45

# ListOffsets' special timestamps.
LATEST = -1
EARLIEST = -2
MAX_TIMESTAMP = -3


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `predicate` until it returns something truthy; fail naming `what` and the last
    value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
        except (OSError, ConnectionError) as exc:  # a broker going away mid-poll
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Record batches


@dataclass(frozen=True)
class Rec:
    value: bytes | None
    key: bytes | None = None
    timestamp: int | None = None  # ms; None = now
    headers: tuple[tuple[str, bytes], ...] = ()


def batch(
    records: Sequence[Rec],
    *,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
) -> bytes:
    """One v2 record batch (uncompressed) holding `records`."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=False,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        batch_size=2**31 - 1,
    )
    now = int(time.time() * 1000)
    for i, rec in enumerate(records):
        builder.append(
            i,
            timestamp=now if rec.timestamp is None else rec.timestamp,
            key=rec.key,
            value=rec.value,
            headers=list(rec.headers),
        )
    return bytes(builder.build())


@dataclass(frozen=True)
class Fetched:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    producer_id: int
    sequence: int  # the record's producer sequence number, -1 without one


def decode_records(data: bytes | None) -> list[Fetched]:
    """Every record of the (uncompressed or compressed) batches in a Fetch answer."""
    if not data:
        return []
    out: list[Fetched] = []
    records = MemoryRecords(bytes(data))
    while records.has_next():
        b = records.next_batch()
        if b is None:
            break
        assert isinstance(b, DefaultRecordBatch)
        for r in b:
            out.append(
                Fetched(
                    r.offset,
                    r.timestamp,
                    r.key,
                    r.value,
                    tuple((k, bytes(v)) for k, v in r.headers),
                    b.producer_id,
                    -1 if b.base_sequence < 0 else b.base_sequence + r.offset - b.base_offset,
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# Kafka's default partitioner for keyed records


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) as an unsigned 32-bit int."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    whole = len(data) - len(data) % 4
    for i in range(0, whole, 4):
        k = (int.from_bytes(data[i : i + 4], "little") * m) & mask
        k = ((k ^ (k >> 24)) * m) & mask
        h = ((h * m) & mask) ^ k
    tail = data[whole:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h = ((h ^ tail[0]) * m) & mask
    h = ((h ^ (h >> 13)) * m) & mask
    return h ^ (h >> 15)


def kafka_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


# ---------------------------------------------------------------------------------------------
# A cluster under test


@dataclass
class Target:
    """One running cluster of either backend, and the conversations scenarios have with it."""

    name: str  # "jvm" or "bundled"
    backend: Backend
    _wires: dict[int, Wire] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return self.name

    # -- connections -------------------------------------------------------------------------

    def addresses(self) -> dict[int, str]:
        """node id -> host:port of every running broker."""
        return {
            n.node_id: f"{n.host}:{n.port}"
            for n in self.backend.status().brokers
            if n.state == "running"
        }

    @property
    def bootstrap(self) -> str:
        return ",".join(self.addresses().values())

    def wire(self, node_id: int | None = None) -> Wire:
        """A connection to broker `node_id` (any running broker when None), kept for reuse."""
        addresses = self.addresses()
        if node_id is None:
            node_id = min(addresses)
        for stale in set(self._wires) - set(addresses):
            self._wires.pop(stale).close()
        if node_id not in self._wires:
            self._wires[node_id] = Wire.to(addresses[node_id], timeout=30)
        return self._wires[node_id]

    def call(self, api: str, node_id: int | None = None, **fields: Any) -> dict[str, Any]:
        """One request to one broker, answered as plain data. A connection that broke (a broker
        restarted under it) is opened again once."""
        for attempt in (1, 2):
            wire = self.wire(node_id)
            try:
                return plain(wire.call(api, **fields))
            except (OSError, ConnectionError):
                self._wires.pop(node_id if node_id is not None else min(self.addresses()), None)
                wire.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        for wire in self._wires.values():
            wire.close()
        self._wires.clear()

    # -- metadata ----------------------------------------------------------------------------

    def metadata(
        self,
        topics: Iterable[str] | None = None,
        auto_create: bool = False,
        node_id: int | None = None,
    ) -> dict[str, Any]:
        wanted = None if topics is None else [{"name": t, "topic_id": None} for t in topics]
        return self.call(
            "Metadata",
            node_id,
            topics=wanted,
            allow_auto_topic_creation=auto_create,
            include_topic_authorized_operations=False,
        )

    def topic(self, name: str, node_id: int | None = None) -> dict[str, Any]:
        (topic,) = self.metadata([name], node_id=node_id)["topics"]
        return topic

    def partitions(self, name: str, node_id: int | None = None) -> dict[int, dict[str, Any]]:
        """partition -> {leader, epoch, replicas, isr, offline, error} of one topic, as one
        broker sees it."""
        return {
            p["partition_index"]: {
                "leader": p["leader_id"],
                "epoch": p["leader_epoch"],
                "replicas": p["replica_nodes"],
                "isr": p["isr_nodes"],
                "offline": p["offline_replicas"],
                "error": p["error_code"],
            }
            for p in self.topic(name, node_id)["partitions"]
        }

    def leader(self, name: str, partition: int = 0) -> int:
        return self.partitions(name)[partition]["leader"]

    def wait_topic(self, name: str, partitions: int, timeout: float = 20) -> None:
        """Until every running broker knows all `partitions` of `name` with a leader."""

        def ready() -> bool:
            for node_id in self.addresses():
                parts = self.partitions(name, node_id)
                if len(parts) != partitions or any(p["leader"] < 0 for p in parts.values()):
                    return False
            return True

        wait_for(ready, timeout, f"{self.name}: topic {name} with {partitions} led partitions")

    # -- admin -------------------------------------------------------------------------------

    def create_topics(
        self, topics: Sequence[Mapping[str, Any]], validate_only: bool = False
    ) -> list[dict[str, Any]]:
        """CreateTopics with `topics` as {name, num_partitions, replication_factor,
        assignments: {partition: [brokers]}, configs: {k: v}}; the per-topic results."""
        wanted = [
            {
                "name": t["name"],
                "num_partitions": t.get("num_partitions", 1),
                "replication_factor": t.get("replication_factor", 1),
                "assignments": [
                    {"partition_index": p, "broker_ids": b}
                    for p, b in (t.get("assignments") or {}).items()
                ],
                "configs": [{"name": k, "value": v} for k, v in (t.get("configs") or {}).items()],
            }
            for t in topics
        ]
        answer = self.call(
            "CreateTopics", topics=wanted, timeout=15000, validate_only=validate_only
        )
        return answer["topics"]

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        rf: int = 3,
        configs: Mapping[str, str] | None = None,
        assignments: Mapping[int, list[int]] | None = None,
    ) -> str:
        spec: dict[str, Any] = {"name": name, "configs": configs or {}}
        if assignments:
            spec.update(num_partitions=-1, replication_factor=-1, assignments=assignments)
            partitions = len(assignments)
        else:
            spec.update(num_partitions=partitions, replication_factor=rf)
        (result,) = self.create_topics([spec])
        assert result["error_code"] == NONE, f"{self.name}: creating {name}: {result}"
        self.wait_topic(name, partitions)
        return name

    def describe_configs(
        self, resource_type: int, name: str, keys: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """DescribeConfigs of one resource (2 topic, 4 broker): its result with `configs`
        turned into a dict by name."""
        answer = self.call(
            "DescribeConfigs",
            resources=[
                {
                    "resource_type": resource_type,
                    "resource_name": name,
                    "configuration_keys": None if keys is None else list(keys),
                }
            ],
            include_synonyms=True,
            include_documentation=False,
        )
        (result,) = answer["results"]
        result["configs"] = {c["name"]: c for c in result["configs"]}
        return result

    # -- data --------------------------------------------------------------------------------

    def produce(
        self,
        topic: str,
        partition: int,
        records: bytes | Sequence[Rec],
        acks: int = -1,
        node_id: int | None = None,
    ) -> dict[str, Any]:
        """One Produce of one batch to one partition (to its leader unless `node_id`); the
        partition's answer, or {} for acks=0."""
        data = records if isinstance(records, bytes) else batch(records)
        if node_id is None:
            node_id = self.leader(topic, partition)
        fields = {
            "transactional_id": None,
            "acks": acks,
            "timeout": 10000,
            "topic_data": [
                {"name": topic, "partition_data": [{"index": partition, "records": data}]}
            ],
        }
        if acks == 0:  # no answer comes
            self.wire(node_id).send("Produce", **fields)
            return {}
        answer = self.call("Produce", node_id, **fields)
        (t,) = answer["responses"]
        (p,) = t["partition_responses"]
        return p

    def fetch(
        self,
        topic: str,
        partition: int,
        offset: int,
        node_id: int | None = None,
        max_bytes: int = 1 << 20,
        max_wait_ms: int = 0,
    ) -> dict[str, Any]:
        """One Fetch (v12, no session) of one partition; its answer with `records` decoded."""
        if node_id is None:
            node_id = self.leader(topic, partition)
        answer = self.call(
            "Fetch",
            node_id,
            cluster_id=None,
            replica_id=-1,
            max_wait=max_wait_ms,
            min_bytes=1,
            max_bytes=max_bytes,
            isolation_level=0,
            session_id=0,
            session_epoch=-1,
            topics=[
                {
                    "topic": topic,
                    "partitions": [
                        {
                            "partition": partition,
                            "current_leader_epoch": -1,
                            "fetch_offset": offset,
                            "last_fetched_epoch": -1,
                            "log_start_offset": -1,
                            "partition_max_bytes": max_bytes,
                        }
                    ],
                }
            ],
            forgotten_topics_data=[],
            rack_id="",
        )
        assert answer["error_code"] == NONE, answer
        (t,) = answer["responses"]
        (p,) = t["partitions"]
        p["records"] = decode_records(p["records"])
        return p

    def list_offsets(
        self, topic: str, partition: int, timestamp: int, node_id: int | None = None
    ) -> dict[str, Any]:
        if node_id is None:
            node_id = self.leader(topic, partition)
        answer = self.call(
            "ListOffsets",
            node_id,
            replica_id=-1,
            isolation_level=0,
            topics=[
                {
                    "name": topic,
                    "partitions": [
                        {
                            "partition_index": partition,
                            "current_leader_epoch": -1,
                            "timestamp": timestamp,
                        }
                    ],
                }
            ],
        )
        (t,) = answer["topics"]
        (p,) = t["partitions"]
        return p

    def delete_records(
        self, topic: str, partition: int, offset: int, node_id: int | None = None
    ) -> dict[str, Any]:
        if node_id is None:
            node_id = self.leader(topic, partition)
        answer = self.call(
            "DeleteRecords",
            node_id,
            topics=[
                {"name": topic, "partitions": [{"partition_index": partition, "offset": offset}]}
            ],
            timeout=10000,
        )
        (t,) = answer["topics"]
        (p,) = t["partitions"]
        return p


def fetch_v16(target: Target, topic: str, node_id: int, leader_epoch: int) -> dict[str, Any]:
    """One consumer Fetch v16 (topics by id, KIP-951's current_leader and node_endpoints) of
    partition 0 from offset 0, sent to broker `node_id`; the whole answer."""
    part = {
        "partition": 0,
        "current_leader_epoch": leader_epoch,
        "fetch_offset": 0,
        "last_fetched_epoch": -1,
        "log_start_offset": -1,
        "partition_max_bytes": 1024,
    }
    return target.call(
        (1, 16),  # type: ignore[arg-type]  # VERSIONS has v12, which names topics
        node_id,
        cluster_id=None,
        replica_state={"replica_id": -1, "replica_epoch": -1},
        max_wait=0,
        min_bytes=1,
        max_bytes=1024,
        isolation_level=0,
        session_id=0,
        session_epoch=-1,
        topics=[{"topic_id": target.topic(topic)["topic_id"], "partitions": [part]}],
        forgotten_topics_data=[],
        rack_id="",
    )


def heal(backend: Backend) -> None:
    """Every node running again (a test may have killed, stopped or paused one)."""
    seen = set()
    for node in backend.status().nodes:
        if node.node_id in seen:
            continue
        seen.add(node.node_id)
        if node.state == "paused":
            backend.resume(node.node_id)
        elif node.state in ("stopped", "killed"):
            backend.start(node.node_id)


def dispose(backend: Backend) -> None:
    """Stop a cluster whose data nobody needs again: SIGKILL every node (seconds faster than
    a controlled shutdown of each)."""
    for node_id in sorted({n.node_id for n in backend.status().nodes if n.pid}):
        with contextlib.suppress(BackendError):
            backend.kill(node_id)


# ---------------------------------------------------------------------------------------------
# Deliberate differences (docs/differences.md)


@cache
def differences_text() -> str:
    return DIFFERENCES.read_text()


@cache
def documented_defaults() -> dict[str, tuple[str, str]]:
    """The "Defaults chosen for lessons" table: config name -> (Kafka's, bundled's value)."""
    rows: dict[str, tuple[str, str]] = {}
    for line in differences_text().splitlines():
        m = re.match(r"\|\s*`([a-z0-9.]+)`\s*\|([^|]*)\|([^|]*)\|", line)
        if m:
            rows[m.group(1)] = (m.group(2).strip(), m.group(3).strip())
    return rows


def documented_default(name: str, kafka: str | None, bundled: str | None) -> bool:
    """Whether docs/differences.md lists config `name` with these two defaults (a bundled
    column that is not a plain value, such as "min(3, live brokers)", matches any value)."""
    row = documented_defaults().get(name)
    if row is None:
        return False
    doc_kafka, doc_bundled = row
    if doc_kafka != str(kafka):
        return False
    return not re.fullmatch(r"-?\d+|[a-zA-Z]+", doc_bundled) or doc_bundled == str(bundled)


def documented(phrase: str) -> bool:
    """Whether docs/differences.md says `phrase` (whitespace-insensitive)."""
    squash = " ".join(differences_text().split())
    return " ".join(phrase.split()) in squash


def expect(target: Target, kafka: T, bundled: T, because: str) -> T:
    """Kafka's value; on the bundled backend the other one, but only while the difference is
    documented: `because` must be a phrase of docs/differences.md."""
    if target.name == "jvm" or kafka == bundled:
        return kafka
    assert documented(because), (
        f"the bundled cluster differs from Kafka ({bundled!r} vs {kafka!r}) and "
        f"docs/differences.md does not say {because!r}"
    )
    return bundled
