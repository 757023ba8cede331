"""Rebalance benchmark: how long a 3-member consumer group takes to rebalance after a member leaves.

    python benchmarks/bench_rebalance.py [--backends bundled,jvm] [--rounds 5]

For each backend it starts a 3-broker cluster in a fresh temporary directory (127.0.0.1, free
ports), creates a 6-partition topic, and runs rounds of: three confluent-kafka consumers
(librdkafka, eager "range" assignment, heartbeat.interval.ms 1000, session.timeout.ms 10000)
join one new group and settle on two partitions each; then one closes (LeaveGroup) and the
clock runs until both survivors own three partitions each. It prints, per backend, the time
the first join took and the rebalance after the leave (median, min, max over the rounds), and
the machine it ran on.

The survivors learn of the rebalance from their next heartbeat, and the member leaves right
after the group settles, when every heartbeat is about one interval away: the figure is
heartbeat.interval.ms plus the JoinGroup/SyncGroup round, on any broker. Comparing backends in
one run is what tells. This is a benchmark, not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # measure this checkout

from confluent_kafka import Consumer  # noqa: E402
from confluent_kafka import libversion as rdkafka_version  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from kafkabook.backends.base import Backend  # noqa: E402

PARTITIONS = 6
MEMBERS = 3
CONSUMER_CONFIG = {
    "session.timeout.ms": 10000,
    "heartbeat.interval.ms": 1000,
    "partition.assignment.strategy": "range",
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
}


@dataclass
class Member:
    """One consumer polling in its own thread; `assignment` is what it owns now."""

    consumer: Consumer
    assignment: frozenset[int] = frozenset()
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            self.consumer.poll(0.02)
            self.assignment = frozenset(tp.partition for tp in self.consumer.assignment())

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(10)
        self.consumer.close()  # LeaveGroup


def start_member(bootstrap: str, group: str, topic: str, name: str) -> Member:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "client.id": name, **CONSUMER_CONFIG}
    )
    consumer.subscribe([topic])
    member = Member(consumer)
    member.thread = threading.Thread(target=member.run, daemon=True)
    member.thread.start()
    return member


def wait_for(predicate, timeout: float) -> float:
    """Seconds until predicate() holds (polled every 5 ms); raises TimeoutError."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError("the group did not settle")
        time.sleep(0.005)
    return time.monotonic() - start


def balanced(members: list[Member]) -> bool:
    owned = [m.assignment for m in members]
    share = PARTITIONS // len(members)
    return all(len(a) == share for a in owned) and frozenset().union(*owned) == frozenset(
        range(PARTITIONS)
    )


def free_port_block(count: int) -> int:
    for base in range(21000, 31000, count + 7):
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


def start_cluster(kind: str, data_dir: Path) -> Backend:
    if kind == "bundled":
        from kafkabook.backends.bundled import BundledBackend

        backend: Backend = BundledBackend(
            data_dir=data_dir, brokers=3, base_port=free_port_block(4)
        )
    else:
        from kafkabook.backends.jvm import JvmBackend

        backend = JvmBackend(data_dir, brokers=3, configs={"group.initial.rebalance.delay.ms": "0"})
    backend.up()
    return backend


def run_backend(kind: str, rounds: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory(prefix=f"bench-rebalance-{kind}-") as tmp:
        backend = start_cluster(kind, Path(tmp))
        try:
            bootstrap = backend.bootstrap
            admin = AdminClient({"bootstrap.servers": bootstrap})
            topic = f"rebalance-{uuid.uuid4().hex[:6]}"
            admin.create_topics([NewTopic(topic, PARTITIONS, 3)])[topic].result(30)
            joins, leaves = [], []
            for round_ in range(rounds + 1):  # round 0 warms up (creates __consumer_offsets)
                group = f"bench-{uuid.uuid4().hex[:8]}"
                started = time.monotonic()
                members = [
                    start_member(bootstrap, group, topic, f"member-{i}") for i in range(MEMBERS)
                ]
                wait_for(lambda members=members: balanced(members), 60)
                joined = time.monotonic() - started
                leaving, survivors = members[0], members[1:]
                left_at = time.monotonic()
                leaving.close()
                wait_for(lambda survivors=survivors: balanced(survivors), 60)
                leave = time.monotonic() - left_at
                for m in survivors:
                    m.close()
                if round_:
                    joins.append(joined)
                    leaves.append(leave)
                    print(
                        f"  {kind} round {round_}: 3 members settled in {joined:.2f} s, "
                        f"rebalanced after a leave in {leave:.2f} s",
                        flush=True,
                    )
            return joins, leaves
        finally:
            backend.down()


def machine() -> str:
    model = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
        memory = f"{pages:.1f} GiB"
    except (ValueError, OSError):
        memory = "? GiB"
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cpu(s), {model}, {memory}; "
        f"Python {platform.python_version()}; librdkafka {rdkafka_version()[0]}"
    )


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} s (min {min(values):.2f}, "
        f"max {max(values):.2f}, n={len(values)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="bundled", help="comma-separated: bundled, jvm")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    print(f"consumer: {CONSUMER_CONFIG}")
    results = {}
    for kind in args.backends.split(","):
        results[kind] = run_backend(kind.strip(), args.rounds)
    print()
    for kind, (joins, leaves) in results.items():
        print(f"{kind:8} 3 members join a new group:          {summary(joins)}")
        print(f"{kind:8} rebalance after one member leaves:  {summary(leaves)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
