"""Where the time goes in bench_cluster.py's failover test: one timeline per leader kill.

    python benchmarks/failover_timeline.py [--backend bundled|jvm] [--runs 5]

Same scenario as bench_cluster.py (a confluent-kafka producer, acks=all, linger.ms=0, 500 records/s
to a 1-partition RF-3 topic with min.insync.replicas=2; SIGKILL of the leader once 500 records
are acknowledged), with wall-clock timestamps relative to the kill:

* fence: when the surviving brokers' Metadata first names a new leader (polled every 5 ms), and
  for the bundled cluster the controller's "missed heartbeats" line, which says how long before
  the fence the dead broker's last heartbeat came;
* scans: librdkafka's once-a-second "broker is down: re-query" Metadata requests;
* learned: when librdkafka applied the new leader from a Metadata answer;
* race: librdkafka then dropped the partition to its internal broker again (it decommissioned the
  dead broker in the same answer, see docs/performance.md) and waited for the next scan;
* ack: the acknowledgement of the first record sent after the kill (bench_cluster's figure).

The producer logs with debug=topic,metadata, which slows it a little. ``--backend jvm`` runs real
Kafka with a separate controller and the bundled cluster's timings (``--session-ms`` 2000,
heartbeats every 500 ms), so that only the implementation differs.
"""

from __future__ import annotations

import argparse
import logging
import re
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_cluster as bc
from confluent_kafka import Producer
from kio.schema.metadata.v12 import request as metadata_request

from kafkabook.protocol.build import build
from kafkabook.protocol.framing import decode_response, encode_request

RATE = bc.FAILOVER_RATE
LOG_LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) .*?: (.*)")


def partition_leader(host: str, port: int, topic: str) -> tuple[int, tuple[int, ...]]:
    """(leader, isr) of partition 0 as one broker answers Metadata v12."""
    body = build(
        metadata_request.MetadataRequest,
        topics=[{"name": topic, "topic_id": uuid.UUID(int=0)}],
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=False,
    )
    with socket.create_connection((host, port), timeout=1) as sock:
        sock.settimeout(1)
        sock.sendall(encode_request(body, 1, "failover-timeline"))
        (size,) = struct.unpack(">i", bc._recv_exactly(sock, 4))
        _, response = decode_response(3, 12, bc._recv_exactly(sock, size))
    part = response.topics[0].partitions[0]
    return part.leader_id, tuple(part.isr_nodes)


@dataclass
class Timeline:
    killed: int
    fence: float | None
    last_heartbeat_ms: int | None
    scans: list[float]
    learned: float | None
    race: bool
    ack: float


def one_kill(m: bc.Managed, run: int) -> Timeline:
    backend = m.backend
    status = backend.status()
    topic = f"timeline-{run}-{uuid.uuid4().hex[:6]}"
    bc.create_topic(status.bootstrap, topic, 1)
    client_log: list[tuple[float, str]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            client_log.append((time.time(), record.getMessage()))

    logger = logging.getLogger(f"failover-timeline-{run}")
    logger.propagate = False
    logger.addHandler(Capture())
    logger.setLevel(logging.DEBUG)
    producer = Producer(
        {
            "bootstrap.servers": status.bootstrap,
            **bc.FAILOVER_PRODUCER_CONFIG,
            "debug": "topic,metadata",
            "logger": logger,
        }
    )
    sent_at: list[float] = []
    acked: dict[int, float] = {}
    stop = threading.Event()

    def on_ack(err: object, msg: object) -> None:
        if err is None:
            acked[struct.unpack_from(">q", msg.value(), 0)[0]] = time.time()  # type: ignore[attr-defined]

    def produce() -> None:
        pad = b"\0" * (bc.VALUE_SIZE - 8)
        t0 = time.monotonic()
        i = 0
        while not stop.is_set():
            bc.pace(producer, t0 + i / RATE)
            sent_at.append(time.time())
            producer.produce(topic, struct.pack(">q", i) + pad, on_delivery=on_ack)
            producer.poll(0)
            i += 1

    sender = threading.Thread(target=produce, daemon=True)
    sender.start()
    while len(acked) < RATE:
        time.sleep(0.05)
    leader, _ = bc.partition_state(status.bootstrap, topic)
    moved: list[float] = []
    polling = threading.Event()

    def poll(host: str, port: int) -> None:
        while not polling.is_set():
            try:
                if partition_leader(host, port, topic)[0] not in (leader, -1):
                    moved.append(time.time())
                    return
            except (OSError, struct.error, IndexError):
                pass
            time.sleep(0.005)

    pollers = [
        threading.Thread(target=poll, args=(b.host, b.port), daemon=True)
        for b in status.brokers
        if b.node_id != leader
    ]
    for p in pollers:
        p.start()
    t_kill = time.time()
    backend.kill(leader)
    first_ack = None
    deadline = time.monotonic() + 60
    while first_ack is None and time.monotonic() < deadline:
        first = next((i for i, t in enumerate(sent_at) if t >= t_kill), None)
        after = [t for s, t in list(acked.items()) if first is not None and s >= first]
        first_ack = min(after) if after else None
        time.sleep(0.005)
    stop.set()
    polling.set()
    sender.join(30)
    producer.flush(30)
    if first_ack is None:
        raise RuntimeError("no acknowledgement within 60 s of the kill")

    def rel(t: float | None) -> float | None:
        return None if t is None else t - t_kill

    after_kill = [(t, line) for t, line in client_log if t > t_kill]
    scans = [t for t, line in after_kill if "QRYLEADER" in line]
    learned = [t for t, line in after_kill if "applying leader-id update" in line]
    race = bool(learned) and any(
        "broker is internal" in line for t, line in after_kill if t > learned[0]
    )
    fence, last_heartbeat = (min(moved) if moved else None), None
    controller_log = m.data_dir / "logs" / "controller.log"
    if controller_log.exists():  # bundled: the controller says when and why it fenced
        for line in controller_log.read_text().splitlines():
            match = LOG_LINE.match(line)
            if match and f"broker {leader} missed heartbeats" in match.group(3):
                stamp = time.mktime(time.strptime(match.group(1), "%Y-%m-%d %H:%M:%S"))
                stamp += int(match.group(2)) / 1000
                if stamp >= t_kill:
                    fence = stamp
                    ago = re.search(r"last heartbeat (\d+) ms ago", match.group(3))
                    last_heartbeat = int(ago.group(1)) if ago else None
                    break
    backend.start(leader)
    bc.wait_all_answer(backend, 60)
    return Timeline(
        killed=leader,
        fence=rel(fence),
        last_heartbeat_ms=last_heartbeat,
        scans=[t - t_kill for t in scans],
        learned=rel(learned[0] if learned else None),
        race=race,
        ack=first_ack - t_kill,
    )


def new_cluster(kind: str, session_ms: int, heartbeat_ms: int) -> bc.Managed:
    if kind == "bundled":
        return bc.new_backend("bundled")
    from kafkabook.backends.jvm import JvmBackend

    data_dir = Path(tempfile.mkdtemp(prefix="kb-timeline-jvm-"))
    backend = JvmBackend(
        data_dir,
        brokers=3,
        mode="separate",
        controllers=1,
        configs={
            "broker.session.timeout.ms": str(session_ms),
            "broker.heartbeat.interval.ms": str(heartbeat_ms),
        },
    )
    managed = bc.Managed(backend, data_dir)
    bc._MANAGED.append(managed)
    return managed


def fmt(value: float | None) -> str:
    return "   —  " if value is None else f"{value:6.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("bundled", "jvm"), default="bundled")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--session-ms", type=int, default=2000, help="jvm only")
    parser.add_argument("--heartbeat-ms", type=int, default=500, help="jvm only")
    args = parser.parse_args(argv)
    bc.say(f"failover timeline, {args.backend}, load average {bc.fmt_load()}")
    m = new_cluster(args.backend, args.session_ms, args.heartbeat_ms)
    try:
        m.backend.up()
        m.up = True
        bc.wait_all_answer(m.backend, 120)
        bc.say("seconds after the kill: fence (last heartbeat before it), librdkafka scans, ")
        bc.say("leader learned by the client, race, first ack")
        results = []
        for run in range(args.runs):
            t = one_kill(m, run)
            results.append(t)
            heartbeat = f" ({t.last_heartbeat_ms} ms)" if t.last_heartbeat_ms is not None else ""
            scans = " ".join(f"{s:.2f}" for s in t.scans)
            bc.say(
                f"  run {run + 1}: killed {t.killed}; fence {fmt(t.fence)}{heartbeat}; "
                f"scans {scans}; learned {fmt(t.learned)}; race {'yes' if t.race else 'no '}; "
                f"ack {t.ack:.3f}"
            )
        acks = [t.ack for t in results]
        bc.say(
            f"first ack: median {statistics.median(acks):.2f} s, {min(acks):.2f}–{max(acks):.2f} s;"
            f" races {sum(t.race for t in results)}/{len(results)}; "
            f"load average {bc.fmt_load()}"
        )
    finally:
        bc.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
