"""Classic consumer groups, on real Kafka and on the bundled cluster: the coordinator a group
gets, the JoinGroup / SyncGroup / Heartbeat / LeaveGroup conversation of one and of two
members, committed offsets and lag, DescribeGroups and ListGroups, and the internal
__consumer_offsets topic. Each member talks to the coordinator on its own connection, as
clients do, so a JoinGroup that waits for the others can wait in a thread.
"""

from __future__ import annotations

import struct
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from .kit import (
    LATEST,
    NONE,
    UNKNOWN_TOPIC_OR_PARTITION,
    Rec,
    Target,
    unique,
    wait_for,
)
from .wire import Wire, plain

pytestmark = pytest.mark.oracle

FIND_COORDINATOR = (10, 3)
JOIN_GROUP = (11, 5)
HEARTBEAT = (12, 3)
LEAVE_GROUP = (13, 3)
SYNC_GROUP = (14, 3)
DESCRIBE_GROUPS = (15, 5)
LIST_GROUPS = (16, 3)
OFFSET_COMMIT = (8, 7)
OFFSET_FETCH = (9, 7)

COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
REBALANCE_IN_PROGRESS = 27
MEMBER_ID_REQUIRED = 79

OFFSETS_PARTITIONS = 50  # offsets.topic.num.partitions, the same on both


def java_string_hash(text: str) -> int:
    """Java's String.hashCode (UTF-16 code units), as a signed 32-bit int."""
    h = 0
    units = text.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offsets_partition(group: str) -> int:
    """The __consumer_offsets partition of a group (Kafka's Utils.abs(hashCode) % 50)."""
    h = java_string_hash(group)
    return (0 if h == -(2**31) else abs(h)) % OFFSETS_PARTITIONS


def _string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack(">h", len(raw)) + raw


def subscription(topics: list[str]) -> bytes:
    """ConsumerProtocolSubscription v0: version, topics, no user data."""
    return struct.pack(">hi", 0, len(topics)) + b"".join(map(_string, topics)) + b"\xff" * 4


def assignment(parts: dict[str, list[int]]) -> bytes:
    """ConsumerProtocolAssignment v0: version, [topic, [partition]], no user data."""
    out = struct.pack(">hi", 0, len(parts))
    for topic, partitions in parts.items():
        out += _string(topic) + struct.pack(f">i{len(partitions)}i", len(partitions), *partitions)
    return out + b"\xff" * 4


def find_coordinator(target: Target, group: str) -> dict[str, Any]:
    """FindCoordinator for a group; the first asks make Kafka create __consumer_offsets, and
    it answers COORDINATOR_NOT_AVAILABLE until that is done, as clients retry."""

    def ask():
        answer = plain(target.wire().call(FIND_COORDINATOR, key=group, key_type=0))
        if answer["error_code"] == COORDINATOR_NOT_AVAILABLE:
            return None
        return answer

    return wait_for(ask, 30, f"{target}: a coordinator for {group}", interval=0.3)


class Member:
    """One group member on its own connection to the coordinator."""

    def __init__(self, target: Target, group: str, topics: list[str]) -> None:
        coordinator = find_coordinator(target, group)
        assert coordinator["error_code"] == NONE, coordinator
        self.wire = Wire.to(f"{coordinator['host']}:{coordinator['port']}")
        self.group = group
        self.topics = topics
        self.member_id = ""
        self.generation = -1

    def call(self, api: tuple[int, int], **fields: Any) -> dict[str, Any]:
        return plain(self.wire.call(api, **fields))

    def join(self) -> dict[str, Any]:
        # A coordinator still loading its partition answers COORDINATOR_LOAD_IN_PROGRESS (14);
        # clients retry, and so does this member (Kafka's coordinator shows it right after
        # the offsets topic is created).
        deadline = time.monotonic() + 15
        while True:
            answer = self.call(
                JOIN_GROUP,
                group_id=self.group,
                session_timeout=30000,
                rebalance_timeout=20000,
                member_id=self.member_id,
                group_instance_id=None,
                protocol_type="consumer",
                protocols=[{"name": "range", "metadata": subscription(self.topics)}],
            )
            if answer["error_code"] != COORDINATOR_LOAD_IN_PROGRESS or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if answer["member_id"]:
            self.member_id = answer["member_id"]
        if answer["error_code"] == NONE:
            self.generation = answer["generation_id"]
        return answer

    def sync(self, assignments: dict[str, bytes] | None = None) -> dict[str, Any]:
        return self.call(
            SYNC_GROUP,
            group_id=self.group,
            generation_id=self.generation,
            member_id=self.member_id,
            group_instance_id=None,
            assignments=[{"member_id": m, "assignment": a} for m, a in (assignments or {}).items()],
        )

    def heartbeat(self, generation: int | None = None, member_id: str | None = None) -> int:
        return self.call(
            HEARTBEAT,
            group_id=self.group,
            generation_id=self.generation if generation is None else generation,
            member_id=self.member_id if member_id is None else member_id,
            group_instance_id=None,
        )["error_code"]

    def leave(self) -> dict[str, Any]:
        return self.call(
            LEAVE_GROUP,
            group_id=self.group,
            members=[{"member_id": self.member_id, "group_instance_id": None}],
        )

    def close(self) -> None:
        self.wire.close()


def commit(
    target: Target,
    group: str,
    offsets: dict[tuple[str, int], int],
    generation: int = -1,
    member_id: str = "",
    wire: Wire | None = None,
) -> dict[tuple[str, int], int]:
    """OffsetCommit (a standalone commit unless a generation and member are given)."""
    by_topic: dict[str, list[dict]] = {}
    for (topic, partition), offset in offsets.items():
        by_topic.setdefault(topic, []).append(
            {
                "partition_index": partition,
                "committed_offset": offset,
                "committed_leader_epoch": -1,
                "committed_metadata": f"at {offset}",
            }
        )
    wire = wire or coordinator_wire(target, group)
    answer = plain(
        wire.call(
            OFFSET_COMMIT,
            group_id=group,
            generation_id_or_member_epoch=generation,
            member_id=member_id,
            group_instance_id=None,
            topics=[{"name": t, "partitions": p} for t, p in by_topic.items()],
        )
    )
    return {
        (t["name"], p["partition_index"]): p["error_code"]
        for t in answer["topics"]
        for p in t["partitions"]
    }


def fetch_offsets(
    target: Target, group: str, partitions: dict[str, list[int]]
) -> dict[tuple[str, int], tuple[int, str | None, int]]:
    """OffsetFetch: (topic, partition) -> (offset, metadata, error)."""
    answer = plain(
        coordinator_wire(target, group).call(
            OFFSET_FETCH,
            group_id=group,
            topics=[{"name": t, "partition_indexes": p} for t, p in partitions.items()],
            require_stable=False,
        )
    )
    assert answer["error_code"] == NONE, answer
    return {
        (t["name"], p["partition_index"]): (
            p["committed_offset"],
            p["metadata"],
            p["error_code"],
        )
        for t in answer["topics"]
        for p in t["partitions"]
    }


def coordinator_wire(target: Target, group: str) -> Wire:
    return target.wire(find_coordinator(target, group)["node_id"])


def describe_group(target: Target, group: str) -> dict[str, Any]:
    answer = plain(
        coordinator_wire(target, group).call(
            DESCRIBE_GROUPS, groups=[group], include_authorized_operations=False
        )
    )
    (described,) = answer["groups"]
    return described


# ---------------------------------------------------------------------------------------------


def test_coordinator_is_the_leader_of_the_groups_offsets_partition(target: Target) -> None:
    group = unique("coord")
    found = find_coordinator(target, group)
    assert found["error_code"] == NONE
    assert f"{found['host']}:{found['port']}" == target.addresses()[found["node_id"]]
    target.wait_topic("__consumer_offsets", OFFSETS_PARTITIONS, timeout=30)
    partition = target.partitions("__consumer_offsets")[offsets_partition(group)]
    assert found["node_id"] == partition["leader"]


def test_consumer_offsets_topic(target: Target) -> None:
    find_coordinator(target, unique("internal"))
    target.wait_topic("__consumer_offsets", OFFSETS_PARTITIONS, timeout=30)
    topic = target.topic("__consumer_offsets")
    assert (topic["error_code"], topic["is_internal"]) == (NONE, True)
    assert len(topic["partitions"]) == OFFSETS_PARTITIONS
    for p in topic["partitions"]:
        # offsets.topic.replication.factor: 3 (Kafka's default), 3 brokers.
        assert len(p["replica_nodes"]) == 3 and p["leader_id"] == p["replica_nodes"][0]
    configs = target.describe_configs(2, "__consumer_offsets")["configs"]
    assert configs["cleanup.policy"]["value"] == "compact"
    assert configs["cleanup.policy"]["config_source"] == 1  # DYNAMIC_TOPIC_CONFIG


def test_one_member_lifecycle(target: Target) -> None:
    topic = target.create_topic(unique("g1"), 2, 2)
    group = unique("solo-group")
    member = Member(target, group, [topic])
    try:
        first = member.join()
        assert (first["error_code"], first["generation_id"]) == (MEMBER_ID_REQUIRED, -1)
        assert first["member_id"]
        joined = member.join()
        assert (joined["error_code"], joined["generation_id"], joined["protocol_name"]) == (
            NONE,
            1,
            "range",
        )
        assert joined["leader"] == joined["member_id"] == member.member_id
        assert [(m["member_id"], m["metadata"]) for m in joined["members"]] == [
            (member.member_id, subscription([topic]))
        ]
        mine = assignment({topic: [0, 1]})
        synced = member.sync({member.member_id: mine})
        assert (synced["error_code"], synced["assignment"]) == (NONE, mine)
        assert member.heartbeat() == NONE
        assert member.heartbeat(generation=7) == ILLEGAL_GENERATION
        assert member.heartbeat(member_id="nobody") == UNKNOWN_MEMBER_ID

        committed = commit(target, group, {(topic, 0): 3, (topic, 1): 0}, 1, member.member_id)
        assert committed == {(topic, 0): NONE, (topic, 1): NONE}
        stale = commit(target, group, {(topic, 0): 4}, 5, member.member_id)
        assert stale == {(topic, 0): ILLEGAL_GENERATION}
        missing = commit(target, group, {(topic, 9): 1}, 1, member.member_id)
        assert missing == {(topic, 9): UNKNOWN_TOPIC_OR_PARTITION}

        described = describe_group(target, group)
        assert (
            described["error_code"],
            described["group_state"],
            described["protocol_type"],
            described["protocol_data"],
        ) == (NONE, "Stable", "consumer", "range")
        (m,) = described["members"]
        assert (m["member_id"], m["client_id"], m["member_metadata"], m["member_assignment"]) == (
            member.member_id,
            "kafkabook-conformance",
            subscription([topic]),
            mine,
        )
        listed = plain(target.wire().call(LIST_GROUPS))
        assert listed["error_code"] == NONE
        # ListGroups answers for the groups its broker coordinates; ask them all.
        groups = {}
        for node_id in target.addresses():
            for g in plain(target.wire(node_id).call(LIST_GROUPS))["groups"]:
                groups[g["group_id"]] = g["protocol_type"]
        assert groups[group] == "consumer"

        left = member.leave()
        assert left["error_code"] == NONE
        assert [(x["member_id"], x["error_code"]) for x in left["members"]] == [
            (member.member_id, NONE)
        ]
        after = describe_group(target, group)
        assert (after["group_state"], after["members"]) == ("Empty", [])
        assert fetch_offsets(target, group, {topic: [0, 1]}) == {
            (topic, 0): (3, "at 3", NONE),
            (topic, 1): (0, "at 0", NONE),
        }
    finally:
        member.close()


def test_two_members_rebalance(target: Target) -> None:
    topic = target.create_topic(unique("g2"), 4, 2)
    group = unique("pair-group")
    a, b = Member(target, group, [topic]), Member(target, group, [topic])
    pool = ThreadPoolExecutor(2)
    try:
        a.join()
        assert a.join()["generation_id"] == 1
        assert a.sync({a.member_id: assignment({topic: [0, 1, 2, 3]})})["error_code"] == NONE

        assert b.join()["error_code"] == MEMBER_ID_REQUIRED
        b_joined: Future = pool.submit(b.join)  # waits until a rejoins
        wait_for(lambda: a.heartbeat() == REBALANCE_IN_PROGRESS, 15, f"{target}: a rebalance")
        a_joined = a.join()
        b_answer = b_joined.result(timeout=30)
        assert (a_joined["error_code"], b_answer["error_code"]) == (NONE, NONE)
        assert a_joined["generation_id"] == b_answer["generation_id"] == 2
        assert a_joined["leader"] == b_answer["leader"] == a.member_id  # the leader stays
        assert sorted(m["member_id"] for m in a_joined["members"]) == sorted(
            [a.member_id, b.member_id]
        )
        assert b_answer["members"] == []  # only the leader learns the members

        plan = {
            a.member_id: assignment({topic: [0, 1]}),
            b.member_id: assignment({topic: [2, 3]}),
        }
        b_synced: Future = pool.submit(b.sync)  # waits for the leader's assignments
        assert a.sync(plan) == {
            "throttle_time": 0,
            "error_code": NONE,
            "assignment": plan[a.member_id],
        }
        assert b_synced.result(timeout=30)["assignment"] == plan[b.member_id]
        assert a.heartbeat() == b.heartbeat() == NONE
        described = describe_group(target, group)
        assert described["group_state"] == "Stable"
        assert {m["member_id"]: m["member_assignment"] for m in described["members"]} == plan

        assert b.leave()["error_code"] == NONE
        wait_for(lambda: a.heartbeat() == REBALANCE_IN_PROGRESS, 15, f"{target}: rebalance")
        alone = a.join()
        assert (alone["error_code"], alone["generation_id"], len(alone["members"])) == (NONE, 3, 1)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        a.close()
        b.close()


def test_committed_offsets_and_lag(target: Target) -> None:
    from kafka.admin import KafkaAdminClient
    from kafka.structs import TopicPartition

    topic = target.create_topic(unique("lag"), 2, 2)
    for p, count in ((0, 5), (1, 3)):
        target.produce(topic, p, [Rec(f"{p}-{i}".encode()) for i in range(count)])
    group = unique("lag-group")
    # A standalone commit (no generation, no member), as tools and assign() consumers do.
    assert commit(target, group, {(topic, 0): 2, (topic, 1): 3}) == {
        (topic, 0): NONE,
        (topic, 1): NONE,
    }
    ends = {p: target.list_offsets(topic, p, LATEST)["offset"] for p in (0, 1)}
    committed = fetch_offsets(target, group, {topic: [0, 1]})
    lag = {p: ends[p] - committed[(topic, p)][0] for p in (0, 1)}
    assert (ends, lag) == ({0: 5, 1: 3}, {0: 3, 1: 0})
    # A group that committed nothing, and a partition it never committed.
    unknown = fetch_offsets(target, unique("nobody"), {topic: [0]})
    assert unknown == {(topic, 0): (-1, "", NONE)}
    assert describe_group(target, group)["group_state"] == "Empty"
    admin = KafkaAdminClient(bootstrap_servers=target.bootstrap, request_timeout_ms=20000)
    try:
        seen = admin.list_group_offsets(group)[group]  # OffsetFetch v8+, batched by group
    finally:
        admin.close()
    assert {tp.partition: meta.offset for tp, meta in seen.items()} == {0: 2, 1: 3}
    assert TopicPartition(topic, 0) in seen
    # Later records grow the lag; the committed offsets stay.
    target.produce(topic, 1, [Rec(b"late")])
    time.sleep(0.2)
    assert (
        target.list_offsets(topic, 1, LATEST)["offset"]
        - fetch_offsets(target, group, {topic: [1]})[(topic, 1)][0]
        == 1
    )
