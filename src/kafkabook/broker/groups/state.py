"""The classic consumer group's life cycle as one transition table.

A group moves between five states. Every move is caused by one of a handful of events, and the
whole machine is the table :data:`TRANSITIONS` (h11-style: a move that is not in the table is a
bug and raises :class:`InvalidTransition`, it never silently happens)::

                        PREPARE_REBALANCE
          +--------------------------------------------------+
          |                                                  |
          v          JOIN_COMPLETED           ASSIGNMENT_STORED
    PreparingRebalance ----------> CompletingRebalance ------------> Stable
      ^   |    ^                        |  PREPARE_REBALANCE            |
      |   |    +------------------------+                              |
      |   | JOIN_COMPLETED_EMPTY                                       |
      |   v                                                            |
      +- Empty         (PREPARE_REBALANCE from Empty, the first join)  |
                                                                       |
    any state --REMOVED--> Dead     (deleted, unloaded, expired)        |

The states also decide how the coordinator answers a member without looking further:
:data:`HEARTBEAT_ANSWER` is the whole of Heartbeat's state logic, and :func:`can_rebalance` says
whether a new rebalance may start (Kafka's "valid previous states" of PreparingRebalance).

>>> next_state(GroupState.EMPTY, Event.PREPARE_REBALANCE)
<GroupState.PREPARING_REBALANCE: 'PreparingRebalance'>
>>> next_state(GroupState.EMPTY, Event.ASSIGNMENT_STORED)
Traceback (most recent call last):
...
kafkabook.broker.groups.state.InvalidTransition: Empty --ASSIGNMENT_STORED--> is not a transition
"""

from __future__ import annotations

import enum

from ...protocol.errors import ErrorCode


class GroupState(enum.Enum):
    """The five states, valued by the names Kafka reports (DescribeGroups, ListGroups)."""

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"

    def __str__(self) -> str:
        return self.value


class Event(enum.Enum):
    """What moves a group."""

    #: A member joined, rejoined with new metadata, left, failed, or the leader rejoined:
    #: a new generation is needed.
    PREPARE_REBALANCE = enum.auto()
    #: The join phase ended with members: they get their JoinGroup answers.
    JOIN_COMPLETED = enum.auto()
    #: The join phase ended and nobody is left.
    JOIN_COMPLETED_EMPTY = enum.auto()
    #: The leader's assignment is durably stored: everyone gets their SyncGroup answer.
    ASSIGNMENT_STORED = enum.auto()
    #: The group is deleted, or its coordinator partition moved away.
    REMOVED = enum.auto()


S, E = GroupState, Event

TRANSITIONS: dict[tuple[GroupState, Event], GroupState] = {
    (S.EMPTY, E.PREPARE_REBALANCE): S.PREPARING_REBALANCE,
    (S.STABLE, E.PREPARE_REBALANCE): S.PREPARING_REBALANCE,
    (S.COMPLETING_REBALANCE, E.PREPARE_REBALANCE): S.PREPARING_REBALANCE,
    (S.PREPARING_REBALANCE, E.JOIN_COMPLETED): S.COMPLETING_REBALANCE,
    (S.PREPARING_REBALANCE, E.JOIN_COMPLETED_EMPTY): S.EMPTY,
    (S.COMPLETING_REBALANCE, E.ASSIGNMENT_STORED): S.STABLE,
    **{(state, E.REMOVED): S.DEAD for state in S},
}

#: The Heartbeat answer of a valid member of the current generation, by state.
HEARTBEAT_ANSWER: dict[GroupState, ErrorCode] = {
    S.EMPTY: ErrorCode.unknown_member_id,
    S.PREPARING_REBALANCE: ErrorCode.rebalance_in_progress,
    # Members heartbeat between their JoinGroup and SyncGroup answers: that is normal.
    S.COMPLETING_REBALANCE: ErrorCode.none,
    S.STABLE: ErrorCode.none,
    S.DEAD: ErrorCode.coordinator_not_available,
}


class InvalidTransition(Exception):
    """A move that the table does not allow: a coordinator bug, never a client error."""


def next_state(state: GroupState, event: Event) -> GroupState:
    """The state after `event`, or InvalidTransition."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"{state} --{event.name}--> is not a transition") from None


def can_rebalance(state: GroupState) -> bool:
    """Whether a rebalance may begin now (from Empty, Stable or CompletingRebalance).

    >>> [s.value for s in GroupState if can_rebalance(s)]
    ['Empty', 'CompletingRebalance', 'Stable']
    """
    return (state, Event.PREPARE_REBALANCE) in TRANSITIONS


def parse_state(name: str) -> GroupState | None:
    """A state from a ListGroups states filter, compared case-insensitively as Kafka does.

    >>> parse_state("stable"), parse_state("nope")
    (<GroupState.STABLE: 'Stable'>, None)
    """
    lowered = name.lower()
    return next((s for s in GroupState if s.value.lower() == lowered), None)
