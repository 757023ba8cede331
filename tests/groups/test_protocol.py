"""The group APIs on the wire: exact requests against the shared bundled cluster, exact answers.

Real clients (test_groups_clients.py) show that the whole dance works; these tests pin the
answers Kafka gives at each step, including the error paths clients rarely take.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kafkabook.broker.groups.assignment import encode_assignment, encode_subscription
from kafkabook.broker.groups.offsets_codec import (
    GroupMetadataKey,
    OffsetCommitKey,
    decode_group_value,
    decode_key,
    decode_offset_value,
    partition_for,
)
from kafkabook.protocol.errors import ErrorCode

from .kwire import Wire, find_coordinator, first_broker

FIND_COORDINATOR, JOIN, HEARTBEAT, LEAVE, SYNC, DESCRIBE, LIST, COMMIT, FETCH = (
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    8,
    9,
)
DELETE_GROUPS, OFFSET_DELETE = 42, 47


@pytest.fixture(scope="module")
def topic(bundled_cluster) -> str:
    name = f"wire-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": bundled_cluster.bootstrap})
    admin.create_topics([NewTopic(name, 3, 3)])[name].result(15)
    # Every broker must know it (OffsetCommit checks the topic on the broker it reaches).
    for broker in bundled_cluster.status().brokers:
        with Wire(broker.host, broker.port) as wire:
            deadline = time.monotonic() + 15
            while not any(
                t.error_code == 0
                for t in wire.call(
                    3,
                    12,
                    topics=[{"name": name, "topic_id": uuid.UUID(int=0)}],
                    allow_auto_topic_creation=False,
                    include_topic_authorized_operations=False,
                ).topics
            ):
                assert time.monotonic() < deadline
                time.sleep(0.1)
    return name


def new_group() -> str:
    return f"g-{uuid.uuid4().hex[:8]}"


def protocols(topic: str, name: str = "range") -> list[dict]:
    return [{"name": name, "metadata": encode_subscription([topic])}]


def join(
    wire: Wire,
    group: str,
    topic: str,
    member_id: str = "",
    instance: str | None = None,
    version: int = 9,
    session: int = 6000,
    rebalance: int = 8000,
    protocol: str = "range",
):
    return wire.call(
        JOIN,
        version,
        group_id=group,
        session_timeout=session,
        rebalance_timeout=rebalance,
        member_id=member_id,
        group_instance_id=instance,
        protocol_type="consumer",
        protocols=protocols(topic, protocol),
        reason=None,
    )


def join_fully(wire: Wire, group: str, topic: str, **kwargs):
    """JoinGroup v4+: the MEMBER_ID_REQUIRED round trip, then the real join."""
    first = join(wire, group, topic, **kwargs)
    assert first.error_code == ErrorCode.member_id_required
    assert first.member_id.startswith("kwire-")
    return join(wire, group, topic, member_id=first.member_id, **kwargs)


def sync(
    wire: Wire,
    group: str,
    generation: int,
    member_id: str,
    assignments=(),
    version: int = 5,
    instance: str | None = None,
):
    return wire.call(
        SYNC,
        version,
        group_id=group,
        generation_id=generation,
        member_id=member_id,
        group_instance_id=instance,
        protocol_type="consumer",
        protocol_name="range",
        assignments=[{"member_id": m, "assignment": a} for m, a in assignments],
    )


def heartbeat(wire: Wire, group: str, generation: int, member_id: str, instance: str | None = None):
    return wire.call(
        HEARTBEAT,
        4,
        group_id=group,
        generation_id=generation,
        member_id=member_id,
        group_instance_id=instance,
    ).error_code


def commit(
    wire: Wire,
    group: str,
    topic: str,
    offsets: dict[int, int],
    generation: int = -1,
    member_id: str = "",
    version: int = 8,
    metadata: str | None = "m",
):
    answer = wire.call(
        COMMIT,
        version,
        group_id=group,
        generation_id_or_member_epoch=generation,
        member_id=member_id,
        group_instance_id=None,
        retention_time=-1,
        topics=[
            {
                "name": topic,
                "partitions": [
                    {
                        "partition_index": p,
                        "committed_offset": o,
                        "committed_leader_epoch": -1,
                        "committed_metadata": metadata,
                    }
                    for p, o in offsets.items()
                ],
            }
        ],
    )
    return {(t.name, p.partition_index): p.error_code for t in answer.topics for p in t.partitions}


def fetch(
    wire: Wire, group: str, topic: str | None, partitions=(0, 1, 2)
) -> dict[tuple[str, int], int]:
    topics = None if topic is None else [{"name": topic, "partition_indexes": list(partitions)}]
    answer = wire.call(
        FETCH, 8, groups=[{"group_id": group, "topics": topics}], require_stable=False
    )
    (g,) = answer.groups
    assert g.error_code == ErrorCode.none
    return {(t.name, p.partition_index): p.committed_offset for t in g.topics for p in t.partitions}


@pytest.fixture
def coordinator(bundled_cluster):
    """(group id, a connection to its coordinator)."""
    group = new_group()
    wire = Wire.to(find_coordinator(bundled_cluster.bootstrap, group))
    yield group, wire
    wire.close()


# -- FindCoordinator ----------------------------------------------------------------------------


def test_find_coordinator_is_the_leader_of_the_groups_partition(bundled_cluster):
    groups = [new_group() for _ in range(4)]
    find_coordinator(bundled_cluster.bootstrap, groups[0])  # creates __consumer_offsets if needed
    with Wire.to(first_broker(bundled_cluster.bootstrap)) as wire:
        meta = wire.call(
            3,
            12,
            topics=[{"name": "__consumer_offsets", "topic_id": uuid.UUID(int=0)}],
            allow_auto_topic_creation=False,
            include_topic_authorized_operations=False,
        )
        (offsets_topic,) = meta.topics
        assert offsets_topic.is_internal
        leaders = {p.partition_index: p.leader_id for p in offsets_topic.partitions}
        assert len(leaders) == 50

        single = wire.call(FIND_COORDINATOR, 3, key=groups[0], key_type=0)
        assert (single.error_code, single.error_message) == (ErrorCode.none, "NONE")
        assert single.node_id == leaders[partition_for(groups[0], 50)]

        batched = wire.call(FIND_COORDINATOR, 4, key_type=0, coordinator_keys=groups)
        assert [c.key for c in batched.coordinators] == groups
        for c in batched.coordinators:
            assert c.error_code == ErrorCode.none
            assert c.node_id == leaders[partition_for(c.key, 50)]
            assert c.port == bundled_cluster.status().brokers[c.node_id - 1].port

        txn = wire.call(FIND_COORDINATOR, 3, key="some-txn", key_type=1)
        assert (txn.error_code, txn.node_id, txn.host, txn.port) == (
            ErrorCode.coordinator_not_available,
            -1,
            "",
            -1,
        )
        assert txn.error_message == "The coordinator is not available."


def test_other_brokers_are_not_the_coordinator(bundled_cluster, topic, coordinator):
    group, wire = coordinator
    others = [
        b
        for b in bundled_cluster.status().brokers
        if f"127.0.0.1:{b.port}" != f"{wire.address[0]}:{wire.address[1]}"
    ]
    with Wire(wire.address[0], others[0].port) as other:
        assert join(other, group, topic).error_code == ErrorCode.not_coordinator
        assert heartbeat(other, group, 1, "m") == ErrorCode.not_coordinator
        assert commit(other, group, topic, {0: 1}) == {(topic, 0): ErrorCode.not_coordinator}


# -- the join/sync dance ------------------------------------------------------------------------


def test_session_timeout_bounds(topic, coordinator):
    group, wire = coordinator
    assert join(wire, group, topic, session=5999).error_code == ErrorCode.invalid_session_timeout
    assert (
        join(wire, group, topic, session=1_800_001).error_code == ErrorCode.invalid_session_timeout
    )


def test_member_id_round_trip_then_a_one_member_generation(topic, coordinator):
    group, wire = coordinator
    joined = join_fully(wire, group, topic)
    assert joined.error_code == ErrorCode.none
    assert (joined.generation_id, joined.protocol_type, joined.protocol_name) == (
        1,
        "consumer",
        "range",
    )
    assert joined.leader == joined.member_id and not joined.skip_assignment
    assert [(m.member_id, m.metadata) for m in joined.members] == [
        (joined.member_id, encode_subscription([topic]))
    ]
    assignment = encode_assignment({topic: [0, 1, 2]})
    synced = sync(wire, group, 1, joined.member_id, [(joined.member_id, assignment)])
    assert (synced.error_code, synced.assignment, synced.protocol_name) == (
        ErrorCode.none,
        assignment,
        "range",
    )
    assert heartbeat(wire, group, 1, joined.member_id) == ErrorCode.none
    assert heartbeat(wire, group, 0, joined.member_id) == ErrorCode.illegal_generation
    assert heartbeat(wire, group, 1, "stranger") == ErrorCode.unknown_member_id
    # A known member id in an unknown group; an unknown member id in a known group.
    assert (
        join(wire, group_on_same_broker(wire), topic, member_id="ghost").error_code
        == ErrorCode.unknown_member_id
    )
    assert join(wire, group, topic, member_id="ghost").error_code == ErrorCode.unknown_member_id
    # v3 and older clients get no MEMBER_ID_REQUIRED round trip.
    old = join(wire, group_on_same_broker(wire), topic, version=3)
    assert old.error_code == ErrorCode.none and old.member_id.startswith("kwire-")
    # v0-6 send "" where v7+ send null for a missing protocol name.
    assert join(wire, group, topic, member_id="ghost", version=6).protocol_name == ""
    assert join(wire, group, topic, member_id="ghost", version=7).protocol_name is None


def test_a_second_member_triggers_a_rebalance(bundled_cluster, topic, coordinator):
    group, wire_a = coordinator
    wire_b = Wire(*wire_a.address, client_id="kwire-b")
    try:
        a = join_fully(wire_a, group, topic)
        assert (
            sync(wire_a, group, 1, a.member_id, [(a.member_id, b"all")]).error_code
            == ErrorCode.none
        )
        with ThreadPoolExecutor(2) as pool:
            parked_b = pool.submit(join_fully, wire_b, group, topic)
            # B's JoinGroup waits; A learns of the rebalance from its heartbeat and rejoins.
            deadline = time.monotonic() + 10
            while heartbeat(wire_a, group, 1, a.member_id) != ErrorCode.rebalance_in_progress:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert sync(wire_a, group, 1, a.member_id).error_code == ErrorCode.rebalance_in_progress
            a2 = join(wire_a, group, topic, member_id=a.member_id)
            b = parked_b.result(10)
        assert a2.generation_id == b.generation_id == 2
        assert a2.leader == b.leader == a.member_id
        assert sorted(m.member_id for m in a2.members) == sorted([a.member_id, b.member_id])
        assert b.members == ()
        assert b.member_id.startswith("kwire-b-")

        with ThreadPoolExecutor(1) as pool:
            # The follower syncs first and waits for the leader's assignment.
            parked = pool.submit(sync, wire_b, group, 2, b.member_id)
            time.sleep(0.2)
            assert not parked.done()
            assert heartbeat(wire_a, group, 2, a.member_id) == ErrorCode.none  # CompletingRebalance
            leader = sync(
                wire_a, group, 2, a.member_id, [(a.member_id, b"for-a"), (b.member_id, b"for-b")]
            )
            assert leader.assignment == b"for-a"
            assert parked.result(10).assignment == b"for-b"

        described = wire_a.call(DESCRIBE, 5, groups=[group], include_authorized_operations=True)
        (d,) = described.groups
        assert (d.group_state, d.protocol_type, d.protocol_data) == ("Stable", "consumer", "range")
        assert {
            (m.member_id, m.client_id, m.client_host, m.member_assignment) for m in d.members
        } == {
            (a.member_id, "kwire", "/127.0.0.1", b"for-a"),
            (b.member_id, "kwire-b", "/127.0.0.1", b"for-b"),
        }
        assert d.authorized_operations == (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11)

        # B leaves: A must rejoin, and is alone in generation 3.
        left = wire_b.call(
            LEAVE,
            5,
            group_id=group,
            members=[
                {"member_id": b.member_id, "group_instance_id": None, "reason": "done"},
                {"member_id": "nobody", "group_instance_id": None, "reason": None},
            ],
        )
        assert [(m.member_id, m.error_code) for m in left.members] == [
            (b.member_id, ErrorCode.none),
            ("nobody", ErrorCode.unknown_member_id),
        ]
        assert heartbeat(wire_a, group, 2, a.member_id) == ErrorCode.rebalance_in_progress
        a3 = join(wire_a, group, topic, member_id=a.member_id)
        assert (a3.generation_id, len(a3.members)) == (3, 1)
    finally:
        wire_b.close()


def test_static_member_restart_keeps_the_generation(topic, coordinator):
    group, wire = coordinator
    first = join(wire, group, topic, instance="instance-1")  # static: no MEMBER_ID_REQUIRED
    assert first.error_code == ErrorCode.none and first.member_id.startswith("instance-1-")
    sync(wire, group, 1, first.member_id, [(first.member_id, b"mine")], instance="instance-1")
    # The same instance restarts (new member id): no rebalance, the assignment is kept.
    with Wire(*wire.address) as restarted:
        again = join(restarted, group, topic, instance="instance-1", version=9)
        assert again.error_code == ErrorCode.none
        assert again.generation_id == 1 and again.member_id != first.member_id
        assert again.leader == again.member_id and again.skip_assignment  # v9: keep the assignment
        synced = sync(restarted, group, 1, again.member_id, instance="instance-1")
        assert synced.assignment == b"mine"
    # The old incarnation is fenced.
    assert heartbeat(wire, group, 1, first.member_id, "instance-1") == ErrorCode.fenced_instance_id
    assert heartbeat(wire, group, 1, again.member_id, "instance-1") == ErrorCode.none
    # An admin removes the static member by instance id alone.
    left = wire.call(
        LEAVE, 4, group_id=group, members=[{"member_id": "", "group_instance_id": "instance-1"}]
    )
    assert [m.error_code for m in left.members] == [ErrorCode.none]
    d = wire.call(DESCRIBE, 5, groups=[group], include_authorized_operations=False).groups[0]
    assert (d.group_state, d.members) == ("Empty", ())
    # Before v3 one member leaves and its error is the answer's.
    assert wire.call(LEAVE, 1, group_id=group, member_id="gone").error_code == (
        ErrorCode.unknown_member_id
    )


def test_inconsistent_protocols(topic, coordinator):
    group, wire = coordinator
    joined = join_fully(wire, group, topic)
    sync(wire, group, 1, joined.member_id, [(joined.member_id, b"")])
    with Wire(*wire.address) as other:
        assert (
            join(other, group, topic, protocol="cooperative-sticky").error_code
            == ErrorCode.inconsistent_group_protocol
        )
    assert (
        wire.call(
            SYNC,
            5,
            group_id=group,
            generation_id=1,
            member_id=joined.member_id,
            group_instance_id=None,
            protocol_type="consumer",
            protocol_name="roundrobin",
            assignments=[],
        ).error_code
        == ErrorCode.inconsistent_group_protocol
    )
    assert (
        wire.call(
            SYNC,
            5,
            group_id=group,
            generation_id=1,
            member_id=joined.member_id,
            group_instance_id=None,
            protocol_type=None,
            protocol_name=None,
            assignments=[],
        ).error_code
        == ErrorCode.inconsistent_group_protocol
    )


# -- offsets ------------------------------------------------------------------------------------


def test_commit_rules(topic, coordinator):
    group, wire = coordinator
    # Generation -1 makes a "simple" group; it shows up Empty in ListGroups.
    assert commit(wire, group, topic, {0: 5, 1: 6}) == {
        (topic, 0): ErrorCode.none,
        (topic, 1): ErrorCode.none,
    }
    assert fetch(wire, group, topic) == {(topic, 0): 5, (topic, 1): 6, (topic, 2): -1}
    assert fetch(wire, group, None) == {(topic, 0): 5, (topic, 1): 6}
    assert commit(wire, group, "no-such-topic", {0: 1}) == {
        ("no-such-topic", 0): ErrorCode.unknown_topic_or_partition
    }
    assert commit(wire, group, topic, {7: 1}) == {(topic, 7): ErrorCode.unknown_topic_or_partition}
    assert commit(wire, group, topic, {0: 1}, metadata="x" * 4097) == {
        (topic, 0): ErrorCode.offset_metadata_too_large
    }
    # With a generation, the group must exist.
    assert commit(
        wire, group_on_same_broker(wire), topic, {0: 1}, generation=3, member_id="m", version=8
    ) == {(topic, 0): ErrorCode.illegal_generation}
    assert commit(
        wire, group_on_same_broker(wire), topic, {0: 1}, generation=3, member_id="m", version=9
    ) == {(topic, 0): ErrorCode.group_id_not_found}
    # Members only: a stale generation or a stranger is refused.
    joined = join_fully(wire, group, topic)
    assert commit(wire, group, topic, {0: 9}) == {(topic, 0): ErrorCode.unknown_member_id}
    sync(wire, group, 1, joined.member_id, [(joined.member_id, b"")])
    assert commit(wire, group, topic, {0: 9}, generation=0, member_id=joined.member_id) == {
        (topic, 0): ErrorCode.illegal_generation
    }
    assert commit(wire, group, topic, {0: 9}, generation=1, member_id=joined.member_id) == {
        (topic, 0): ErrorCode.none
    }
    assert fetch(wire, group, topic)[(topic, 0)] == 9
    listed = wire.call(LIST, 5, states_filter=["stable"], types_filter=["Classic"])
    assert (group, "consumer", "Stable", "classic") in {
        (g.group_id, g.protocol_type, g.group_state, g.group_type) for g in listed.groups
    }
    assert group not in {g.group_id for g in wire.call(LIST, 4, states_filter=["Empty"]).groups}
    assert wire.call(LIST, 5, states_filter=[], types_filter=["consumer"]).groups == ()


def test_offset_fetch_old_versions(topic, coordinator):
    group, wire = coordinator
    commit(wire, group, topic, {2: 11})
    v1 = wire.call(FETCH, 1, group_id=group, topics=[{"name": topic, "partition_indexes": [2, 0]}])
    assert [
        (p.partition_index, p.committed_offset, p.metadata) for p in v1.topics[0].partitions
    ] == [(2, 11, "m"), (0, -1, "")]
    v7 = wire.call(FETCH, 7, group_id=group, topics=None, require_stable=True)
    assert v7.error_code == ErrorCode.none
    assert [
        (t.name, p.partition_index, p.committed_offset, p.committed_leader_epoch)
        for t in v7.topics
        for p in t.partitions
    ] == [(topic, 2, 11, -1)]


def test_topic_ids_in_v10(bundled_cluster, topic, coordinator):
    group, wire = coordinator
    with Wire.to(first_broker(bundled_cluster.bootstrap)) as meta_wire:
        meta = meta_wire.call(
            3,
            12,
            topics=[{"name": topic, "topic_id": uuid.UUID(int=0)}],
            allow_auto_topic_creation=False,
            include_topic_authorized_operations=False,
        )
    topic_id = meta.topics[0].topic_id
    unknown_id = uuid.uuid4()
    answer = wire.call(
        COMMIT,
        10,
        group_id=group,
        generation_id_or_member_epoch=-1,
        member_id="",
        group_instance_id=None,
        topics=[
            {
                "topic_id": topic_id,
                "partitions": [
                    {
                        "partition_index": 1,
                        "committed_offset": 3,
                        "committed_leader_epoch": 0,
                        "committed_metadata": None,
                    }
                ],
            },
            {
                "topic_id": unknown_id,
                "partitions": [
                    {
                        "partition_index": 0,
                        "committed_offset": 3,
                        "committed_leader_epoch": 0,
                        "committed_metadata": None,
                    }
                ],
            },
        ],
    )
    assert {(t.topic_id, p.error_code) for t in answer.topics for p in t.partitions} == {
        (topic_id, ErrorCode.none),
        (unknown_id, ErrorCode.unknown_topic_id),
    }
    fetched = wire.call(
        FETCH,
        10,
        groups=[{"group_id": group, "member_id": None, "member_epoch": -1, "topics": None}],
        require_stable=False,
    )
    (g,) = fetched.groups
    assert [
        (t.topic_id, p.partition_index, p.committed_offset, p.committed_leader_epoch, p.metadata)
        for t in g.topics
        for p in t.partitions
    ] == [(topic_id, 1, 3, 0, "")]


def test_delete_groups_and_offsets(topic, coordinator):
    group, wire = coordinator
    joined = join_fully(wire, group, topic)
    sync(wire, group, 1, joined.member_id, [(joined.member_id, b"")])
    commit(wire, group, topic, {0: 1, 1: 2}, generation=1, member_id=joined.member_id)
    other = "other-" + uuid.uuid4().hex[:4]
    deleted = wire.call(DELETE_GROUPS, 2, groups_names=[group])
    assert [(r.group_id, r.error_code) for r in deleted.results] == [
        (group, ErrorCode.non_empty_group)
    ]
    # A member's group keeps the offsets of the topics it subscribes to.
    refused = wire.call(
        OFFSET_DELETE,
        0,
        group_id=group,
        topics=[
            {"name": topic, "partitions": [{"partition_index": 0}]},
            {"name": other, "partitions": [{"partition_index": 0}]},
        ],
    )
    assert refused.error_code == ErrorCode.none
    assert {(t.name, p.error_code) for t in refused.topics for p in t.partitions} == {
        (topic, ErrorCode.group_subscribed_to_topic),
        (other, ErrorCode.unknown_topic_or_partition),
    }

    wire.call(
        LEAVE,
        3,
        group_id=group,
        members=[{"member_id": joined.member_id, "group_instance_id": None}],
    )
    removed = wire.call(
        OFFSET_DELETE,
        0,
        group_id=group,
        topics=[{"name": topic, "partitions": [{"partition_index": 0}]}],
    )
    assert [(p.partition_index, p.error_code) for t in removed.topics for p in t.partitions] == [
        (0, ErrorCode.none)
    ]
    assert fetch(wire, group, topic) == {(topic, 0): -1, (topic, 1): 2, (topic, 2): -1}

    stranger = group_on_same_broker(wire)
    deleted = wire.call(DELETE_GROUPS, 2, groups_names=[group, stranger])
    assert [(r.group_id, r.error_code) for r in deleted.results] == [
        (group, ErrorCode.none),
        (stranger, ErrorCode.group_id_not_found),
    ]
    assert fetch(wire, group, None) == {}
    d5 = wire.call(DESCRIBE, 5, groups=[group], include_authorized_operations=False).groups[0]
    assert (d5.error_code, d5.group_state) == (ErrorCode.none, "Dead")
    d6 = wire.call(DESCRIBE, 6, groups=[group], include_authorized_operations=False).groups[0]
    assert (d6.error_code, d6.group_state, d6.error_message) == (
        ErrorCode.group_id_not_found,
        "Dead",
        f"Group {group} not found.",
    )
    assert (
        wire.call(OFFSET_DELETE, 0, group_id=group, topics=[]).error_code
        == ErrorCode.group_id_not_found
    )


def topic_id_of(bootstrap: str, topic: str) -> uuid.UUID:
    with Wire.to(first_broker(bootstrap)) as wire:
        meta = wire.call(
            3,
            12,
            topics=[{"name": topic, "topic_id": uuid.UUID(int=0)}],
            allow_auto_topic_creation=False,
            include_topic_authorized_operations=False,
        )
    return meta.topics[0].topic_id


def group_on_same_broker(wire: Wire) -> str:
    """A fresh group id coordinated by the broker `wire` talks to."""
    while True:
        candidates = [new_group() for _ in range(20)]
        answer = wire.call(FIND_COORDINATOR, 4, key_type=0, coordinator_keys=candidates)
        for c in answer.coordinators:
            if (c.host, c.port) == wire.address:
                return c.key


# -- what lands in __consumer_offsets -------------------------------------------------------------


def test_records_in_the_offsets_topic_are_kafkas(bundled_cluster, topic, coordinator):
    group, wire = coordinator
    joined = join_fully(wire, group, topic)
    sync(wire, group, 1, joined.member_id, [(joined.member_id, b"assigned")])
    commit(wire, group, topic, {1: 42}, generation=1, member_id=joined.member_id, metadata="hello")
    partition = partition_for(group, 50)
    consumer = Consumer(
        {
            "bootstrap.servers": bundled_cluster.bootstrap,
            "group.id": "reader-" + group,
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.assign([TopicPartition("__consumer_offsets", partition, 0)])
        found = {}
        deadline = time.monotonic() + 15
        while len(found) < 2 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            key = decode_key(msg.key())
            if isinstance(key, OffsetCommitKey) and key.group == group:
                found["offset"] = (key, decode_offset_value(msg.value()), msg.value()[:2])
            elif (
                isinstance(key, GroupMetadataKey) and key.group == group and msg.value() is not None
            ):
                found["group"] = (key, decode_group_value(msg.value()), msg.value()[:2])
    finally:
        consumer.close()
    key, value, version = found["offset"]
    assert (key.topic, key.partition, value.offset, value.metadata, version) == (
        topic,
        1,
        42,
        "hello",
        b"\x00\x04",
    )
    assert value.topic_id == topic_id_of(bundled_cluster.bootstrap, topic)
    key, value, version = found["group"]
    assert version == b"\x00\x03"
    assert (value.protocol_type, value.generation, value.protocol, value.leader) == (
        "consumer",
        1,
        "range",
        joined.member_id,
    )
    (member,) = value.members
    assert (
        member.member_id,
        member.client_id,
        member.client_host,
        member.assignment,
        member.session_timeout,
        member.rebalance_timeout,
    ) == (joined.member_id, "kwire", "/127.0.0.1", b"assigned", 6000, 8000)
