"""The classic group state machine and the group's bookkeeping, without any I/O."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkabook.broker.groups.assignment import encode_subscription
from kafkabook.broker.groups.group import ClassicGroup, Member
from kafkabook.broker.groups.offsets_codec import GroupMetadataValue, MemberMetadata
from kafkabook.broker.groups.state import (
    HEARTBEAT_ANSWER,
    TRANSITIONS,
    Event,
    GroupState,
    InvalidTransition,
    can_rebalance,
    next_state,
    parse_state,
)
from kafkabook.protocol.errors import ErrorCode

S, E = GroupState, Event

#: Kafka's ClassicGroupState: the states a group may come from, for each state it enters.
KAFKA_VALID_PREVIOUS = {
    S.EMPTY: {S.PREPARING_REBALANCE},
    S.PREPARING_REBALANCE: {S.STABLE, S.COMPLETING_REBALANCE, S.EMPTY},
    S.COMPLETING_REBALANCE: {S.PREPARING_REBALANCE},
    S.STABLE: {S.COMPLETING_REBALANCE},
    S.DEAD: set(S),
}


def test_the_table_allows_exactly_kafkas_moves():
    reachable: dict[GroupState, set[GroupState]] = {s: set() for s in S}
    for (source, _), target in TRANSITIONS.items():
        reachable[target].add(source)
    assert reachable == KAFKA_VALID_PREVIOUS


@pytest.mark.parametrize(("state", "event"), list(itertools.product(S, E)))
def test_every_pair_is_either_a_transition_or_refused(state, event):
    if (state, event) in TRANSITIONS:
        assert next_state(state, event) is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(InvalidTransition):
            next_state(state, event)


def test_a_full_life():
    state = S.EMPTY
    for event, expected in [
        (E.PREPARE_REBALANCE, S.PREPARING_REBALANCE),
        (E.JOIN_COMPLETED, S.COMPLETING_REBALANCE),
        (E.ASSIGNMENT_STORED, S.STABLE),
        (E.PREPARE_REBALANCE, S.PREPARING_REBALANCE),  # a member left
        (E.JOIN_COMPLETED_EMPTY, S.EMPTY),  # and it was the last one
        (E.REMOVED, S.DEAD),  # DeleteGroups
    ]:
        state = next_state(state, event)
        assert state is expected


def test_rebalance_may_start_from_empty_stable_and_completing_only():
    assert {s for s in S if can_rebalance(s)} == {S.EMPTY, S.STABLE, S.COMPLETING_REBALANCE}


def test_heartbeat_answers_by_state():
    expected = {
        S.EMPTY: ErrorCode.unknown_member_id,
        S.PREPARING_REBALANCE: ErrorCode.rebalance_in_progress,
        S.COMPLETING_REBALANCE: ErrorCode.none,
        S.STABLE: ErrorCode.none,
        S.DEAD: ErrorCode.coordinator_not_available,
    }
    assert expected == HEARTBEAT_ANSWER


def test_state_names_and_filters():
    assert [str(s) for s in S] == [
        "Empty",
        "PreparingRebalance",
        "CompletingRebalance",
        "Stable",
        "Dead",
    ]
    assert parse_state("PREPARINGREBALANCE") is S.PREPARING_REBALANCE
    assert parse_state("unknown") is None


# -- the group's bookkeeping ----------------------------------------------------------------------


def member(
    member_id: str,
    protocols=(("range", b"r"), ("roundrobin", b"rr")),
    instance=None,
    waiting: bool = False,
) -> Member:
    m = Member(
        member_id,
        instance,
        f"client-{member_id}",
        "/127.0.0.1",
        60000,
        10000,
        "consumer",
        tuple(protocols),
    )
    if waiting:
        m.join_waiter = object()
    return m


def test_first_member_leads_and_sets_the_protocol_type():
    g = ClassicGroup("g")
    g.add(member("a"))
    g.add(member("b"))
    assert (g.leader_id, g.protocol_type) == ("a", "consumer")
    g.remove("a")
    assert g.leader_id == "b"
    g.remove("b")
    assert g.leader_id is None and not g.members


def test_protocol_selection_votes_among_common_protocols():
    g = ClassicGroup("g")
    g.add(member("a", (("range", b""), ("sticky", b""))))
    g.add(member("b", (("sticky", b""), ("range", b""))))
    g.add(member("c", (("sticky", b""), ("roundrobin", b""))))
    assert g.candidate_protocols() == {"sticky"}
    assert g.select_protocol() == "sticky"
    g.remove("c")
    # One vote each for range and sticky: the leader's preference breaks the tie.
    assert g.candidate_protocols() == {"range", "sticky"}
    assert g.select_protocol() == "range"


def test_supports_protocols():
    g = ClassicGroup("g")
    assert not g.supports_protocols("consumer", [])
    assert not g.supports_protocols("", ["range"])
    assert g.supports_protocols("consumer", ["range"])
    g.add(member("a", (("range", b""),)))
    g.transition(E.PREPARE_REBALANCE)
    assert g.supports_protocols("consumer", ["roundrobin", "range"])
    assert not g.supports_protocols("consumer", ["roundrobin"])
    assert not g.supports_protocols("connect", ["range"])


def test_join_accounting_and_leader_election():
    g = ClassicGroup("g")
    g.add(member("a"))
    g.add(member("b", waiting=True))
    g.pending_join.add("c-pending")
    assert g.num_awaiting_join() == 1
    assert not g.has_all_members_joined()
    assert [m.member_id for m in g.not_yet_rejoined()] == ["a"]
    # The leader did not rejoin: a member that did takes over.
    assert g.maybe_elect_new_joined_leader()
    assert g.leader_id == "b"
    g.members["a"].join_waiter = object()
    g.pending_join.clear()
    assert g.has_all_members_joined()


def test_next_generation():
    g = ClassicGroup("g")
    g.add(member("a", (("range", encode_subscription(["orders", "payments"])),)))
    g.transition(E.PREPARE_REBALANCE)
    g.pending_sync.add("stale")
    g.init_next_generation(now_ms=1234)
    assert (g.state, g.generation_id, g.protocol_name) == (S.COMPLETING_REBALANCE, 1, "range")
    assert g.current_state_timestamp == 1234 and not g.pending_sync
    assert g.subscribed_topics == {"orders", "payments"}
    assert g.is_subscribed_to("orders") and not g.is_subscribed_to("other")
    g.transition(E.PREPARE_REBALANCE)
    g.remove("a")
    g.init_next_generation(now_ms=2000)
    assert (g.state, g.generation_id, g.protocol_name) == (S.EMPTY, 2, None)
    assert g.protocol_type == "consumer"  # an Empty group keeps its protocol type
    assert g.subscribed_topics == set()


def test_heartbeat_satisfaction():
    m = member("a")
    assert not m.has_satisfied_heartbeat()
    m.join_waiter = object()
    assert m.has_satisfied_heartbeat()
    m.is_new = True  # a new member's parked JoinGroup does not keep it alive
    assert not m.has_satisfied_heartbeat()


def test_static_members():
    g = ClassicGroup("g")
    g.add(member("old", instance="i-1"))
    g.members["old"].assignment = b"assigned"
    assert g.validate_member("old", "i-1") == ErrorCode.none
    assert g.validate_member("other", "i-1") == ErrorCode.fenced_instance_id
    assert g.validate_member("old", "i-2") == ErrorCode.unknown_member_id
    old, new = g.replace_static_member("i-1", "old", "new")
    assert (old.member_id, new.member_id, new.assignment, g.leader_id) == (
        "old",
        "new",
        b"assigned",
        "new",
    )
    assert g.static_members == {"i-1": "new"} and list(g.members) == ["new"]
    with pytest.raises(ValueError):
        g.add(member("dup", instance="i-1"))


@pytest.mark.parametrize(
    ("state", "member_id", "instance", "generation", "expected"),
    [
        (S.EMPTY, "", None, -1, ErrorCode.none),  # a simple (admin) commit
        (S.EMPTY, "a", None, 1, ErrorCode.none),  # hypothetical: a member of an Empty group
        (S.STABLE, "", None, -1, ErrorCode.unknown_member_id),
        (S.STABLE, "a", None, 1, ErrorCode.none),
        (S.STABLE, "a", None, 0, ErrorCode.illegal_generation),
        (S.STABLE, "x", None, 1, ErrorCode.unknown_member_id),
        (S.STABLE, "a", "i-9", 1, ErrorCode.unknown_member_id),
        (S.COMPLETING_REBALANCE, "a", None, 1, ErrorCode.rebalance_in_progress),
        (S.PREPARING_REBALANCE, "a", None, 1, ErrorCode.none),  # the previous generation commits
        (S.DEAD, "a", None, 1, ErrorCode.coordinator_not_available),
    ],
)
def test_who_may_commit(state, member_id, instance, generation, expected):
    g = ClassicGroup("g", generation_id=1)
    g.add(member("a"))
    g.state = state
    assert g.validate_offset_commit(member_id, instance, generation) == expected


def test_records_round_trip_through_the_group():
    g = ClassicGroup("g")
    g.add(member("a", (("range", b"meta-a"),), instance="i-a"))
    g.add(member("b", (("range", b"meta-b"),)))
    g.transition(E.PREPARE_REBALANCE)
    g.init_next_generation(now_ms=99)
    value = g.to_record({"a": b"asg-a", "b": b"asg-b"})
    assert [(m.member_id, m.subscription, m.assignment) for m in value.members] == [
        ("a", b"meta-a", b"asg-a"),
        ("b", b"meta-b", b"asg-b"),
    ]
    loaded = ClassicGroup.from_record("g", value)
    assert loaded.state is S.STABLE
    assert (loaded.generation_id, loaded.protocol_name, loaded.leader_id) == (1, "range", "a")
    assert loaded.static_members == {"i-a": "a"}
    assert loaded.members["b"].assignment == b"asg-b"
    assert loaded.members["a"].metadata("range") == b"meta-a"


@given(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=30))
def test_membership_bookkeeping_stays_consistent(ops):
    """Adding and removing members in any order keeps the leader and protocol counts right."""
    g = ClassicGroup("g")
    for name in ops:
        if name in g.members:
            g.remove(name)
        else:
            g.add(member(name, instance=f"i-{name}" if name in "ab" else None))
        assert (g.leader_id is None) == (not g.members)
        assert g.leader_id is None or g.leader_id in g.members
        assert g.candidate_protocols() == ({"range", "roundrobin"} if g.members else set())
        assert set(g.static_members.values()) <= set(g.members)


def test_a_v0_record_without_rebalance_timeout_uses_the_session_timeout():
    value = GroupMetadataValue(
        "consumer",
        4,
        "range",
        "m",
        -1,
        (MemberMetadata("m", None, "c", "/h", -1, 10000, b"", b""),),
    )
    group = ClassicGroup.from_record("g", value)
    assert group.members["m"].rebalance_timeout_ms == 10000
    assert group.current_state_timestamp is None
