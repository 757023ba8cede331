"""Cluster benchmark: the bundled 3-broker cluster beside real Apache Kafka, in one run.

    python benchmarks/bench_cluster.py [--backends bundled,jvm] [--quick]

For each backend it starts 3-broker clusters in fresh temporary data directories (127.0.0.1,
free ports) and measures, with confluent-kafka as the client:

1. ready: seconds from ``up()`` until every broker answers Metadata (median of cold starts);
2. RSS: the summed VmRSS of the cluster's processes, idle and after the produce test;
3. produce: N records of 100-byte values, acks=all, RF 3, 3 partitions, min.insync.replicas 2;
4. consume: the same records from the beginning with ``assign`` (default fetch settings, then
   max.partition.fetch.bytes = 10 MiB);
5. latency: produce-to-consume p50/p99 at 1,000 records/s (acks=all, linger.ms=0);
6. failover: SIGKILL of the partition leader during acks=all produce at 500 records/s, seconds
   until the first acknowledged record sent after the kill, plus acked-record loss and duplicates.

It prints every figure, the ratio bundled/jvm and, for the bundled cluster, PASS/MISS against
the targets of the cluster issue. The machine has few cores and the load generator shares them
with the brokers: compare the ratios of one run, not absolute figures across runs. This is a
benchmark, not a test: pytest does not collect it (the file is not named test_*).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import itertools
import logging
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Measure this checkout, whether or not it is pip-installed.
sys.path.insert(0, str(REPO / "src"))

import psutil  # noqa: E402
from confluent_kafka import (  # noqa: E402
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka import libversion as rdkafka_version  # noqa: E402
from confluent_kafka import version as confluent_version  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from kafkabook.backends.base import Backend, BackendError  # noqa: E402

HOST = "127.0.0.1"
VALUE_SIZE = 100
PARTITIONS = 3
REPLICATION = 3
MIN_ISR = "2"
TEN_MIB = 10 * 1024 * 1024

# The producer and consumer settings of each test: what is not listed is the client's default.
PRODUCE_CONFIG = {"acks": "all", "linger.ms": 5}
CONSUME_CONFIGS = {
    "default fetch settings": {},
    "max.partition.fetch.bytes=10 MiB": {"max.partition.fetch.bytes": TEN_MIB},
    # The third line is the one the target applies to: librdkafka pauses a partition's
    # fetching for fetch.queue.backoff.ms (default 1000) whenever its local queue holds more
    # than queued.min.messages (default 100,000), which caps the first two lines on the client
    # side, for Kafka's brokers as for ours.
    "10 MiB + fetch.queue.backoff.ms=10": {
        "max.partition.fetch.bytes": TEN_MIB,
        "fetch.queue.backoff.ms": 10,
    },
}
CONSUME_KEYS = dict(
    zip(CONSUME_CONFIGS, ("consume_default", "consume_10mib", "consume_nobackoff"), strict=True)
)
LATENCY_PRODUCER_CONFIG = {"acks": "all", "linger.ms": 0}
FAILOVER_PRODUCER_CONFIG = {"acks": "all", "linger.ms": 0}
CONSUMER_BASE = {"enable.auto.commit": False, "enable.partition.eof": False}

LATENCY_RATE = 1000  # records/s (--latency-rate)
FAILOVER_RATE = 500  # records/s

TESTS = ("ready", "rss", "produce", "consume", "latency", "failover")

# Targets for the bundled cluster (issue 2): figure key -> (comparison, bound, label).
TARGETS: dict[str, tuple[str, float, str]] = {
    "ready_s": ("<=", 1.0, "≤ 1 s"),
    "rss_idle_mb": ("<=", 200.0, "≤ 200 MB"),
    "rss_after_mb": ("<=", 200.0, "≤ 200 MB"),
    "produce_rps": (">=", 100_000.0, "≥ 100,000 rec/s"),
    # Consume throughput is the cluster's when the client is not the limit: with librdkafka's
    # default fetch pacing Kafka and ours deliver the same (see CONSUME_CONFIGS).
    "consume_nobackoff_rps": (">=", 200_000.0, "≥ 200,000 rec/s"),
    "latency_p99_ms": ("<=", 20.0, "≤ 20 ms"),
    "failover_s": ("<=", 3.0, "≤ 3 s"),
    "failover_lost": ("<=", 0.0, "= 0"),
}


def say(message: str = "") -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------------------
# librdkafka's log lines: counted and kept (a few), instead of flooding the terminal


class ClientLog(logging.Handler):
    """Collects the log lines of every client of one test (librdkafka's warnings and errors)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.by_fac: dict[str, int] = {}
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        self.count += 1
        # librdkafka's facility follows the level: "%3|...|PROTOERR|..." or "PROTOERR [thrd..]"
        fac = text.split("|")[3] if text.count("|") >= 4 else text.split(" ", 1)[0]
        self.by_fac[fac] = self.by_fac.get(fac, 0) + 1
        if len(self.first) < 3:
            self.first.append(text[:300])

    def summary(self) -> str:
        if not self.count:
            return ""
        facs = ", ".join(f"{k} ×{v}" for k, v in sorted(self.by_fac.items(), key=lambda kv: -kv[1]))
        return f"client logged {self.count} line(s) ({facs}); first: {self.first[0]}"


def client_logger(name: str) -> tuple[logging.Logger, ClientLog]:
    handler = ClientLog()
    logger = logging.getLogger(f"bench.rdkafka.{name}.{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return logger, handler


# ---------------------------------------------------------------------------------------------
# Ports, probes, processes


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port_range(count: int) -> int:
    """A base port such that base .. base+count-1 all bind on 127.0.0.1 right now."""
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20000, 60000 - count)
        if all(port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError(f"found no {count} consecutive free ports on {HOST}")


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionError("closed by the broker")
        buf += chunk
    return bytes(buf)


def metadata_broker_ids(host: str, port: int, timeout: float = 2.0) -> set[int]:
    """One Metadata v4 round trip (no topics): the broker ids the answer lists.

    v4 because Kafka 4 no longer answers v0-v3; the bundled broker speaks v0-v12.
    """
    client_id = b"kafkabook-bench"
    request = struct.pack(">hhih", 3, 4, 42, len(client_id)) + client_id
    request += struct.pack(">ib", 0, 0)  # topics: empty array; allow_auto_topic_creation: false
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
        frame = _recv_exactly(sock, size)
    correlation, _throttle, count = struct.unpack_from(">iii", frame, 0)
    if correlation != 42:
        raise ConnectionError(f"correlation id {correlation}")
    pos, ids = 12, set()
    for _ in range(count):
        node_id, host_len = struct.unpack_from(">ih", frame, pos)
        pos += 6 + host_len
        _port, rack_len = struct.unpack_from(">ih", frame, pos)
        pos += 6 + max(rack_len, 0)
        ids.add(node_id)
    return ids


def wait_all_answer(backend: Backend, timeout: float) -> None:
    """Until every broker answers Metadata listing every broker."""
    brokers = backend.status().brokers
    want = {b.node_id for b in brokers}
    pending = {(b.host, b.port) for b in brokers}
    deadline = time.monotonic() + timeout
    last = "no answer"
    while pending:
        for address in list(pending):
            try:
                if want <= metadata_broker_ids(*address):
                    pending.discard(address)
            except (OSError, struct.error) as exc:
                last = f"{address[0]}:{address[1]}: {exc}"
        if pending:
            if time.monotonic() > deadline:
                raise RuntimeError(f"brokers {sorted(pending)} do not answer Metadata ({last})")
            time.sleep(0.01)


def cluster_pids(backend: Backend) -> list[int]:
    # A combined-mode Kafka node is both broker and controller: count its process once.
    return sorted({n.pid for n in backend.status().nodes if n.pid})


def rss_mb(backend: Backend) -> tuple[float, dict[int, float]]:
    per: dict[int, float] = {}
    for pid in cluster_pids(backend):
        with contextlib.suppress(psutil.Error):
            per[pid] = psutil.Process(pid).memory_info().rss / 1e6
    return sum(per.values()), per


def cpu_seconds(backend: Backend) -> float:
    """User + system CPU seconds the cluster's processes have used so far."""
    total = 0.0
    for pid in cluster_pids(backend):
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


# ---------------------------------------------------------------------------------------------
# Backends: creation and guaranteed cleanup


@dataclass
class Managed:
    backend: Backend
    data_dir: Path
    up: bool = False


_MANAGED: list[Managed] = []
KEEP_DIRS = False


def cleanup() -> None:
    """Bring every cluster this run started down and remove its data dir (at exit, too)."""
    while _MANAGED:
        m = _MANAGED.pop()
        if m.up:
            try:
                m.backend.down()
            except Exception as exc:  # a failed down must not keep the others running
                say(f"  ! could not bring {m.backend!r} down: {exc}")
        if not KEEP_DIRS:
            shutil.rmtree(m.data_dir, ignore_errors=True)


def _on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def jvm_available() -> tuple[bool, str]:
    """Whether real Kafka can run here; fetches the oracle jars with the repo's script if needed."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return False, "no java on PATH (install a JDK 17+)"
    script = REPO / "scripts" / "oracle-jars.sh"
    check = subprocess.run([str(script), "--check"], capture_output=True, text=True)
    if check.returncode != 0:
        say("jvm: Apache Kafka jars missing; fetching them with scripts/oracle-jars.sh ...")
        fetch = subprocess.run([str(script)], capture_output=True, text=True, timeout=1800)
        if fetch.returncode != 0:
            reason = (fetch.stderr.strip().splitlines() or ["unknown error"])[-1]
            return False, f"could not fetch the Apache Kafka jars ({reason})"
    try:
        from kafkabook.backends.jvm import default_jars_dir, find_java, find_kafka_jar

        find_java()
        _, version = find_kafka_jar(default_jars_dir())
    except BackendError as exc:
        return False, str(exc)
    return True, version


def new_backend(kind: str) -> Managed:
    data_dir = Path(tempfile.mkdtemp(prefix=f"kb-bench-{kind}-"))
    if kind == "bundled":
        from kafkabook.backends.bundled import BundledBackend

        backend: Backend = BundledBackend(
            data_dir, brokers=3, base_port=free_port_range(4), on_event=lambda _m: None
        )
    elif kind == "jvm":
        from kafkabook.backends.jvm import JvmBackend

        # JvmBackend picks OS-assigned free ports itself and binds 127.0.0.1.
        backend = JvmBackend(data_dir, brokers=3)
    else:
        raise ValueError(kind)
    managed = Managed(backend, data_dir)
    _MANAGED.append(managed)
    return managed


def release(m: Managed) -> None:
    if m.up:
        m.backend.down()
        m.up = False
    if m in _MANAGED:
        _MANAGED.remove(m)
    if not KEEP_DIRS:
        shutil.rmtree(m.data_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Client helpers


def admin_for(bootstrap: str) -> AdminClient:
    logger, _ = client_logger("admin")
    return AdminClient({"bootstrap.servers": bootstrap, "logger": logger})


def create_topic(bootstrap: str, name: str, partitions: int, timeout: float = 60.0) -> None:
    """Create an RF-3 topic (min.insync.replicas 2) and wait until every replica is in sync."""
    admin = admin_for(bootstrap)
    topic = NewTopic(name, partitions, REPLICATION, config={"min.insync.replicas": MIN_ISR})
    admin.create_topics([topic])[name].result(timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            md = admin.list_topics(name, timeout=5).topics[name]
            parts = md.partitions
            if (
                md.error is None
                and len(parts) == partitions
                and all(p.leader >= 0 and len(p.isrs) == REPLICATION for p in parts.values())
            ):
                return
        except KafkaException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {name} not fully in sync after {timeout:g} s")
        time.sleep(0.1)


def partition_state(bootstrap: str, topic: str, partition: int = 0) -> tuple[int, list[int]]:
    md = admin_for(bootstrap).list_topics(topic, timeout=10).topics[topic].partitions[partition]
    return md.leader, list(md.isrs)


def end_offsets(consumer: Consumer, topic: str, partitions: int) -> dict[int, int]:
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
        for p in range(partitions)
    }


def new_consumer(bootstrap: str, extra: dict[str, Any], name: str) -> tuple[Consumer, ClientLog]:
    logger, log = client_logger(name)
    config = {"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:8]}"}
    config.update(CONSUMER_BASE)
    config.update(extra)
    config["logger"] = logger
    return Consumer(config), log


def read_all(bootstrap: str, topic: str, partitions: int, timeout: float) -> list[bytes]:
    """Every record of the topic up to its current end, from the beginning."""
    consumer, _ = new_consumer(bootstrap, {}, "readback")
    try:
        ends = end_offsets(consumer, topic, partitions)
        want = sum(ends.values())
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        values: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(values) < want and time.monotonic() < deadline:
            for msg in consumer.consume(10000, 0.5):
                if msg.error() is None:
                    values.append(msg.value())
        return values
    finally:
        consumer.close()


# ---------------------------------------------------------------------------------------------
# The tests


@dataclass
class Result:
    figures: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)
        say(f"    note: {text}")


def bench_ready(kind: str, starts: int, res: Result, budget_s: float) -> Managed:
    """`starts` cold starts in fresh data dirs; returns the last cluster, still running."""
    times: list[float] = []
    managed: Managed | None = None
    for i in range(starts):
        if managed is not None:
            release(managed)
        managed = new_backend(kind)
        t0 = time.perf_counter()
        managed.up = True  # even a failed up may leave processes behind: down() them at exit
        managed.backend.up()
        wait_all_answer(managed.backend, timeout=60)
        elapsed = time.perf_counter() - t0
        times.append(elapsed)
        say(f"    cold start {i + 1}/{starts}: {elapsed:.2f} s")
        if i + 1 < starts and elapsed > budget_s:
            res.note(
                f"stopped after {i + 1} cold start(s): one took {elapsed:.1f} s "
                f"(> {budget_s:g} s budget)"
            )
            break
    assert managed is not None
    res.figures["ready_s"] = median(times)
    res.figures["ready_starts"] = len(times)
    res.figures["ready_min_s"] = min(times)
    res.figures["ready_max_s"] = max(times)
    return managed


def bench_produce(bootstrap: str, topic: str, records: int, res: Result) -> None:
    logger, log = client_logger("produce")
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCE_CONFIG, "logger": logger})
    failed = [0]
    first_error: list[str] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            failed[0] += 1
            if not first_error:
                first_error.append(str(err))

    # Warm-up outside the clock: metadata and connections to every leader.
    for p in range(PARTITIONS):
        producer.produce(topic, b"w" * VALUE_SIZE, partition=p, on_delivery=report)
    if producer.flush(60):
        raise RuntimeError("warm-up records not delivered within 60 s")
    value = os.urandom(VALUE_SIZE)
    produce, poll = producer.produce, producer.poll
    t0 = time.perf_counter()
    for _ in range(records):
        while True:
            try:
                produce(topic, value, on_delivery=report)
                break
            except BufferError:
                poll(0.005)
        poll(0)
    left = producer.flush(300)
    elapsed = time.perf_counter() - t0
    if left or failed[0]:
        res.note(f"produce: {left} undelivered, {failed[0]} failed ({first_error[:1]})")
    rps = (records - left - failed[0]) / elapsed
    res.figures["produce_rps"] = rps
    res.figures["produce_mbps"] = rps * VALUE_SIZE / 1e6
    res.figures["produce_s"] = elapsed
    if log.count:
        res.note("produce: " + log.summary())


def bench_consume(bootstrap: str, topic: str, res: Result) -> None:
    for label, extra in CONSUME_CONFIGS.items():
        key = CONSUME_KEYS[label]
        consumer, log = new_consumer(bootstrap, extra, key)
        try:
            want = sum(end_offsets(consumer, topic, PARTITIONS).values())
            got = 0
            t0 = time.perf_counter()
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
            deadline = time.monotonic() + 300
            while got < want and time.monotonic() < deadline:
                for msg in consumer.consume(10000, 1.0):
                    if msg.error() is None:
                        got += 1
            elapsed = time.perf_counter() - t0
        finally:
            consumer.close()
        if got < want:
            res.note(f"consume ({label}): got {got} of {want} records within 300 s")
        rps = got / elapsed
        res.figures[f"{key}_rps"] = rps
        res.figures[f"{key}_mbps"] = rps * VALUE_SIZE / 1e6
        say(f"    consume ({label}): {got} records in {elapsed:.2f} s = {rps:,.0f} rec/s")
        if log.count:
            res.note(f"consume ({label}): " + log.summary())


def pace(producer: Producer, due: float) -> None:
    """Wait until `due` (monotonic) inside poll(), so acknowledgements are timed as they arrive.

    poll() takes whole milliseconds and poll(0) returns at once: the last fraction of a
    millisecond is slept, not spun, to leave the CPU to the brokers.
    """
    while (delay := due - time.monotonic()) > 0:
        if delay >= 0.001:
            producer.poll(delay)
        else:
            time.sleep(delay)


def bench_latency(
    bootstrap: str, topic: str, seconds: float, res: Result, rate: int = LATENCY_RATE
) -> None:
    """A producer paced at `rate`; a consumer thread measures now - embedded send time."""
    plog_logger, plog = client_logger("latency-producer")
    producer = Producer(
        {"bootstrap.servers": bootstrap, **LATENCY_PRODUCER_CONFIG, "logger": plog_logger}
    )
    acks: list[float] = []
    last_ack = [0.0]

    def on_ack(err: Any, msg: Any) -> None:
        if err is None:
            now = time.monotonic_ns()
            acks.append((now - struct.unpack_from(">q", msg.value(), 8)[0]) / 1e6)
            last_ack[0] = now / 1e9

    for p in range(PARTITIONS):
        producer.produce(topic, b"w" * VALUE_SIZE, partition=p)
    producer.flush(60)
    consumer, clog = new_consumer(bootstrap, {}, "latency-consumer")
    starts = end_offsets(consumer, topic, PARTITIONS)
    consumer.assign([TopicPartition(topic, p, off) for p, off in starts.items()])
    latencies: list[float] = []
    stop = threading.Event()
    total = int(seconds * rate)

    def consume() -> None:
        # poll() returns each record as soon as it arrives; consume(n, timeout) would wait for
        # n records or the whole timeout and add that wait to the latency.
        poll = consumer.poll
        while not stop.is_set() and len(latencies) < total:
            msg = poll(0.1)
            if msg is not None and msg.error() is None:
                now = time.monotonic_ns()
                latencies.append((now - struct.unpack_from(">q", msg.value(), 8)[0]) / 1e6)

    reader = threading.Thread(target=consume, name="latency-consumer", daemon=True)
    reader.start()
    time.sleep(1.0)  # the consumer connects and sends its first fetches
    pad = b"\0" * (VALUE_SIZE - 16)
    t0 = time.monotonic()
    for i in range(total):
        due = t0 + i / rate
        pace(producer, due)
        value = struct.pack(">qq", i, time.monotonic_ns()) + pad
        producer.produce(topic, value, on_delivery=on_ack)
        producer.poll(0)
    send_s = time.monotonic() - t0
    producer.flush(180)  # a saturated cluster can be many seconds behind
    reader.join(timeout=60)
    stop.set()
    reader.join(timeout=5)
    consumer.close()
    lat = sorted(latencies)
    ack = sorted(acks)
    res.figures["latency_p50_ms"] = percentile(lat, 50)
    res.figures["latency_p99_ms"] = percentile(lat, 99)
    res.figures["latency_max_ms"] = lat[-1] if lat else float("nan")
    res.figures["ack_p50_ms"] = percentile(ack, 50)
    res.figures["ack_p99_ms"] = percentile(ack, 99)
    # What the cluster sustained: below `rate` means requests queued up and latency grew.
    sustained = len(ack) / (last_ack[0] - t0) if ack and last_ack[0] > t0 else float("nan")
    res.figures["latency_sustained_rps"] = min(sustained, float(rate))
    say(
        f"    latency: {len(lat)}/{total} records received (sent in {send_s:.2f} s); "
        f"produce->consume p50 {percentile(lat, 50):.2f} ms, p99 {percentile(lat, 99):.2f} ms, "
        f"max {res.figures['latency_max_ms']:.1f} ms; produce->ack p50 "
        f"{percentile(ack, 50):.2f} ms, p99 {percentile(ack, 99):.2f} ms; acks came at "
        f"{sustained:,.0f} rec/s"
    )
    if sustained < 0.95 * rate:
        res.note(
            f"latency: the cluster acknowledged only {sustained:,.0f} of the {rate:,} records/s "
            "sent, so requests queued up and latency grew during the test (saturated)"
        )
    if len(lat) < total:
        res.note(f"latency: only {len(lat)} of {total} records reached the consumer")
    if send_s > seconds * 1.05:
        res.note(f"latency: the paced producer fell behind ({send_s:.2f} s for {seconds:g} s)")
    for who, log in (("producer", plog), ("consumer", clog)):
        if log.count:
            res.note(f"latency {who}: " + log.summary())


@dataclass
class FailoverRun:
    seconds: float
    lost: int
    duplicates: int
    acked: int
    failed: int
    killed: int
    new_leader: int
    isr_after: list[int]
    longest_gap_s: float
    leader_seen_s: float  # kill -> a surviving broker's Metadata names another leader


class LeaderWatch:
    """The cluster's side of a failover: seconds from the kill until Metadata from a surviving
    broker names a new leader. Asked every 10 ms, by a client that knows only the survivors."""

    def __init__(self, survivors: str, topic: str, old_leader: int) -> None:
        self.admin = admin_for(survivors)
        self.topic = topic
        self.old_leader = old_leader
        self.seconds = float("nan")
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._t_kill = 0.0

    def start(self, t_kill: float) -> None:
        self._t_kill = t_kill
        self._thread.start()

    def _watch(self) -> None:
        deadline = self._t_kill + 60
        while time.monotonic() < deadline:
            try:
                md = self.admin.list_topics(self.topic, timeout=1).topics[self.topic]
                leader = md.partitions[0].leader
            except Exception:  # a broker answering mid-change; ask again
                leader = self.old_leader
            if leader not in (self.old_leader, -1):
                self.seconds = time.monotonic() - self._t_kill
                return
            time.sleep(0.01)

    def result(self) -> float:
        self._thread.join(60)
        return self.seconds


def failover_once(m: Managed, run: int, settle_s: float) -> FailoverRun:
    backend = m.backend
    bootstrap = backend.status().bootstrap
    topic = f"bench-failover-{run}-{uuid.uuid4().hex[:6]}"
    create_topic(bootstrap, topic, 1)
    logger, _ = client_logger("failover-producer")
    producer = Producer(
        {"bootstrap.servers": bootstrap, **FAILOVER_PRODUCER_CONFIG, "logger": logger}
    )
    sent_at: list[float] = []  # by sequence number
    acked: dict[int, float] = {}  # sequence -> ack time
    failed: list[str] = []
    stop = threading.Event()

    def on_ack(err: Any, msg: Any) -> None:
        seq = struct.unpack_from(">q", msg.value(), 0)[0]
        if err is None:
            acked[seq] = time.monotonic()
        else:
            failed.append(str(err))

    def produce() -> None:
        pad = b"\0" * (VALUE_SIZE - 8)
        t0 = time.monotonic()
        i = 0
        while not stop.is_set():
            pace(producer, t0 + i / FAILOVER_RATE)
            sent_at.append(time.monotonic())
            producer.produce(topic, struct.pack(">q", i) + pad, on_delivery=on_ack)
            producer.poll(0)
            i += 1

    thread = threading.Thread(target=produce, name="failover-producer", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(acked) < FAILOVER_RATE and time.monotonic() < deadline:
            time.sleep(0.05)
        if len(acked) < FAILOVER_RATE:
            raise RuntimeError(f"only {len(acked)} acks in 30 s before the kill")
        leader, _isr = partition_state(bootstrap, topic)
        # librdkafka re-asks for metadata on a one-second cycle counted from the producer's
        # start: a kill at a fixed moment would always land at the same point of it and the
        # figure would come out as the same 2.0, 3.0 or 3.9 s. A user's broker dies at any
        # moment, so each run kills at its own (reproducible) point of the cycle.
        time.sleep(random.Random(run).uniform(0.0, 1.0))
        survivors = ",".join(
            f"{b.host}:{b.port}" for b in backend.status().brokers if b.node_id != leader
        )
        watcher = LeaderWatch(survivors, topic, leader)
        t_kill = time.monotonic()
        backend.kill(leader)
        watcher.start(t_kill)
        first_seq = None
        deadline = time.monotonic() + 120
        seconds = None
        while time.monotonic() < deadline:
            if first_seq is None:
                # The first record sent after the kill: only a new leader can acknowledge it.
                first_seq = next((i for i in range(len(sent_at)) if sent_at[i] >= t_kill), None)
            if first_seq is not None:
                after = [t for s, t in list(acked.items()) if s >= first_seq]
                if after:
                    seconds = min(after) - t_kill
                    break
            time.sleep(0.005)
        if seconds is None:
            raise RuntimeError("no acknowledged produce within 120 s of the kill")
        time.sleep(settle_s)  # keep producing on the new leader for a while
    finally:
        stop.set()
        thread.join(30)
    left = producer.flush(120)
    ack_times = sorted(acked.values())
    gaps = [b - a for a, b in itertools.pairwise(ack_times)]
    new_leader, isr_after = partition_state(bootstrap, topic)
    values = read_all(bootstrap, topic, 1, timeout=60)
    seqs = [struct.unpack_from(">q", v, 0)[0] for v in values]
    unique = set(seqs)
    lost = sum(1 for s in acked if s not in unique)
    if left:
        failed.append(f"{left} still undelivered after flush(120)")
    # The next run needs three brokers again.
    backend.start(leader)
    return FailoverRun(
        seconds=seconds,
        lost=lost,
        duplicates=len(seqs) - len(unique),
        acked=len(acked),
        failed=len(failed),
        killed=leader,
        new_leader=new_leader,
        isr_after=isr_after,
        longest_gap_s=max(gaps) if gaps else float("nan"),
        leader_seen_s=watcher.result(),
    )


def bench_failover(m: Managed, runs: int, settle_s: float, res: Result) -> None:
    results: list[FailoverRun] = []
    for run in range(runs):
        r = failover_once(m, run, settle_s)
        results.append(r)
        say(
            f"    failover run {run + 1}/{runs}: killed broker {r.killed}, new leader in "
            f"Metadata after {r.leader_seen_s:.2f} s, first ack after {r.seconds:.2f} s "
            f"(longest ack gap {r.longest_gap_s:.2f} s); new leader "
            f"{r.new_leader}, ISR {r.isr_after}; {r.acked} acked, {r.lost} lost, "
            f"{r.duplicates} duplicates, {r.failed} failed"
        )
    res.figures["failover_s"] = median([r.seconds for r in results])
    res.figures["failover_leader_s"] = median([r.leader_seen_s for r in results])
    res.figures["failover_runs"] = len(results)
    res.figures["failover_lost"] = sum(r.lost for r in results)
    res.figures["failover_dups"] = sum(r.duplicates for r in results)
    res.figures["failover_failed"] = sum(r.failed for r in results)
    res.figures["failover_min_s"] = min(r.seconds for r in results)
    res.figures["failover_max_s"] = max(r.seconds for r in results)


def run_backend(kind: str, args: argparse.Namespace) -> Result:
    res = Result()
    say(f"\n== {kind} ==  (load average {fmt_load()})")
    starts = args.starts if kind == "bundled" else args.jvm_starts

    def step(name: str, fn: Callable[[], None]) -> bool:
        say(f"  {name} ...")
        try:
            fn()
            return True
        except Exception as exc:
            res.note(f"{name} failed: {type(exc).__name__}: {exc}")
            return False

    holder: dict[str, Managed] = {}

    def ready() -> None:
        holder["m"] = bench_ready(kind, starts, res, budget_s=args.start_budget)

    if not step("ready (cold starts)", ready):
        return res
    m = holder["m"]
    bootstrap = m.backend.status().bootstrap
    say(f"    bootstrap {bootstrap}; data dir {m.data_dir}")

    def rss_idle() -> None:
        time.sleep(args.idle_s)
        total, per = rss_mb(m.backend)
        res.figures["rss_idle_mb"] = total
        say(f"    RSS idle: {total:.0f} MB ({', '.join(f'{v:.0f}' for v in per.values())})")

    topic = "bench-produce"

    def produce() -> None:
        if args.warmup:
            # Untimed: the JVM compiles its hot paths and Python imports its lazily loaded
            # protocol classes before the clock runs, for produce, consume and latency alike.
            create_topic(bootstrap, "bench-warmup", PARTITIONS)
            bench_produce(bootstrap, "bench-warmup", args.warmup, Result())
            read_all(bootstrap, "bench-warmup", PARTITIONS, timeout=120)
            say(f"    warm-up: {args.warmup:,} records produced and read back (untimed)")
        create_topic(bootstrap, topic, PARTITIONS)
        bench_produce(bootstrap, topic, args.records, res)
        say(
            f"    produce: {args.records:,} records in {res.figures['produce_s']:.2f} s = "
            f"{res.figures['produce_rps']:,.0f} rec/s, {res.figures['produce_mbps']:.1f} MB/s"
        )

    def rss_after() -> None:
        total, per = rss_mb(m.backend)
        res.figures["rss_after_mb"] = total
        each = ", ".join(f"{v:.0f}" for v in per.values())
        say(f"    RSS after produce: {total:.0f} MB ({each})")

    def latency() -> None:
        create_topic(bootstrap, "bench-latency", PARTITIONS)
        bench_latency(bootstrap, "bench-latency", args.latency_seconds, res, args.latency_rate)

    def failover() -> None:
        bench_failover(m, args.failover_runs, args.failover_settle, res)

    phases = [
        ("RSS idle", "rss", rss_idle),
        ("produce", "produce", produce),
        ("RSS after produce", "rss", rss_after),
        ("consume", "consume", lambda: bench_consume(bootstrap, topic, res)),
        ("latency", "latency", latency),
        ("failover", "failover", failover),
    ]
    for name, test, fn in phases:
        if test not in args.tests:
            continue
        if name == "RSS after produce" and "produce" not in args.tests:
            continue
        if name == "consume" and "produce_rps" not in res.figures:
            res.note("consume skipped: it reads what the produce test wrote")
            continue
        cpu0, wall0, client0 = cpu_seconds(m.backend), time.monotonic(), time.process_time()
        if args.profile and kind == "bundled" and name in PROFILED:
            with profiling(m.backend, Path(args.profile), name, res):
                step(name, fn)
        else:
            step(name, fn)
        if name in ("produce", "consume", "latency"):
            # Killed or restarted processes would falsify the sum: only the steady phases.
            cpu, wall = cpu_seconds(m.backend) - cpu0, time.monotonic() - wall0
            client = time.process_time() - client0  # this process: clients and their threads
            res.figures[f"cpu_{name}_s"] = cpu
            res.figures[f"client_cpu_{name}_s"] = client
            say(
                f"    CPU during {name} ({wall:.1f} s): cluster {cpu:.1f} s = {cpu / wall:.2f} "
                f"cores, benchmark's clients {client:.1f} s = {client / wall:.2f} cores"
            )
    say(f"  {kind}: down  (load average {fmt_load()})")
    release(m)
    return res


# ---------------------------------------------------------------------------------------------
# Optional profiling of the bundled processes (py-spy)

PROFILED = ("produce", "consume", "latency")


@contextlib.contextmanager
def profiling(backend: Backend, out_dir: Path, phase: str, res: Result) -> Iterator[None]:
    """Sample every node of the cluster with `py-spy record` while the phase runs.

    Writes collapsed stacks (D/<phase>-<role><id>.txt, flamegraph-ready) and prints each
    process's top functions by own time and by time including callees.
    """
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        res.note("--profile: py-spy is not installed (pip install py-spy); not profiling")
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    spies: list[tuple[str, Path, subprocess.Popen[bytes]]] = []
    for node in backend.status().nodes:
        if not node.pid:
            continue
        name = f"{node.role}{node.node_id}"
        path = out_dir / f"{phase}-{name}.txt"
        cmd = [py_spy, "record", "--nonblocking", "--format", "raw", "--rate", "250"]
        cmd += ["-p", str(node.pid), "-o", str(path)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        spies.append((name, path, proc))
    time.sleep(0.5)  # py-spy attaches
    try:
        yield
    finally:
        for _name, _path, proc in spies:
            proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for name, path, proc in spies:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if path.exists():
                say(f"    profile {phase} {name}: {summarize_stacks(path)}")


def _frame_name(frame: str) -> str:
    """`func (path/to/file.py:12)` -> `func file.py`."""
    if " (" not in frame:
        return frame
    func, where = frame.split(" (", 1)
    return f"{func} {where.split(':')[0].rsplit('/', 1)[-1]}"


def summarize_stacks(path: Path, top: int = 6) -> str:
    """Top functions of a py-spy raw profile, waiting in epoll left out.

    "own": the innermost frame (where the time is spent); "kafkabook": time including callees,
    for kafkabook's own functions below the event loop and the connection loop.
    """
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    busy = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if "select" in frames[-1].split(" (")[0]:
            idle += n
            continue
        busy += n
        leaf = _frame_name(frames[-1])
        own[leaf] = own.get(leaf, 0) + n
        for name in {_frame_name(f) for f in frames if "kafkabook/" in f and "__main__" not in f}:
            incl[name] = incl.get(name, 0) + n
    if not busy:
        return f"{idle} samples, all waiting"

    def best(d: dict[str, int]) -> str:
        items = sorted(d.items(), key=lambda kv: -kv[1])[:top]
        return "; ".join(f"{k} {100 * v / busy:.0f}%" for k, v in items)

    return f"{busy} busy samples ({idle} in epoll). own: {best(own)}. kafkabook incl.: {best(incl)}"


# ---------------------------------------------------------------------------------------------
# Report


ROWS: list[tuple[str, str, str, str]] = [
    # key, label, unit/format, "lower" or "higher" is better
    ("ready_s", "ready: up() → every broker answers Metadata", "{:.2f} s", "lower"),
    ("rss_idle_mb", "RSS of the cluster, idle", "{:.0f} MB", "lower"),
    ("rss_after_mb", "RSS of the cluster, after produce", "{:.0f} MB", "lower"),
    ("produce_rps", "produce, acks=all, linger.ms=5", "{:,.0f} rec/s", "higher"),
    ("produce_mbps", "produce (values)", "{:.1f} MB/s", "higher"),
    ("consume_default_rps", "consume, default fetch settings", "{:,.0f} rec/s", "higher"),
    ("consume_default_mbps", "consume, default (values)", "{:.1f} MB/s", "higher"),
    ("consume_10mib_rps", "consume, max.partition.fetch.bytes=10 MiB", "{:,.0f} rec/s", "higher"),
    ("consume_10mib_mbps", "consume, 10 MiB (values)", "{:.1f} MB/s", "higher"),
    (
        "consume_nobackoff_rps",
        "consume, client tuned: 10 MiB + fetch.queue.backoff.ms=10",
        "{:,.0f} rec/s",
        "higher",
    ),
    ("consume_nobackoff_mbps", "consume, 10 MiB + backoff 10 ms (values)", "{:.1f} MB/s", "higher"),
    ("latency_p50_ms", "produce→consume latency p50 @{rate}/s", "{:.2f} ms", "lower"),
    ("latency_p99_ms", "produce→consume latency p99 @{rate}/s", "{:.2f} ms", "lower"),
    ("latency_max_ms", "produce→consume latency max @{rate}/s", "{:.1f} ms", "lower"),
    ("ack_p50_ms", "produce→ack p50 @{rate}/s (acks=all)", "{:.2f} ms", "lower"),
    ("ack_p99_ms", "produce→ack p99 @{rate}/s (acks=all)", "{:.2f} ms", "lower"),
    ("latency_sustained_rps", "acks=all rate sustained in that test", "{:,.0f} rec/s", "higher"),
    ("failover_s", "failover: leader SIGKILL → first ack", "{:.2f} s", "lower"),
    ("failover_leader_s", "failover: SIGKILL → new leader in Metadata", "{:.2f} s", "lower"),
    ("failover_lost", "failover: acked records lost", "{:.0f}", "lower"),
    ("failover_dups", "failover: duplicates", "{:.0f}", "lower"),
]


def fmt(value: float | None, pattern: str) -> str:
    if value is None or value != value:
        return "—"
    return pattern.format(value)


def verdict(key: str, value: float | None) -> str:
    if key not in TARGETS:
        return ""
    op, bound, label = TARGETS[key]
    if value is None or value != value:
        return f"{label} —"
    ok = value <= bound if op == "<=" else value >= bound
    return f"{label} {'PASS' if ok else 'MISS'}"


def report(results: dict[str, Result], args: argparse.Namespace) -> None:
    b = results.get("bundled")
    j = results.get("jvm")
    say("\n== results ==")
    say(f"records {args.records:,} × {VALUE_SIZE} B; MB = 10^6 bytes of record values")
    header = "| figure | bundled | jvm | bundled/jvm | target (bundled) |"
    say(header)
    say("|---|---:|---:|---:|---|")
    for key, label, pattern, _better in ROWS:
        label = label.replace("{rate}", f"{args.latency_rate:,}")
        bv = b.figures.get(key) if b else None
        jv = j.figures.get(key) if j else None
        if bv is None and jv is None:
            continue  # a test left out with --tests, or failed (see the notes)
        if key == "ready_s":
            label += f" (median of {fmt(b.figures.get('ready_starts') if b else None, '{:.0f}')}"
            label += f" / {fmt(jv and j.figures.get('ready_starts'), '{:.0f}')})"
        if key == "failover_s":
            runs_b = fmt(b.figures.get("failover_runs") if b else None, "{:.0f}")
            runs_j = fmt(j.figures.get("failover_runs") if j else None, "{:.0f}")
            label += f" (median of {runs_b} / {runs_j})"
        ratio = "—"
        if bv is not None and jv is not None and jv == jv and bv == bv and jv:
            ratio = f"{bv / jv:.2f}×"
        say(f"| {label} | {fmt(bv, pattern)} | {fmt(jv, pattern)} | {ratio} | {verdict(key, bv)} |")
    for kind, res in results.items():
        f = res.figures
        if "ready_s" in f:
            say(
                f"{kind}: cold starts {f['ready_min_s']:.2f}–{f['ready_max_s']:.2f} s"
                + (
                    f"; failover {f['failover_min_s']:.2f}–{f['failover_max_s']:.2f} s, "
                    f"{f['failover_failed']:.0f} failed deliveries"
                    if "failover_s" in f
                    else ""
                )
            )
        for note in res.notes:
            say(f"{kind} note: {note}")


def fmt_load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} cpu(s), {model}, {mem:.1f} GiB; Python {platform.python_version()}; "
        f"confluent-kafka {confluent_version()[0]} (librdkafka {rdkafka_version()[0]})"
    )


def main(argv: list[str] | None = None) -> int:
    global KEEP_DIRS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="bundled,jvm", help="comma-separated: bundled,jvm")
    parser.add_argument(
        "--quick", action="store_true", help="200,000 records, 5 s of latency, 1 failover run"
    )
    parser.add_argument("--records", type=int, help="records to produce (1,000,000; quick 200,000)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=100_000,
        help="untimed records produced and read back first (100,000; 0: none)",
    )
    parser.add_argument("--starts", type=int, default=3, help="cold starts of the bundled cluster")
    parser.add_argument("--jvm-starts", type=int, default=3, help="cold starts of the jvm cluster")
    parser.add_argument(
        "--start-budget",
        type=float,
        default=60.0,
        help="skip the remaining cold starts when one took longer (s)",
    )
    parser.add_argument("--latency-seconds", type=float, help="latency test length (10; quick 5)")
    parser.add_argument(
        "--latency-rate",
        type=int,
        default=LATENCY_RATE,
        help="records/s of the latency test (1000)",
    )
    parser.add_argument(
        "--tests",
        default=",".join(TESTS),
        help=f"comma-separated subset of {','.join(TESTS)} (ready always runs)",
    )
    parser.add_argument("--failover-runs", type=int, help="failover runs (5; quick 1)")
    parser.add_argument(
        "--failover-settle",
        type=float,
        default=2.0,
        help="seconds to keep producing after the first post-kill ack",
    )
    parser.add_argument("--idle-s", type=float, default=3.0, help="idle seconds before idle RSS")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dirs")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy the bundled processes during produce, consume and latency; "
        "collapsed stacks go to DIR",
    )
    args = parser.parse_args(argv)
    args.records = args.records or (200_000 if args.quick else 1_000_000)
    args.latency_seconds = args.latency_seconds or (5.0 if args.quick else 10.0)
    args.failover_runs = args.failover_runs or (1 if args.quick else 5)
    KEEP_DIRS = args.keep
    args.tests = {t.strip() for t in args.tests.split(",") if t.strip()}
    for test in args.tests - set(TESTS):
        parser.error(f"unknown test {test!r} ({', '.join(TESTS)})")
    kinds = [k.strip() for k in args.backends.split(",") if k.strip()]
    for kind in kinds:
        if kind not in ("bundled", "jvm"):
            parser.error(f"unknown backend {kind!r} (bundled, jvm)")

    atexit.register(cleanup)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    say(f"kafkabook cluster benchmark, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    say(f"machine: {machine()}")
    say(f"load average at start: {fmt_load()}")
    say(
        f"produce config: {PRODUCE_CONFIG} (+ client defaults); consume: assign() from the "
        f"beginning, {CONSUMER_BASE}; latency producer {LATENCY_PRODUCER_CONFIG}; "
        f"failover producer {FAILOVER_PRODUCER_CONFIG}"
    )
    if "jvm" in kinds:
        ok, detail = jvm_available()
        if ok:
            from kafkabook.backends.jvm import DEFAULT_JVM_OPTS

            say(
                f"jvm: Apache Kafka {detail}, KRaft combined mode, JvmBackend defaults "
                f"({' '.join(DEFAULT_JVM_OPTS)})"
            )
        else:
            say(f"jvm: skipped, {detail}. Running bundled only.")
            kinds = [k for k in kinds if k != "jvm"]
    results: dict[str, Result] = {}
    try:
        for kind in kinds:
            results[kind] = run_backend(kind, args)
    finally:
        cleanup()
    report(results, args)
    say(f"load average at end: {fmt_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
