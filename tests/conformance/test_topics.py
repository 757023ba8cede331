"""Topics as clients see them, on real Kafka and on the bundled cluster: the shape of a new
topic's metadata, the error codes of bad CreateTopics / CreatePartitions / DeleteTopics
requests, and what Metadata answers for topics that do not exist."""

from __future__ import annotations

import collections
import time

import pytest

from .kit import (
    INVALID_CONFIG,
    INVALID_PARTITIONS,
    INVALID_REPLICA_ASSIGNMENT,
    INVALID_REPLICATION_FACTOR,
    INVALID_REQUEST,
    INVALID_TOPIC_EXCEPTION,
    LEADER_NOT_AVAILABLE,
    NONE,
    TOPIC_ALREADY_EXISTS,
    UNKNOWN_TOPIC_OR_PARTITION,
    Target,
    documented_default,
    unique,
    wait_for,
)

pytestmark = pytest.mark.oracle

BROKERS = {1, 2, 3}


@pytest.mark.parametrize(("partitions", "rf"), [(3, 3), (6, 2), (4, 1)])
def test_new_topic_metadata_shape(target: Target, partitions: int, rf: int) -> None:
    name = unique("shape")
    (result,) = target.create_topics(
        [{"name": name, "num_partitions": partitions, "replication_factor": rf}]
    )
    assert (result["error_code"], result["num_partitions"], result["replication_factor"]) == (
        NONE,
        partitions,
        rf,
    )
    target.wait_topic(name, partitions)
    topic = target.topic(name)
    assert topic["error_code"] == NONE
    assert topic["is_internal"] is False
    assert topic["topic_id"] is not None and topic["topic_id"] == result["topic_id"]
    parts = topic["partitions"]
    assert sorted(p["partition_index"] for p in parts) == list(range(partitions))
    leaders: collections.Counter[int] = collections.Counter()
    hosted: collections.Counter[int] = collections.Counter()
    for p in parts:
        replicas = p["replica_nodes"]
        assert len(replicas) == rf and len(set(replicas)) == rf and set(replicas) <= BROKERS
        assert set(p["isr_nodes"]) == set(replicas)
        assert p["leader_id"] == replicas[0], "a new partition is led by its first replica"
        assert (p["error_code"], p["leader_epoch"], p["offline_replicas"]) == (NONE, 0, [])
        leaders[p["leader_id"]] += 1
        hosted.update(replicas)
    # Placement spreads leaders and replicas evenly over the brokers.
    leads = [leaders[b] for b in BROKERS]
    hosts = [hosted[b] for b in BROKERS]
    assert max(leads) - min(leads) <= 1, leaders
    assert max(hosts) - min(hosts) <= 1, hosted
    # Every broker tells the same story.
    for node_id in target.addresses():
        assert target.topic(name, node_id)["partitions"] == parts


def test_default_partitions_and_replication_factor(target: Target) -> None:
    name = unique("defaults")
    (result,) = target.create_topics(
        [{"name": name, "num_partitions": -1, "replication_factor": -1}]
    )
    assert result["error_code"] == NONE
    rf = result["replication_factor"]
    assert result["num_partitions"] == 1
    if rf != 1:
        assert target.name == "bundled" and documented_default(
            "default.replication.factor", "1", rf
        )
    target.wait_topic(name, 1)
    assert len(target.partitions(name)[0]["replicas"]) == rf


INVALID_NAMES = {
    "empty": "",
    "dot": ".",
    "dotdot": "..",
    "250 chars": "a" * 250,
    "space": "bad name",
    "slash": "a/b",
    "non-ascii": "topic-ü",
    "colon": "a:b",
}


@pytest.mark.parametrize("name", INVALID_NAMES.values(), ids=INVALID_NAMES.keys())
def test_invalid_topic_names(target: Target, name: str) -> None:
    for validate_only in (True, False):
        (result,) = target.create_topics(
            [{"name": name, "num_partitions": 1, "replication_factor": 1}], validate_only
        )
        assert result["error_code"] == INVALID_TOPIC_EXCEPTION, result
        assert (result["num_partitions"], result["replication_factor"]) == (-1, -1)


def test_longest_legal_name_and_legal_characters(target: Target) -> None:
    for name in (unique("x") + "y" * (249 - 17), "A-z_0.9-" + unique("ok")):
        assert len(name) <= 249
        (result,) = target.create_topics([{"name": name}], validate_only=True)
        assert result["error_code"] == NONE, (len(name), result)
        assert target.topic(name)["error_code"] == UNKNOWN_TOPIC_OR_PARTITION  # validate only


# case -> (CreateTopics fields, Kafka's error code)
BAD_CREATES = {
    "too-many-replicas": ({"replication_factor": 4}, INVALID_REPLICATION_FACTOR),
    "zero-replicas": ({"replication_factor": 0}, INVALID_REPLICATION_FACTOR),
    "negative-replicas": ({"replication_factor": -5}, INVALID_REPLICATION_FACTOR),
    "zero-partitions": ({"num_partitions": 0}, INVALID_PARTITIONS),
    "negative-partitions": ({"num_partitions": -5}, INVALID_PARTITIONS),
    "unknown-config": ({"configs": {"no.such.config": "1"}}, INVALID_CONFIG),
    "bad-config-number": ({"configs": {"retention.ms": "abc"}}, INVALID_CONFIG),
    "bad-config-choice": ({"configs": {"cleanup.policy": "bogus"}}, INVALID_CONFIG),
    "assigned-twice": ({"assignments": {0: [1, 1]}}, INVALID_REPLICA_ASSIGNMENT),
    "assigned-unknown-broker": ({"assignments": {0: [1, 9]}}, INVALID_REPLICA_ASSIGNMENT),
    "assigned-uneven": ({"assignments": {0: [1, 2], 1: [3]}}, INVALID_REPLICA_ASSIGNMENT),
    "assigned-gap": ({"assignments": {1: [1, 2]}}, INVALID_REPLICA_ASSIGNMENT),
    "assigned-and-count": ({"num_partitions": 2, "assignments": {0: [1, 2]}}, INVALID_REQUEST),
    "assigned-and-rf": ({"replication_factor": 2, "assignments": {0: [1, 2]}}, INVALID_REQUEST),
}


@pytest.mark.parametrize(("fields", "code"), BAD_CREATES.values(), ids=BAD_CREATES.keys())
def test_bad_create_topics(target: Target, fields: dict, code: int) -> None:
    spec = {"num_partitions": -1, "replication_factor": -1}
    if "assignments" not in fields:
        spec = {"num_partitions": 1, "replication_factor": 1}
    spec.update(fields)
    for validate_only in (True, False):
        spec["name"] = unique("bad")
        (result,) = target.create_topics([spec], validate_only)
        assert result["error_code"] == code, result
    assert target.topic(spec["name"])["error_code"] == UNKNOWN_TOPIC_OR_PARTITION


def test_min_insync_above_replication_factor_is_accepted(target: Target) -> None:
    (result,) = target.create_topics(
        [{"name": unique("misr"), "replication_factor": 1, "configs": {"min.insync.replicas": "3"}}]
    )
    assert result["error_code"] == NONE


def test_existing_and_colliding_names(target: Target) -> None:
    name = target.create_topic(unique("taken.dot"), 1, 1)
    (again,) = target.create_topics([{"name": name}])
    assert again["error_code"] == TOPIC_ALREADY_EXISTS
    (again,) = target.create_topics([{"name": name}], validate_only=True)
    assert again["error_code"] == TOPIC_ALREADY_EXISTS
    # '.' and '_' collide in metric names: Kafka refuses the second of such a pair.
    (collides,) = target.create_topics([{"name": name.replace(".", "_")}])
    assert collides["error_code"] == INVALID_TOPIC_EXCEPTION


def test_topic_named_twice_in_one_request(target: Target) -> None:
    name = unique("twice")
    results = target.create_topics([{"name": name}, {"name": name}])
    assert [(r["name"], r["error_code"]) for r in results] == [(name, INVALID_REQUEST)]
    time.sleep(1)
    assert target.topic(name)["error_code"] == UNKNOWN_TOPIC_OR_PARTITION


def test_unknown_topic_without_auto_create(target: Target) -> None:
    name = unique("ghost")
    for node_id in target.addresses():
        topic = target.metadata([name], auto_create=False, node_id=node_id)["topics"][0]
        assert (topic["name"], topic["error_code"], topic["partitions"]) == (
            name,
            UNKNOWN_TOPIC_OR_PARTITION,
            [],
        )
    time.sleep(1)
    assert target.topic(name)["error_code"] == UNKNOWN_TOPIC_OR_PARTITION


def test_metadata_auto_creates_with_broker_defaults(target: Target) -> None:
    name = unique("auto")
    first = target.metadata([name], auto_create=True)["topics"][0]
    assert first["error_code"] in (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE)
    target.wait_topic(name, 1)
    (part,) = target.partitions(name).values()
    rf = len(part["replicas"])
    if rf != 1:
        assert target.name == "bundled" and documented_default(
            "default.replication.factor", "1", rf
        )


def test_metadata_auto_create_first_answer(target: Target) -> None:
    first = target.metadata([unique("auto")], auto_create=True)["topics"][0]
    assert first["error_code"] == UNKNOWN_TOPIC_OR_PARTITION


def _create_partitions(
    target: Target,
    name: str,
    count: int,
    assignments: list[list[int]] | None = None,
    validate_only: bool = False,
) -> int:
    answer = target.call(
        "CreatePartitions",
        topics=[
            {
                "name": name,
                "count": count,
                "assignments": None
                if assignments is None
                else [{"broker_ids": a} for a in assignments],
            }
        ],
        timeout=15000,
        validate_only=validate_only,
    )
    (result,) = answer["results"]
    return result["error_code"]


def test_create_partitions(target: Target) -> None:
    name = target.create_topic(unique("grow"), 2, 2)
    assert _create_partitions(target, name, 4, validate_only=True) == NONE
    assert len(target.partitions(name)) == 2
    assert _create_partitions(target, name, 4) == NONE
    target.wait_topic(name, 4)
    for p in target.partitions(name).values():
        assert len(p["replicas"]) == 2 and p["leader"] == p["replicas"][0]
        assert set(p["isr"]) == set(p["replicas"])
    assert _create_partitions(target, name, 5, [[3, 1]]) == NONE
    target.wait_topic(name, 5)
    assert target.partitions(name)[4]["replicas"] == [3, 1]
    # Refused: no increase, unknown topic, bad assignments.
    assert _create_partitions(target, name, 5) == INVALID_PARTITIONS
    assert _create_partitions(target, name, 3) == INVALID_PARTITIONS
    assert _create_partitions(target, unique("nosuch"), 3) == UNKNOWN_TOPIC_OR_PARTITION
    assert _create_partitions(target, name, 6, [[9, 1]]) == INVALID_REPLICA_ASSIGNMENT
    assert _create_partitions(target, name, 6, [[1, 1]]) == INVALID_REPLICA_ASSIGNMENT
    assert _create_partitions(target, name, 6, [[1]]) == INVALID_REPLICA_ASSIGNMENT
    assert _create_partitions(target, name, 7, [[1, 2]]) == INVALID_REPLICA_ASSIGNMENT
    assert len(target.partitions(name)) == 5


def test_delete_topics(target: Target) -> None:
    name = target.create_topic(unique("doomed"), 2, 2)
    nosuch = unique("nosuch")
    answer = target.call(
        "DeleteTopics",
        topics=[{"name": name, "topic_id": None}, {"name": nosuch, "topic_id": None}],
        timeout=15000,
    )
    # Results come in no particular order.
    codes = {r["name"]: (r["error_code"], r["topic_id"] is not None) for r in answer["responses"]}
    assert codes == {name: (NONE, True), nosuch: (UNKNOWN_TOPIC_OR_PARTITION, False)}

    def gone() -> bool:
        return all(
            target.topic(name, n)["error_code"] == UNKNOWN_TOPIC_OR_PARTITION
            for n in target.addresses()
        )

    wait_for(gone, 20, f"{target}: {name} gone from every broker")
