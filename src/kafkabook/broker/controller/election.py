"""Leader election and ISR changes: pure functions from one partition state to the next.

Every function takes a :class:`~kafkabook.broker.state.PartitionState` and the set of
*eligible* brokers (registered, unfenced, not in controlled shutdown) and returns the next state.
The epoch rules live in one place, :func:`change`: a new leader bumps ``leader_epoch``, and any
change at all bumps ``partition_epoch``. A function that decides nothing should change returns
the very same object, so callers write a ``partition`` record only when ``new is not old``.

>>> p = PartitionState(replicas=(1, 2, 3), isr=(1, 2, 3), leader=1)
>>> remove_broker(p, 1, eligible={2, 3})
PartitionState(replicas=(1, 2, 3), isr=(2, 3), leader=2, leader_epoch=1, partition_epoch=1)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from kafkabook.broker.state import NO_LEADER, PartitionState

__all__ = [
    "NO_LEADER",
    "AlterPartitionError",
    "alter_isr",
    "change",
    "elect_leader",
    "elect_preferred",
    "remove_broker",
    "validate_alter_partition",
]


def change(
    state: PartitionState, *, leader: int | None = None, isr: Sequence[int] | None = None
) -> PartitionState:
    """Return ``state`` with a new leader and/or ISR, applying the epoch rules.

    Returns ``state`` itself when nothing differs.

    >>> p = PartitionState((1, 2), (1, 2), leader=1, leader_epoch=4, partition_epoch=9)
    >>> change(p, isr=[1])
    PartitionState(replicas=(1, 2), isr=(1,), leader=1, leader_epoch=4, partition_epoch=10)
    >>> change(p, leader=2).leader_epoch
    5
    >>> change(p, leader=1) is p
    True
    """
    new_leader = state.leader if leader is None else leader
    new_isr = state.isr if isr is None else tuple(isr)
    if new_leader == state.leader and new_isr == state.isr:
        return state
    return PartitionState(
        replicas=state.replicas,
        isr=new_isr,
        leader=new_leader,
        # Followers and clients fence stale leaders by leader epoch, so it moves only when the
        # leader does; the partition epoch versions the whole state for AlterPartition.
        leader_epoch=state.leader_epoch + (1 if new_leader != state.leader else 0),
        partition_epoch=state.partition_epoch + 1,
    )


def _choose_leader(
    state: PartitionState, isr: Sequence[int], eligible: Collection[int], unclean: bool
) -> tuple[int, tuple[int, ...]]:
    """(leader, isr) for a partition whose leader must be (re)chosen."""
    for replica in state.replicas:
        if replica in isr and replica in eligible:
            return replica, tuple(isr)
    if unclean:
        for replica in state.replicas:
            if replica in eligible:
                # An unclean leader may lack acknowledged records: it alone is in sync with
                # itself, and the others will truncate to it.
                return replica, (replica,)
    # Nobody eligible: keep the ISR (it remembers who had the data) and wait without a leader.
    return NO_LEADER, tuple(isr)


def elect_leader(
    state: PartitionState, eligible: Collection[int], *, unclean: bool = False
) -> PartitionState:
    """Make sure the partition has an eligible leader if one can be had.

    A current leader that is eligible and in the ISR is kept. Otherwise the first replica (in
    replica order) that is in the ISR and eligible wins; with ``unclean`` and no such replica,
    the first eligible replica wins and becomes the whole ISR. With nobody eligible the leader
    is ``-1`` and the ISR is kept, as KRaft keeps the last ISR member.

    >>> p = PartitionState((1, 2, 3), (1,), leader=-1)
    >>> elect_leader(p, eligible={2, 3}).leader
    -1
    >>> elect_leader(p, eligible={2, 3}, unclean=True).isr
    (2,)
    """
    if state.leader in eligible and state.leader in state.isr:
        return state
    leader, isr = _choose_leader(state, state.isr, eligible, unclean)
    return change(state, leader=leader, isr=isr)


def remove_broker(
    state: PartitionState, broker_id: int, eligible: Collection[int], *, unclean: bool = False
) -> PartitionState:
    """Take ``broker_id`` out of the partition: out of the ISR, and out of leadership.

    Used when a broker is fenced or enters controlled shutdown. ``eligible`` should no longer
    contain ``broker_id``. The broker stays in the ISR if it is the only member, so that the
    partition remembers which replica has every acknowledged record.

    >>> p = PartitionState((1, 2), (1,), leader=1)
    >>> remove_broker(p, 1, eligible={2})
    PartitionState(replicas=(1, 2), isr=(1,), leader=-1, leader_epoch=1, partition_epoch=1)
    """
    isr = state.isr
    if broker_id in isr and len(isr) > 1:
        isr = tuple(r for r in isr if r != broker_id)
    leader = state.leader
    if leader == broker_id or leader not in eligible:
        leader, isr = _choose_leader(state, isr, set(eligible) - {broker_id}, unclean)
    return change(state, leader=leader, isr=isr)


def elect_preferred(state: PartitionState, eligible: Collection[int]) -> PartitionState | None:
    """Move leadership to the preferred (first) replica; ``None`` if it cannot lead now.

    Returns ``state`` itself when the preferred replica already leads.

    >>> p = PartitionState((1, 2), (1, 2), leader=2)
    >>> elect_preferred(p, eligible={1, 2}).leader
    1
    >>> elect_preferred(p, eligible={2}) is None
    True
    """
    preferred = state.replicas[0] if state.replicas else NO_LEADER
    if state.leader == preferred:
        return state
    if preferred in state.isr and preferred in eligible:
        return change(state, leader=preferred)
    return None


class AlterPartitionError(Exception):
    """An AlterPartition request the controller refuses; ``error`` is the Kafka error name."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def validate_alter_partition(
    state: PartitionState,
    *,
    requester: int,
    leader_epoch: int,
    partition_epoch: int,
    new_isr: Sequence[int],
    eligible: Collection[int],
) -> None:
    """Raise :class:`AlterPartitionError` unless the leader's ISR change may be applied.

    Checks, in this order: the leader epoch the requester believes in (``FENCED_LEADER_EPOCH``),
    that the requester is the leader (``NOT_LEADER_OR_FOLLOWER``), the partition epoch it based
    its change on (``INVALID_UPDATE_VERSION``), the shape of the ISR (``INVALID_REQUEST``: not
    empty, no duplicates, only replicas, includes the leader) and that every member is eligible
    (``INELIGIBLE_REPLICA``).

    >>> p = PartitionState((1, 2), (1,), leader=1, leader_epoch=3, partition_epoch=7)
    >>> validate_alter_partition(p, requester=1, leader_epoch=3, partition_epoch=7,
    ...                          new_isr=[1, 2], eligible={1, 2})
    >>> validate_alter_partition(p, requester=1, leader_epoch=3, partition_epoch=6,
    ...                          new_isr=[1, 2], eligible={1, 2})
    Traceback (most recent call last):
    ...
    kafkabook.broker.controller.election.AlterPartitionError: partition epoch 6 is stale; \
the current partition epoch is 7
    """
    if leader_epoch != state.leader_epoch:
        raise AlterPartitionError(
            "FENCED_LEADER_EPOCH",
            f"leader epoch {leader_epoch} does not match the current leader epoch "
            f"{state.leader_epoch}",
        )
    if requester != state.leader:
        raise AlterPartitionError(
            "NOT_LEADER_OR_FOLLOWER",
            f"broker {requester} is not the leader (the leader is {state.leader})",
        )
    if partition_epoch != state.partition_epoch:
        raise AlterPartitionError(
            "INVALID_UPDATE_VERSION",
            f"partition epoch {partition_epoch} is stale; the current partition epoch is "
            f"{state.partition_epoch}",
        )
    if not new_isr or len(set(new_isr)) != len(new_isr):
        raise AlterPartitionError("INVALID_REQUEST", "the new ISR is empty or has duplicates")
    strangers = [r for r in new_isr if r not in state.replicas]
    if strangers:
        raise AlterPartitionError(
            "INVALID_REQUEST", f"the new ISR contains non-replicas {strangers}"
        )
    if state.leader not in new_isr:
        raise AlterPartitionError("INVALID_REQUEST", "the new ISR does not contain the leader")
    ineligible = [r for r in new_isr if r not in eligible]
    if ineligible:
        raise AlterPartitionError(
            "INELIGIBLE_REPLICA",
            f"the new ISR contains fenced, shutting down or unknown brokers {ineligible}",
        )


def alter_isr(state: PartitionState, new_isr: Sequence[int]) -> PartitionState:
    """Apply a validated AlterPartition: the ISR changes, the leader stays.

    The ISR is kept in replica order so that equal sets give equal states.

    >>> alter_isr(PartitionState((1, 2, 3), (1,), leader=1), [3, 1]).isr
    (1, 3)
    """
    members = set(new_isr)
    return change(state, isr=[r for r in state.replicas if r in members])
