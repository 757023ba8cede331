"""Replica placement: Kafka's rack-unaware assignment and the checks of manual assignments."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkabook.broker.controller.placement import (
    PlacementError,
    assign_replicas,
    check_replication_factor,
    normalize_assignments,
    place_additional_partitions,
    place_new_topic,
    validate_assignment,
)

broker_sets = st.lists(
    st.integers(min_value=0, max_value=1000), min_size=1, max_size=12, unique=True
)


@st.composite
def placements(draw: st.DrawFn) -> tuple[list[int], int, int, int]:
    brokers = draw(broker_sets)
    partitions = draw(st.integers(min_value=1, max_value=60))
    rf = draw(st.integers(min_value=1, max_value=len(brokers)))
    seed = draw(st.integers(min_value=0, max_value=2**32))
    return brokers, partitions, rf, seed


@settings(max_examples=300, deadline=None)
@given(placements())
def test_assignment_invariants(case: tuple[list[int], int, int, int]) -> None:
    brokers, partitions, rf, seed = case
    assignment = assign_replicas(brokers, partitions, rf, rng=random.Random(seed))
    assert len(assignment) == partitions
    for replicas in assignment:
        assert len(replicas) == rf  # RF respected
        assert len(set(replicas)) == rf  # no broker twice in one partition
        assert set(replicas) <= set(brokers)
    # Preferred leaders are dealt round-robin: no broker leads more than one extra partition.
    leaders = Counter(replicas[0] for replicas in assignment)
    counts = [leaders.get(b, 0) for b in brokers]
    assert max(counts) - min(counts) <= 1


@settings(max_examples=200, deadline=None)
@given(placements())
def test_replicas_spread_evenly_over_full_rounds(case: tuple[list[int], int, int, int]) -> None:
    brokers, partitions, rf, seed = case
    n = len(brokers)
    # Over a multiple of the broker count every broker holds exactly the same number of
    # replicas: each round places one leader per broker, and each follower offset per broker.
    rounds = partitions // n + 1
    assignment = assign_replicas(brokers, rounds * n, rf, rng=random.Random(seed))
    held = Counter(b for replicas in assignment for b in replicas)
    assert set(held.values()) == {rounds * rf}


def test_matches_kafka_for_a_fixed_start() -> None:
    # Worked by hand from Kafka's algorithm: start index and shift 0, five brokers, ten
    # partitions; the follower distance grows by one after the first round of five.
    got = assign_replicas([0, 1, 2, 3, 4], 10, 3, fixed_start_index=0)
    assert got == [
        [0, 1, 2],
        [1, 2, 3],
        [2, 3, 4],
        [3, 4, 0],
        [4, 0, 1],
        [0, 2, 3],
        [1, 3, 4],
        [2, 4, 0],
        [3, 0, 1],
        [4, 1, 2],
    ]


def test_broker_ids_are_sorted_first() -> None:
    assert assign_replicas([30, 10, 20], 3, 1, fixed_start_index=0) == [[10], [20], [30]]


def test_random_start_uses_the_rng() -> None:
    starts = {assign_replicas([1, 2, 3, 4], 1, 1, rng=random.Random(s))[0][0] for s in range(50)}
    assert starts == {1, 2, 3, 4}  # not always the lowest broker id


def test_same_seed_same_assignment() -> None:
    a = assign_replicas([1, 2, 3], 7, 2, rng=random.Random(42))
    b = assign_replicas([1, 2, 3], 7, 2, rng=random.Random(42))
    assert a == b


def test_replication_factor_above_live_brokers_has_kafkas_message() -> None:
    with pytest.raises(PlacementError) as info:
        place_new_topic(3, 3, [1, 2])
    assert info.value.error == "INVALID_REPLICATION_FACTOR"
    assert info.value.message == (
        "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot "
        "be reached because only 2 broker(s) are registered."
    )


def test_no_live_broker_means_all_fenced() -> None:
    with pytest.raises(PlacementError) as info:
        check_replication_factor(1, 0)
    assert info.value.message.endswith("All brokers are currently fenced.")


@pytest.mark.parametrize("partitions", [0, -2])
def test_non_positive_partitions(partitions: int) -> None:
    with pytest.raises(PlacementError) as info:
        place_new_topic(partitions, 1, [1])
    assert info.value.error == "INVALID_PARTITIONS"


def test_zero_replication_factor() -> None:
    with pytest.raises(PlacementError) as info:
        place_new_topic(1, 0, [1])
    assert info.value.error == "INVALID_REPLICATION_FACTOR"


@pytest.mark.parametrize(
    ("assignment", "fragment"),
    [
        ([[1, 1]], "broker 1 more than once"),
        ([[1, 9]], "broker 9, but no such broker is registered"),
        ([[1, 2], [1]], "with 1 replica(s), but this is not consistent"),
        ([[]], "empty replica list"),
        ([[3]], "for partition 0 are fenced or in controlled shutdown"),
    ],
)
def test_invalid_manual_assignments(assignment: list[list[int]], fragment: str) -> None:
    with pytest.raises(PlacementError) as info:
        validate_assignment(assignment, registered={1, 2, 3}, live={1, 2})
    assert info.value.error == "INVALID_REPLICA_ASSIGNMENT"
    assert fragment in info.value.message


def test_manual_assignment_must_match_the_existing_replication_factor() -> None:
    with pytest.raises(PlacementError) as info:
        validate_assignment([[1]], registered={1, 2}, live={1, 2}, replication_factor=2)
    assert info.value.error == "INVALID_REPLICA_ASSIGNMENT"
    validate_assignment([[2, 1]], registered={1, 2}, live={1, 2}, replication_factor=2)


def test_manual_assignment_may_include_a_fenced_follower() -> None:
    validate_assignment([[1, 3]], registered={1, 2, 3}, live={1, 2})


def test_normalize_indexed_assignments() -> None:
    entries = [
        {"partition_index": 1, "broker_ids": [2, 1]},
        {"partition_index": 0, "broker_ids": [1, 2]},
    ]
    assert normalize_assignments(entries, indexed=True) == [[1, 2], [2, 1]]
    assert normalize_assignments({"0": [3], "1": [4]}, indexed=True) == [[3], [4]]
    with pytest.raises(PlacementError) as info:
        normalize_assignments({"0": [3], "2": [4]}, indexed=True)
    assert info.value.error == "INVALID_REPLICA_ASSIGNMENT"
    with pytest.raises(PlacementError) as info:
        normalize_assignments([{"partition_index": 0, "broker_ids": [1]}] * 2, indexed=True)
    assert "more than once" in info.value.message
    with pytest.raises(PlacementError) as info:
        normalize_assignments([["x"]], indexed=False)
    assert info.value.error == "INVALID_REQUEST"


def test_additional_partitions_continue_the_round_robin() -> None:
    existing = assign_replicas([1, 2, 3], 3, 2, fixed_start_index=1)
    added = place_additional_partitions(existing, 6, [1, 2, 3])
    assert len(added) == 3
    assert all(len(r) == 2 and len(set(r)) == 2 for r in added)
    # Partition 0 starts at broker 2, so partition 3 (the next round) does too.
    assert [r[0] for r in added] == [2, 3, 1]


def test_additional_partitions_must_increase() -> None:
    with pytest.raises(PlacementError) as info:
        place_additional_partitions([[1], [2]], 2, [1, 2])
    assert info.value.error == "INVALID_PARTITIONS"


def test_additional_partitions_need_enough_live_brokers() -> None:
    with pytest.raises(PlacementError) as info:
        place_additional_partitions([[1, 2, 3]], 2, [1, 2])
    assert info.value.error == "INVALID_REPLICATION_FACTOR"
