"""Snapshots: the pure parsers on real kio response bodies, then collection from a live cluster."""

from __future__ import annotations

import io
import time
import uuid

import pytest
from kio.index import load_response_schema
from kio.schema.consumer_protocol_assignment.v3.data import (
    ConsumerProtocolAssignment,
    TopicPartition,
)
from kio.serial import entity_writer

from kafkabook.api import loop
from kafkabook.backends.base import ClusterStatus, NodeStatus
from kafkabook.protocol.build import build
from kafkabook.viz.snapshot import (
    Broker,
    Collector,
    Partition,
    Topic,
    Wanted,
    brokers_from_metadata,
    committed_from_offset_fetch,
    decode_assignment,
    down_brokers,
    group_from_described,
    logs_from_describe_log_dirs,
    merge_offsets,
    offsets_from_list_offsets,
    quorum_from_response,
    topics_from_metadata,
    with_process_states,
)


def response(api_key: int, version: int, **fields):
    return build(load_response_schema(api_key, version), **fields)


def partition_entry(index, leader, replicas, isr, offline=(), error=0, epoch=3):
    return {
        "error_code": error,
        "partition_index": index,
        "leader_id": leader,
        "leader_epoch": epoch,
        "replica_nodes": list(replicas),
        "isr_nodes": list(isr),
        "offline_replicas": list(offline),
    }


def metadata_response():
    return response(
        3,
        12,
        throttle_time=0,
        cluster_id="abc",
        controller_id=2,
        brokers=[
            {"node_id": 3, "host": "h", "port": 9094, "rack": None},
            {"node_id": 1, "host": "h", "port": 9092, "rack": "r1"},
        ],
        topics=[
            {
                "error_code": 0,
                "name": "orders",
                "topic_id": str(uuid.uuid4()),
                "is_internal": False,
                "partitions": [
                    partition_entry(1, 3, (3, 1, 2), (3, 1), offline=(2,)),
                    partition_entry(0, 1, (1, 2, 3), (1, 3), offline=(2,)),
                ],
                "topic_authorized_operations": 0,
            },
            {
                "error_code": 0,
                "name": "__consumer_offsets",
                "topic_id": str(uuid.uuid4()),
                "is_internal": True,
                "partitions": [partition_entry(0, -1, (2,), (2,), offline=(2,), error=5)],
                "topic_authorized_operations": 0,
            },
        ],
        cluster_authorized_operations=0,
    )


def test_metadata_gives_registered_brokers_and_sorted_partitions() -> None:
    metadata = metadata_response()
    brokers = brokers_from_metadata(metadata)
    assert [b.node_id for b in brokers] == [1, 3]
    assert all(b.registered for b in brokers) and brokers[0].rack == "r1"
    topics = topics_from_metadata(metadata)
    assert [t.name for t in topics] == ["orders"]
    orders = topics[0]
    assert [p.index for p in orders.partitions] == [0, 1]
    p0 = orders.partitions[0]
    assert (p0.leader, p0.replicas, p0.isr, p0.offline) == (1, (1, 2, 3), (1, 3), (2,))
    assert p0.preferred_leader == 1 and p0.leader_epoch == 3 and p0.error is None
    internal = topics_from_metadata(metadata, internal=True)
    assert [t.name for t in internal] == ["__consumer_offsets", "orders"]
    offsets_partition = internal[0].partitions[0]
    assert offsets_partition.leader == -1 and offsets_partition.error == "LEADER_NOT_AVAILABLE"
    # Asking by name shows an internal topic even without internal=True.
    assert [t.name for t in topics_from_metadata(metadata, names=["__consumer_offsets"])] == [
        "__consumer_offsets"
    ]


def test_quorum_leader_and_epoch() -> None:
    quorum = response(
        55,
        2,
        error_code=0,
        error_message=None,
        topics=[
            {
                "topic_name": "__cluster_metadata",
                "partitions": [
                    {
                        "partition_index": 0,
                        "error_code": 0,
                        "error_message": None,
                        "leader_id": 7,
                        "leader_epoch": 4,
                        "high_watermark": 10,
                        "current_voters": [
                            {
                                "replica_id": 7,
                                "replica_directory_id": str(uuid.uuid4()),
                                "log_end_offset": 10,
                                "last_fetch_timestamp": -1,
                                "last_caught_up_timestamp": -1,
                            }
                        ],
                        "observers": [],
                    }
                ],
            }
        ],
        nodes=[],
    )
    assert quorum_from_response(quorum) == (7, 4, (7,))


def list_offsets_response(answers):
    return response(
        2,
        8,
        throttle_time=0,
        topics=[
            {
                "name": topic,
                "partitions": [
                    {
                        "partition_index": p,
                        "error_code": err,
                        "timestamp": -1,
                        "offset": off,
                        "leader_epoch": 0,
                    }
                    for p, off, err in parts
                ],
            }
            for topic, parts in answers.items()
        ],
    )


def test_list_offsets_skips_errors() -> None:
    answer = list_offsets_response({"orders": [(0, 42, 0), (1, -1, 6), (2, 7, 0)]})
    assert offsets_from_list_offsets(answer) == {("orders", 0): 42, ("orders", 2): 7}


def test_describe_log_dirs_sizes_and_lags() -> None:
    answer = response(
        35,
        4,
        throttle_time=0,
        error_code=0,
        results=[
            {
                "error_code": 0,
                "log_dir": "/d",
                "topics": [
                    {
                        "name": "orders",
                        "partitions": [
                            {
                                "partition_index": 0,
                                "partition_size": 100,
                                "offset_lag": 2,
                                "is_future_key": False,
                            },
                            {
                                "partition_index": 1,
                                "partition_size": 9,
                                "offset_lag": 0,
                                "is_future_key": True,
                            },
                        ],
                    }
                ],
                "total_bytes": 1,
                "usable_bytes": 1,
            }
        ],
    )
    assert logs_from_describe_log_dirs(answer) == {("orders", 0): (100, 2)}


def _assignment_bytes(parts: dict[str, list[int]], version: int = 1) -> bytes:
    buffer = io.BytesIO()
    buffer.write(version.to_bytes(2, "big"))
    entity_writer(ConsumerProtocolAssignment)(
        buffer,
        ConsumerProtocolAssignment(
            assigned_partitions=tuple(
                TopicPartition(topic=t, partitions=tuple(ps)) for t, ps in parts.items()
            ),
            user_data=b"x",
        ),
    )
    return buffer.getvalue()


def test_consumer_assignment_decoding() -> None:
    data = _assignment_bytes({"orders": [2, 0], "audit": [1]})
    assert decode_assignment(data) == (("audit", 1), ("orders", 0), ("orders", 2))
    assert decode_assignment(b"") == ()
    assert decode_assignment(b"\x00\x00\xff") == ()  # not an assignment: nothing, no error


def test_describe_groups_members_and_assignments() -> None:
    described = response(
        15,
        5,
        throttle_time=0,
        groups=[
            {
                "error_code": 0,
                "group_id": "g1",
                "group_state": "Stable",
                "protocol_type": "consumer",
                "protocol_data": "range",
                "members": [
                    {
                        "member_id": "m-b",
                        "group_instance_id": None,
                        "client_id": "c2",
                        "client_host": "/127.0.0.1",
                        "member_metadata": b"",
                        "member_assignment": _assignment_bytes({"orders": [1]}),
                    },
                    {
                        "member_id": "m-a",
                        "group_instance_id": "static-1",
                        "client_id": "c1",
                        "client_host": "/127.0.0.1",
                        "member_metadata": b"",
                        "member_assignment": _assignment_bytes({"orders": [0, 2]}),
                    },
                ],
                "authorized_operations": 0,
            }
        ],
    ).groups[0]
    group = group_from_described(described, coordinator=2)
    assert (group.group_id, group.state, group.protocol, group.coordinator) == (
        "g1",
        "Stable",
        "range",
        2,
    )
    assert [m.client_id for m in group.members] == ["c1", "c2"]
    assert group.members[0].assignment == (("orders", 0), ("orders", 2))
    assert group.members[0].instance_id == "static-1"


def test_offset_fetch_both_shapes() -> None:
    def partitions(*entries):
        return [
            {
                "partition_index": p,
                "committed_offset": off,
                "committed_leader_epoch": -1,
                "metadata": "",
                "error_code": 0,
            }
            for p, off in entries
        ]

    v8 = response(
        9,
        8,
        throttle_time=0,
        groups=[
            {
                "group_id": "g1",
                "topics": [{"name": "orders", "partitions": partitions((1, 5), (0, -1))}],
                "error_code": 0,
            }
        ],
    )
    committed, error = committed_from_offset_fetch(v8, "g1")
    assert [(c.topic, c.partition, c.offset) for c in committed] == [("orders", 1, 5)]
    assert error is None
    v7 = response(
        9,
        7,
        throttle_time=0,
        topics=[{"name": "orders", "partitions": partitions((0, 9))}],
        error_code=16,
    )
    committed, error = committed_from_offset_fetch(v7, "g1")
    assert [c.offset for c in committed] == [9]
    assert error == "NOT_COORDINATOR"


def test_process_states_merge_with_registered_brokers() -> None:
    status = ClusterStatus(
        backend="bundled",
        nodes=(
            NodeStatus(0, "controller", "h", 1, 10, "running"),
            NodeStatus(1, "broker", "h", 2, 11, "running"),
            NodeStatus(2, "broker", "h", 3, None, "killed"),
        ),
    )
    registered = (Broker(1, "h", 2, registered=True), Broker(2, "h", 3, registered=True))
    brokers, controllers = with_process_states(registered, status, replica_ids=[1, 2, 5])
    assert [(b.node_id, b.registered, b.process) for b in brokers] == [
        (1, True, "running"),
        (2, True, "killed"),  # dead, but the cluster has not noticed yet
        (5, False, None),  # a replica on a broker nobody knows
    ]
    assert [(c.node_id, c.role, c.process) for c in controllers] == [(0, "controller", "running")]
    assert down_brokers(status) == {2}
    assert down_brokers(None) == frozenset()


def test_merge_offsets_fills_partitions_and_replica_logs() -> None:
    topic = Topic("t", None, False, (Partition("t", 0, 1, 0, (1, 2), (1, 2)),))
    merged = merge_offsets(
        [topic],
        log_start={("t", 0): 3},
        high_watermark={("t", 0): 10},
        log_end={1: {("t", 0): 11}},
        log_dirs={1: {("t", 0): (500, 0)}, 2: {("t", 0): (450, 1)}},
    )
    p = merged[0].partitions[0]
    assert (p.log_start, p.high_watermark) == (3, 10)
    assert p.log(1).log_end_offset == 11 and p.log(1).size_bytes == 500
    assert p.log(2).log_end_offset is None and p.log(2).offset_lag == 1
    assert topic.partitions[0].high_watermark is None  # the input is untouched


# -- from a running cluster -----------------------------------------------------------------------


def collect(bootstrap: str, wanted: Wanted, status=None):
    if status is not None:  # as the widgets do: bootstrap from brokers that run
        bootstrap = ",".join(f"{n.host}:{n.port}" for n in status.brokers if n.state == "running")

    async def read():
        from aiokafka import AIOKafkaClient

        from kafkabook.api.requests import Admin

        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=4000)
        await client.bootstrap()
        try:
            return await Collector(Admin(client)).collect(wanted, status)
        finally:
            await client.close()

    return loop.run(read(), timeout=60)


def test_collect_from_the_bundled_cluster(bundled_cluster) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"viz-snap-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bundled_cluster.bootstrap})
    admin.create_topics([NewTopic(topic, 3, 3)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bundled_cluster.bootstrap, "acks": "all"})
    counts = {0: 5, 1: 0, 2: 12}
    for partition, n in counts.items():
        for i in range(n):
            producer.produce(topic, value=b"x" * 100, key=b"%d" % i, partition=partition)
    assert producer.flush(30) == 0

    status = bundled_cluster.status()
    deadline = time.monotonic() + 20
    while True:
        snap = collect(bundled_cluster.bootstrap, Wanted(topics=(topic,)), status)
        p = snap.partition(topic, 2)
        # Followers catch up asynchronously: wait for every replica to report its full log.
        if (
            p is not None
            and all((entry.size_bytes or 0) > 0 for entry in p.logs)
            and len(p.logs) == 3
        ):
            break
        assert time.monotonic() < deadline, snap
        time.sleep(0.2)
    described = admin.describe_topics(__import__("confluent_kafka").TopicCollection([topic]))[
        topic
    ].result(30)
    leaders = {pi.id: pi.leader.id for pi in described.partitions}
    assert {p.index: p.leader for p in snap.topic(topic).partitions} == leaders
    for partition, n in counts.items():
        p = snap.partition(topic, partition)
        assert (p.log_start, p.high_watermark) == (0, n)
        assert len(p.replicas) == 3 and set(p.isr) == set(p.replicas)
        assert p.log(p.leader).log_end_offset == n
    assert snap.cluster_id == bundled_cluster.cluster_id
    assert [b.node_id for b in snap.brokers] == [1, 2, 3]
    assert all(b.registered and b.process == "running" and b.answered for b in snap.brokers)
    assert [c.node_id for c in snap.controllers] == [0]
    assert snap.controller == 0 and snap.controller_epoch is not None
    assert snap.backend == "bundled"


def test_collect_only_what_is_wanted(bundled_cluster) -> None:
    snap = collect(
        bundled_cluster.bootstrap,
        Wanted(topics=("no-such-topic-here",), offsets=False, replica_logs=False, quorum=False),
    )
    assert snap.topics == () and snap.controller_epoch is None
    assert any("no-such-topic-here" in n for n in snap.notes)


@pytest.fixture
def paused_broker(bundled_cluster_factory):
    from confluent_kafka.admin import AdminClient, NewTopic

    backend = bundled_cluster_factory(brokers=3, fresh=True)
    admin = AdminClient({"bootstrap.servers": backend.bootstrap})
    admin.create_topics([NewTopic("spread", 3, 3)])["spread"].result(30)
    backend.pause(3)
    yield backend
    backend.resume(3)


def test_a_paused_broker_costs_only_its_own_answers(paused_broker) -> None:
    status = paused_broker.status()
    assert {n.node_id: n.state for n in status.brokers}[3] == "paused"
    # Knowing the process state, the collector does not ask the paused broker at all.
    began = time.monotonic()
    snap = collect(paused_broker.bootstrap, Wanted(), status)
    assert time.monotonic() - began < 5.0
    assert snap.broker(3).process == "paused" and snap.broker(3).answered is False
    assert snap.broker(1).answered and snap.broker(2).answered
    assert any("broker 3" in note for note in snap.notes)
    # Metadata still lists it (its session has not timed out yet, or it is fenced by now):
    # either way the partitions it leads have no offsets this round, the others do.
    for p in snap.topic("spread").partitions:
        assert (p.high_watermark is None) == (p.leader == 3)
    # Without a backend to ask (an external cluster), it costs timeouts, not a hang.
    began = time.monotonic()
    snap = collect(",".join(f"{n.host}:{n.port}" for n in status.brokers[:2]), Wanted())
    assert time.monotonic() - began < 20.0
    if 3 in snap.registered_ids:
        assert snap.broker(3).answered is False
