"""Leader election and ISR changes as pure functions of one partition state."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkabook.broker.controller.election import (
    AlterPartitionError,
    alter_isr,
    change,
    elect_leader,
    elect_preferred,
    remove_broker,
    validate_alter_partition,
)
from kafkabook.broker.state import NO_LEADER, PartitionState


def state(replicas, isr, leader, leader_epoch=5, partition_epoch=10) -> PartitionState:
    return PartitionState(replicas, isr, leader, leader_epoch, partition_epoch)


def test_change_bumps_epochs_by_kind() -> None:
    p = state((1, 2, 3), (1, 2, 3), 1)
    assert change(p) is p
    isr_only = change(p, isr=(1, 2))
    assert (isr_only.leader_epoch, isr_only.partition_epoch) == (5, 11)
    new_leader = change(p, leader=2)
    assert (new_leader.leader_epoch, new_leader.partition_epoch) == (6, 11)


def test_fencing_the_leader_elects_the_next_isr_member_in_replica_order() -> None:
    p = state((1, 2, 3), (3, 2, 1), 1)
    new = remove_broker(p, 1, eligible={2, 3})
    assert new.leader == 2  # replica order, not ISR order
    assert new.isr == (3, 2)
    assert (new.leader_epoch, new.partition_epoch) == (6, 11)


def test_fencing_a_follower_shrinks_the_isr_and_keeps_the_leader() -> None:
    p = state((1, 2, 3), (1, 2, 3), 1)
    new = remove_broker(p, 3, eligible={1, 2})
    assert (new.leader, new.isr, new.leader_epoch, new.partition_epoch) == (1, (1, 2), 5, 11)


def test_fencing_the_last_isr_member_keeps_it_in_the_isr_without_a_leader() -> None:
    p = state((1, 2), (1,), 1)
    new = remove_broker(p, 1, eligible={2})
    assert (new.leader, new.isr) == (NO_LEADER, (1,))
    assert new.leader_epoch == 6


def test_fencing_the_last_isr_member_with_unclean_election() -> None:
    p = state((1, 2), (1,), 1)
    new = remove_broker(p, 1, eligible={2}, unclean=True)
    assert (new.leader, new.isr) == (2, (2,))


def test_fencing_a_broker_outside_the_partition_changes_nothing() -> None:
    p = state((1, 2), (1, 2), 1)
    assert remove_broker(p, 3, eligible={1, 2}) is p


def test_elect_leader_keeps_a_healthy_leader() -> None:
    p = state((1, 2), (1, 2), 2)
    assert elect_leader(p, {1, 2}) is p


def test_elect_leader_returns_when_an_isr_member_comes_back() -> None:
    p = state((1, 2, 3), (2,), NO_LEADER)
    assert elect_leader(p, {1, 3}) is p  # 2 is still away: nothing to do
    back = elect_leader(p, {1, 2, 3})
    assert (back.leader, back.isr, back.leader_epoch) == (2, (2,), 6)


def test_preferred_election() -> None:
    p = state((1, 2, 3), (1, 2, 3), 2)
    moved = elect_preferred(p, {1, 2, 3})
    assert moved is not None
    assert (moved.leader, moved.leader_epoch, moved.partition_epoch) == (1, 6, 11)
    assert elect_preferred(moved, {1, 2, 3}) is moved
    assert elect_preferred(state((1, 2), (2,), 2), {1, 2}) is None  # not in the ISR
    assert elect_preferred(p, {2, 3}) is None  # not live


def _alter(p: PartitionState, **overrides) -> None:
    args = {
        "requester": p.leader,
        "leader_epoch": p.leader_epoch,
        "partition_epoch": p.partition_epoch,
        "new_isr": list(p.isr),
        "eligible": {1, 2, 3},
    }
    args.update(overrides)
    validate_alter_partition(p, **args)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"leader_epoch": 4}, "FENCED_LEADER_EPOCH"),
        ({"requester": 2}, "NOT_LEADER_OR_FOLLOWER"),
        ({"partition_epoch": 9}, "INVALID_UPDATE_VERSION"),
        ({"new_isr": [1, 2], "eligible": {1}}, "INELIGIBLE_REPLICA"),
        ({"new_isr": [1, 4]}, "INVALID_REQUEST"),
        ({"new_isr": [2]}, "INVALID_REQUEST"),
        ({"new_isr": []}, "INVALID_REQUEST"),
        ({"new_isr": [1, 1]}, "INVALID_REQUEST"),
    ],
)
def test_alter_partition_validation(overrides: dict, error: str) -> None:
    p = state((1, 2, 3), (1,), 1)
    with pytest.raises(AlterPartitionError) as info:
        _alter(p, **overrides)
    assert info.value.error == error


def test_a_stale_leader_is_told_its_epoch_is_fenced_first() -> None:
    # An old leader that lost leadership also has a stale leader epoch: that is the useful error.
    p = state((1, 2), (1, 2), 2, leader_epoch=7)
    with pytest.raises(AlterPartitionError) as info:
        _alter(p, requester=1, leader_epoch=6)
    assert info.value.error == "FENCED_LEADER_EPOCH"


def test_alter_isr_keeps_replica_order_and_the_leader() -> None:
    p = state((1, 2, 3), (1,), 1)
    _alter(p, new_isr=[3, 1])
    new = alter_isr(p, [3, 1])
    assert (new.isr, new.leader, new.leader_epoch, new.partition_epoch) == ((1, 3), 1, 5, 11)
    assert alter_isr(new, [1, 3]) is new


@st.composite
def partitions_and_brokers(draw: st.DrawFn) -> tuple[PartitionState, set[int], int]:
    replicas = draw(st.lists(st.integers(1, 6), min_size=1, max_size=5, unique=True))
    isr = draw(st.lists(st.sampled_from(replicas), min_size=1, unique=True))
    isr = [r for r in replicas if r in isr]
    leader = draw(st.sampled_from([*isr, NO_LEADER]))
    eligible = set(draw(st.lists(st.integers(1, 6), unique=True)))
    victim = draw(st.sampled_from(replicas))
    return state(tuple(replicas), tuple(isr), leader), eligible, victim


@settings(max_examples=400, deadline=None)
@given(partitions_and_brokers(), st.booleans())
def test_removal_invariants(case: tuple[PartitionState, set[int], int], unclean: bool) -> None:
    p, eligible, victim = case
    eligible = eligible - {victim}
    new = remove_broker(p, victim, eligible, unclean=unclean)
    assert new.replicas == p.replicas
    assert new.isr, "the ISR is never emptied"
    assert set(new.isr) <= set(new.replicas)
    assert new.leader != victim
    if new.leader != NO_LEADER:
        assert new.leader in new.isr and new.leader in eligible
    if victim in new.isr:
        assert new.isr == (victim,)  # only as the last member
    if new is not p:
        assert new.partition_epoch == p.partition_epoch + 1
        assert new.leader_epoch == p.leader_epoch + (new.leader != p.leader)
    if not unclean:
        assert set(new.isr) <= set(p.isr)  # a clean election never adds members
