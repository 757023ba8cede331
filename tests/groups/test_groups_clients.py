"""Consumer groups with unmodified clients: confluent-kafka (librdkafka), kafka-python, aiokafka.

Every group member runs in its own process (``member.py``), so a test can SIGKILL one the way a
crashed consumer dies. Members use a 6 s session timeout (Kafka's minimum) and 1 s heartbeats.
Admin views (DescribeGroups, ListGroups, OffsetFetch, ListOffsets) go through each client's own
admin API.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from .kwire import find_coordinator

CLIENTS = ["confluent-kafka", "kafka-python", "aiokafka"]
MEMBER_SCRIPT = Path(__file__).with_name("member.py")
SESSION_TIMEOUT_S = 6.0
ALL = [0, 1, 2]


def wait_until(predicate, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class MemberProcess:
    """A group member in a child process, as seen through the JSON lines it prints."""

    def __init__(
        self,
        client: str,
        bootstrap: str,
        group: str,
        topic: str,
        client_id: str,
        log_dir: Path,
        instance_id: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.log_path = log_dir / f"{client_id}-{uuid.uuid4().hex[:4]}.log"
        argv = [sys.executable, str(MEMBER_SCRIPT), client, bootstrap, group, topic, client_id]
        if instance_id:
            argv += ["--instance-id", instance_id]
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self.assignment: list[int] | None = None
        self.assignments: list[list[int]] = []
        self.records: list[tuple[int, int, str]] = []
        self.events: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event["event"]
            if kind == "assignment":
                self.assignment = event["partitions"]
                self.assignments.append(event["partitions"])
            elif kind == "records":
                self.records.extend(tuple(r) for r in event["records"])
            self.events.append(kind)

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def commit(self, timeout: float = 15) -> None:
        """Commit the consumed positions; a commit refused by a rebalance is retried, as an
        application would after its next poll."""
        deadline = time.monotonic() + timeout
        while True:
            done, failed = self.events.count("committed"), self.events.count("commit_failed")
            self.send("commit")
            assert wait_until(
                lambda done=done, failed=failed: (
                    self.events.count("committed") > done
                    or self.events.count("commit_failed") > failed
                ),
                timeout,
            ), self.diagnose()
            if self.events.count("committed") > done:
                return
            assert time.monotonic() < deadline, self.diagnose()
            time.sleep(0.5)

    def close(self, timeout: float = 20) -> None:
        """Close the consumer (LeaveGroup) and wait for the process to exit."""
        self.send("close")
        self.proc.wait(timeout)
        assert "closed" in self.events, self.diagnose()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def values(self) -> list[str]:
        return [v for _, _, v in self.records]

    def diagnose(self) -> str:
        self._log.flush()
        tail = self.log_path.read_text()[-2000:]
        return f"{self.client_id}: events={self.events[-10:]} assignment={self.assignment}\n{tail}"

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


@pytest.fixture
def spawn(tmp_path):
    """spawn(client, bootstrap, group, topic, client_id, instance_id=None) -> MemberProcess;
    every member still alive at the end of the test is killed."""
    started: list[MemberProcess] = []

    def make(*args, instance_id=None) -> MemberProcess:
        member = MemberProcess(*args, log_dir=tmp_path, instance_id=instance_id)
        started.append(member)
        return member

    yield make
    for member in started:
        member.cleanup()


def create_topic(bootstrap: str, partitions: int = 3) -> str:
    name = f"grp-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 3)])[name].result(15)
    return name


def produce(bootstrap: str, topic: str, values: list[str], partitions: int = 3) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i, value in enumerate(values):
        producer.produce(topic, value.encode(), partition=i % partitions)
    assert producer.flush(20) == 0


def split_evenly(members: list[MemberProcess]) -> bool:
    """Every member has a non-empty assignment; together they own each partition once."""
    owned = [m.assignment for m in members]
    if any(not a for a in owned):
        return False
    flat = sorted(p for a in owned for p in a)
    return flat == ALL


def assert_split(members: list[MemberProcess], timeout: float = 30) -> None:
    assert wait_until(lambda: split_evenly(members), timeout), "\n".join(
        m.diagnose() for m in members
    )


# -- admin views through each client's API --------------------------------------------------------


def describe_group(client: str, bootstrap: str, group: str) -> dict:
    """{"state": ..., "members": {client_id: (host, sorted partitions)}} via the client's admin."""
    if client == "confluent-kafka":
        admin = AdminClient({"bootstrap.servers": bootstrap})
        desc = admin.describe_consumer_groups([group])[group].result(15)
        return {
            "state": desc.state.name.lower(),
            "protocol": desc.partition_assignor,
            "members": {
                m.client_id: (m.host, sorted(tp.partition for tp in m.assignment.topic_partitions))
                for m in desc.members
            },
        }
    if client == "kafka-python":
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            desc = admin.describe_groups([group])[group]
        finally:
            admin.close()
        return {
            "state": desc["group_state"].lower(),
            "protocol": desc["protocol_data"],
            "members": {
                m["client_id"]: (
                    m["client_host"],
                    sorted(
                        p
                        # An idle member's empty assignment comes back undecoded (b"" or "").
                        for a in (m["member_assignment"] or {}).get("assigned_partitions", [])
                        for p in a["partitions"]
                    ),
                )
                for m in desc["members"]
            },
        }

    async def go():
        from aiokafka.admin import AIOKafkaAdminClient
        from aiokafka.protocol.group import MemberAssignment

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            (response,) = await admin.describe_consumer_groups([group])
        finally:
            await admin.close()
        (g,) = response.groups
        error, _, state, _, protocol, members = g[:6]
        assert error == 0
        out = {}
        for _member_id, client_id, host, _metadata, assignment in members:
            parsed = MemberAssignment.decode(assignment) if assignment else None
            out[client_id] = (
                host,
                sorted(p for _, parts in (parsed.assignment if parsed else []) for p in parts),
            )
        return {"state": state.lower(), "protocol": protocol, "members": out}

    return asyncio.run(go())


def listed_groups(client: str, bootstrap: str) -> set[str]:
    if client == "confluent-kafka":
        admin = AdminClient({"bootstrap.servers": bootstrap})
        result = admin.list_consumer_groups().result(15)
        return {g.group_id for g in result.valid}
    if client == "kafka-python":
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            return {g["group_id"] for g in admin.list_groups()}
        finally:
            admin.close()

    async def go():
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return {g[0] for g in await admin.list_consumer_groups()}
        finally:
            await admin.close()

    return asyncio.run(go())


def committed_and_end_offsets(
    client: str, bootstrap: str, group: str, topic: str
) -> tuple[dict[int, int | None], dict[int, int]]:
    """(committed offset per partition from OffsetFetch, log end offset from ListOffsets)."""
    if client == "confluent-kafka":
        from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition

        admin = AdminClient({"bootstrap.servers": bootstrap})
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in ALL])
        answer = admin.list_consumer_group_offsets([request])[group].result(15)
        committed = {
            tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in answer.topic_partitions
        }
        probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe-" + group})
        try:
            ends = {
                p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in ALL
            }
        finally:
            probe.close()
        return committed, ends
    if client == "kafka-python":
        from kafka import KafkaConsumer, TopicPartition
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            fetched = admin.list_group_offsets({group: [TopicPartition(topic, p) for p in ALL]})
        finally:
            admin.close()
        offsets = fetched[group]
        committed = {
            tp.partition: (o.offset if o.offset >= 0 else None) for tp, o in offsets.items()
        }
        probe = KafkaConsumer(bootstrap_servers=bootstrap)
        try:
            ends = {
                tp.partition: o
                for tp, o in probe.end_offsets([TopicPartition(topic, p) for p in ALL]).items()
            }
        finally:
            probe.close()
        return committed, ends

    async def go():
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(
                group, partitions=[TopicPartition(topic, p) for p in ALL]
            )
        finally:
            await admin.close()
        committed = {
            tp.partition: (o.offset if o.offset >= 0 else None) for tp, o in offsets.items()
        }
        probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await probe.start()
        try:
            ends = await probe.end_offsets([TopicPartition(topic, p) for p in ALL])
        finally:
            await probe.stop()
        return committed, {tp.partition: o for tp, o in ends.items()}

    return asyncio.run(go())


# -- membership -----------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_two_members_split_then_a_leaver_hands_over(bundled_cluster, spawn, client):
    bootstrap = bundled_cluster.bootstrap
    topic, group = create_topic(bootstrap), f"split-{uuid.uuid4().hex[:6]}"
    a = spawn(client, bootstrap, group, topic, "member-a")
    b = spawn(client, bootstrap, group, topic, "member-b")
    assert_split([a, b])

    described = describe_group(client, bootstrap, group)
    assert described["state"] == "stable"
    assert described["protocol"] in ("range", "roundrobin", "cooperative-sticky", "sticky")
    assert described["members"] == {
        "member-a": ("/127.0.0.1", a.assignment),
        "member-b": ("/127.0.0.1", b.assignment),
    }
    assert group in listed_groups(client, bootstrap)

    left_at = time.monotonic()
    a.close()
    assert wait_until(lambda: b.assignment == ALL, SESSION_TIMEOUT_S), b.diagnose()
    print(
        f"\n{client}: after a LeaveGroup the survivor owned all partitions in "
        f"{time.monotonic() - left_at:.2f} s"
    )


@pytest.mark.parametrize("client", CLIENTS)
def test_sigkilled_member_loses_its_partitions(bundled_cluster, spawn, client):
    bootstrap = bundled_cluster.bootstrap
    topic, group = create_topic(bootstrap), f"crash-{uuid.uuid4().hex[:6]}"
    a = spawn(client, bootstrap, group, topic, "member-a")
    b = spawn(client, bootstrap, group, topic, "member-b")
    assert_split([a, b])
    killed_at = time.monotonic()
    a.kill()
    # Kafka notices at the end of the session timeout; the survivor rejoins at its next
    # heartbeat (1 s), so allow one heartbeat interval plus the rebalance itself.
    assert wait_until(lambda: b.assignment == ALL, SESSION_TIMEOUT_S + 3), b.diagnose()
    elapsed = time.monotonic() - killed_at
    print(f"\n{client}: after a SIGKILL the survivor owned all partitions in {elapsed:.2f} s")
    assert elapsed > SESSION_TIMEOUT_S - 1.5  # not before the session could have expired


@pytest.mark.parametrize("client", CLIENTS)
def test_a_fourth_member_on_three_partitions_stays_idle(bundled_cluster, spawn, client):
    bootstrap = bundled_cluster.bootstrap
    topic, group = create_topic(bootstrap), f"idle-{uuid.uuid4().hex[:6]}"
    members = [spawn(client, bootstrap, group, topic, f"member-{i}") for i in range(4)]

    def one_idle() -> bool:
        owned = [m.assignment for m in members]
        if any(a is None for a in owned):
            return False
        return (
            sorted(len(a) for a in owned) == [0, 1, 1, 1]
            and sorted(p for a in owned for p in a) == ALL
        )

    assert wait_until(one_idle, 40), "\n".join(m.diagnose() for m in members)
    described = describe_group(client, bootstrap, group)
    assert sorted(len(parts) for _, parts in described["members"].values()) == [0, 1, 1, 1], (
        f"{described}\n" + "\n".join(m.diagnose() for m in members)
    )


# -- offsets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_groups_read_independently_and_resume_after_commit(bundled_cluster, spawn, client):
    bootstrap = bundled_cluster.bootstrap
    topic = create_topic(bootstrap)
    first_batch = [f"first-{i}" for i in range(30)]
    produce(bootstrap, topic, first_batch)
    g1, g2 = f"one-{uuid.uuid4().hex[:6]}", f"two-{uuid.uuid4().hex[:6]}"

    reader = spawn(client, bootstrap, g1, topic, "reader-1")
    other = spawn(client, bootstrap, g2, topic, "reader-2")
    for m in (reader, other):  # each group reads everything, on its own
        assert wait_until(lambda m=m: len(m.records) >= 30, 30), m.diagnose()
        assert sorted(m.values()) == sorted(first_batch)
    reader.commit()
    reader.close()
    other.close()

    second_batch = [f"second-{i}" for i in range(9)]
    produce(bootstrap, topic, second_batch)
    again = spawn(client, bootstrap, g1, topic, "reader-1-again")
    assert wait_until(lambda: len(again.records) >= 9, 30), again.diagnose()
    time.sleep(0.5)  # anything re-read from before the commit would show up by now
    assert sorted(again.values()) == sorted(second_batch)
    assert min(o for _, o, _ in again.records) == 10  # right after the commit, 10 per partition


@pytest.mark.parametrize("client", CLIENTS)
def test_lag_per_partition(bundled_cluster, spawn, client):
    bootstrap = bundled_cluster.bootstrap
    topic, group = create_topic(bootstrap), f"lag-{uuid.uuid4().hex[:6]}"
    produce(bootstrap, topic, [f"v{i}" for i in range(30)])  # 10 per partition
    member = spawn(client, bootstrap, group, topic, "lagger")
    assert wait_until(lambda: len(member.records) >= 30, 30), member.diagnose()
    member.commit()
    member.close()
    produce(bootstrap, topic, [f"late-{i}" for i in range(7)])  # partitions 0,1,2,0,1,2,0

    committed, ends = committed_and_end_offsets(client, bootstrap, group, topic)
    assert committed == {0: 10, 1: 10, 2: 10}
    assert ends == {0: 13, 1: 12, 2: 12}
    lag = {p: ends[p] - committed[p] for p in ALL}
    assert lag == {0: 3, 1: 2, 2: 2}


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_static_member_restart_without_rebalance(bundled_cluster, spawn, client):
    bootstrap = bundled_cluster.bootstrap
    topic, group = create_topic(bootstrap), f"static-{uuid.uuid4().hex[:6]}"
    a = spawn(client, bootstrap, group, topic, "static-a", instance_id="instance-a")
    b = spawn(client, bootstrap, group, topic, "static-b", instance_id="instance-b")
    assert_split([a, b])
    before = list(b.assignments)
    kept = list(a.assignment)
    a.kill()
    # Back under the same group.instance.id before the session expires: no rebalance.
    a2 = spawn(client, bootstrap, group, topic, "static-a", instance_id="instance-a")
    assert wait_until(lambda: a2.assignment == kept, 20), a2.diagnose()
    time.sleep(1.5)
    assert b.assignments == before  # the other member never saw a rebalance


# -- the coordinator dies -------------------------------------------------------------------------


def retrying(call, timeout: float = 15):
    """`call()`, retried while the clients' metadata still points at the dead broker."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def coordinator_id(cluster, bootstrap: str, group: str) -> int:
    """The node id of the group's coordinator, once it answers for the group."""
    _, port = find_coordinator(bootstrap, group).rsplit(":", 1)
    return next(b.node_id for b in cluster.status().brokers if b.port == int(port))


@pytest.mark.parametrize("client", CLIENTS)
def test_killing_the_coordinator_loses_no_committed_offset(breakable, spawn, client):
    cluster = breakable
    bootstrap = cluster.bootstrap
    topic, group = create_topic(bootstrap), f"survive-{uuid.uuid4().hex[:6]}"
    a = spawn(client, bootstrap, group, topic, "member-a")
    b = spawn(client, bootstrap, group, topic, "member-b")
    assert_split([a, b])
    old = [f"old-{i}" for i in range(30)]
    produce(bootstrap, topic, old)
    assert wait_until(lambda: sorted(a.values() + b.values()) == sorted(old), 30), (
        a.diagnose() + b.diagnose()
    )
    a.commit()
    b.commit()
    read_before = (len(a.records), len(b.records))

    victim = coordinator_id(cluster, bootstrap, group)
    killed_at = time.monotonic()
    cluster.kill(victim)
    try:
        survivors = ",".join(
            f"127.0.0.1:{br.port}" for br in cluster.status().brokers if br.node_id != victim
        )
        # Another broker leads the group's offsets partition now: it loaded group and offsets.
        assert wait_until(lambda: coordinator_id(cluster, survivors, group) != victim, 30)
        assert retrying(lambda: committed_and_end_offsets(client, survivors, group, topic))[0] == {
            0: 10,
            1: 10,
            2: 10,
        }
        # The group carries on where it committed: new records arrive, old ones do not again.
        new = [f"new-{i}" for i in range(9)]
        produce(survivors, topic, new)

        def read_after_kill() -> list[str]:
            return [v for _, _, v in a.records[read_before[0] :] + b.records[read_before[1] :]]

        assert wait_until(lambda: sorted(read_after_kill()) == sorted(new), 40), (
            a.diagnose() + b.diagnose()
        )
        assert wait_until(lambda: split_evenly([a, b]), 20), a.diagnose() + b.diagnose()
        print(
            f"\n{client}: coordinator {victim} SIGKILLed; committed offsets intact and the group "
            f"consuming again after {time.monotonic() - killed_at:.2f} s"
        )
    finally:
        started = time.monotonic()
        cluster.start(victim)
        print(f"restarting broker {victim} took {time.monotonic() - started:.2f} s")
