"""A classic group and its members: pure bookkeeping, no I/O, no clock, no event loop.

The coordinator (``coordinator.py``) decides *when* things happen (requests, timers, writes);
this module keeps *what* the group is: its members and their protocols, the static-member map,
members still owed a member id (KIP-394 "pending" members), members that have not sent their
SyncGroup yet, the generation, the leader and the selected protocol. Its state moves only
through :mod:`.state`'s table.

Members carry three slots the coordinator fills: ``join_waiter`` and ``sync_waiter`` (a parked
JoinGroup or SyncGroup request, any object with ``done()``/``set_result()``) and nothing else:
session timers are kept by the coordinator, by member id, because pending members have a timer
before they are members.

>>> g = ClassicGroup("g")
>>> m = Member("m1", None, "client", "/127.0.0.1", 300000, 10000, "consumer", (("range", b"x"),))
>>> g.add(m); g.leader_id, g.protocol_type, g.candidate_protocols()
('m1', 'consumer', {'range'})
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...protocol.errors import ErrorCode
from .assignment import PROTOCOL_TYPE, subscription_topics
from .offsets_codec import GroupMetadataValue, MemberMetadata
from .state import Event, GroupState, next_state

Protocols = tuple[tuple[str, bytes], ...]


@dataclass(eq=False)
class Member:
    """One member of a classic group."""

    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    #: (name, metadata) in the member's order of preference.
    protocols: Protocols
    assignment: bytes = b""
    #: Joined in the current rebalance and never answered yet: its JoinGroup may time out.
    is_new: bool = False
    join_waiter: Any = field(default=None, repr=False)
    sync_waiter: Any = field(default=None, repr=False)

    @property
    def awaiting_join(self) -> bool:
        return self.join_waiter is not None

    @property
    def awaiting_sync(self) -> bool:
        return self.sync_waiter is not None

    @property
    def is_static(self) -> bool:
        return self.group_instance_id is not None

    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]

    def metadata(self, protocol: str | None) -> bytes:
        """The member's metadata for `protocol` (b"" if it does not support it)."""
        return next((meta for name, meta in self.protocols if name == protocol), b"")

    def matches(self, protocols: Protocols) -> bool:
        """Whether a rejoin carries exactly the protocols (names, metadata, order) it had."""
        return tuple(protocols) == tuple(self.protocols)

    def vote(self, candidates: set[str]) -> str:
        """The member's most preferred protocol among `candidates`."""
        for name, _ in self.protocols:
            if name in candidates:
                return name
        raise ValueError(f"member {self.member_id} supports none of {sorted(candidates)}")

    def has_satisfied_heartbeat(self) -> bool:
        """Whether a session expiry may be ignored: members parked in a rebalance count as
        alive, except new members, whose JoinGroup may hang (their socket is muted)."""
        if self.is_new:
            return False
        return self.awaiting_join or self.awaiting_sync


class ClassicGroup:
    """A group using the classic (JoinGroup/SyncGroup) protocol."""

    def __init__(
        self,
        group_id: str,
        state: GroupState = GroupState.EMPTY,
        generation_id: int = 0,
        protocol_type: str | None = None,
        protocol_name: str | None = None,
        leader_id: str | None = None,
        current_state_timestamp: int | None = None,
    ) -> None:
        self.group_id = group_id
        self.state = state
        self.previous_state: GroupState | None = None
        self.generation_id = generation_id
        self.protocol_type = protocol_type
        self.protocol_name = protocol_name
        self.leader_id = leader_id
        self.current_state_timestamp = current_state_timestamp
        self.members: dict[str, Member] = {}
        #: group.instance.id -> member id, for static members.
        self.static_members: dict[str, str] = {}
        #: Member ids handed out with MEMBER_ID_REQUIRED whose owners have not joined yet.
        self.pending_join: set[str] = set()
        #: Members that got their JoinGroup answer but have not sent SyncGroup yet.
        self.pending_sync: set[str] = set()
        #: During an initial rebalance: someone joined since the delay was last extended.
        self.new_member_added = False
        self.subscribed_topics: set[str] | None = None
        self._supported: Counter[str] = Counter()

    def __repr__(self) -> str:
        return (
            f"ClassicGroup({self.group_id!r}, {self.state}, generation={self.generation_id}, "
            f"members={list(self.members)})"
        )

    # -- state --------------------------------------------------------------------------------

    def transition(self, event: Event, now_ms: int | None = None) -> GroupState:
        new = next_state(self.state, event)
        self.previous_state, self.state = self.state, new
        if now_ms is not None:
            self.current_state_timestamp = now_ms
        return new

    def is_in(self, *states: GroupState) -> bool:
        return self.state in states

    # -- membership ---------------------------------------------------------------------------

    def has_member(self, member_id: str) -> bool:
        return member_id in self.members

    def is_leader(self, member_id: str) -> bool:
        return self.leader_id == member_id

    def add(self, member: Member) -> None:
        if member.group_instance_id is not None:
            if member.group_instance_id in self.static_members:
                raise ValueError(
                    f"static member {member.group_instance_id} is already in the group"
                )
            self.static_members[member.group_instance_id] = member.member_id
        if not self.members:
            self.protocol_type = member.protocol_type
        self.members[member.member_id] = member
        self._supported.update(member.protocol_names())
        self.pending_join.discard(member.member_id)
        if self.leader_id is None:
            self.leader_id = member.member_id

    def remove(self, member_id: str) -> Member | None:
        """Forget a member (or a pending member id); a departing leader hands over."""
        member = self.members.pop(member_id, None)
        if member is not None:
            self._supported.subtract(member.protocol_names())
            if member.group_instance_id is not None:
                self.static_members.pop(member.group_instance_id, None)
        if self.leader_id == member_id:
            self.leader_id = next(iter(self.members), None)
        self.pending_join.discard(member_id)
        self.pending_sync.discard(member_id)
        return member

    def update_member(
        self,
        member: Member,
        protocols: Protocols,
        rebalance_timeout_ms: int,
        session_timeout_ms: int,
    ) -> None:
        self._supported.subtract(member.protocol_names())
        member.protocols = tuple(protocols)
        self._supported.update(member.protocol_names())
        member.rebalance_timeout_ms = rebalance_timeout_ms
        member.session_timeout_ms = session_timeout_ms

    def replace_static_member(
        self, instance_id: str, old_id: str, new_id: str
    ) -> tuple[Member, Member]:
        """A static member came back with a new member id: same instance, same assignment.

        Returns (old, new); the caller answers whatever the old member id still had parked
        with FENCED_INSTANCE_ID.
        """
        old = self.members.pop(old_id)
        new = Member(
            new_id,
            old.group_instance_id,
            old.client_id,
            old.client_host,
            old.rebalance_timeout_ms,
            old.session_timeout_ms,
            old.protocol_type,
            old.protocols,
            old.assignment,
        )
        self.members[new_id] = new
        if self.leader_id == old_id:
            self.leader_id = new_id
        self.static_members[instance_id] = new_id
        self.pending_sync.discard(old_id)
        return old, new

    def validate_member(self, member_id: str, instance_id: str | None) -> ErrorCode:
        """UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID for a request that names a member."""
        if instance_id is not None:
            known = self.static_members.get(instance_id)
            if known is None:
                return ErrorCode.unknown_member_id
            if known != member_id:
                return ErrorCode.fenced_instance_id
        if member_id not in self.members:
            return ErrorCode.unknown_member_id
        return ErrorCode.none

    def validate_offset_commit(
        self, member_id: str, instance_id: str | None, generation_id: int
    ) -> ErrorCode:
        """Who may commit: anyone to an Empty group with generation -1, else a member of the
        current generation, and never while the assignment is being settled."""
        if self.state is GroupState.DEAD:
            return ErrorCode.coordinator_not_available
        if generation_id < 0 and self.state is GroupState.EMPTY:
            return ErrorCode.none
        if generation_id >= 0 or member_id or instance_id is not None:
            error = self.validate_member(member_id, instance_id)
            if error != ErrorCode.none:
                return error
            if generation_id != self.generation_id:
                return ErrorCode.illegal_generation
        elif self.state is not GroupState.EMPTY:
            return ErrorCode.unknown_member_id
        if self.state is GroupState.COMPLETING_REBALANCE:
            return ErrorCode.rebalance_in_progress
        return ErrorCode.none

    # -- the join phase -----------------------------------------------------------------------

    def num_awaiting_join(self) -> int:
        return sum(1 for m in self.members.values() if m.awaiting_join)

    def has_all_members_joined(self) -> bool:
        return len(self.members) == self.num_awaiting_join() and not self.pending_join

    def not_yet_rejoined(self) -> list[Member]:
        return [m for m in self.members.values() if not m.awaiting_join]

    def maybe_elect_new_joined_leader(self) -> bool:
        """Keep a leader that rejoined, else pick any member that did. False if none did."""
        if self.leader_id is None:
            return False
        leader = self.members.get(self.leader_id)
        if leader is not None and leader.awaiting_join:
            return True
        for member in self.members.values():
            if member.awaiting_join:
                self.leader_id = member.member_id
                return True
        return False

    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    # -- protocols ----------------------------------------------------------------------------

    def candidate_protocols(self) -> set[str]:
        """Protocols every member supports."""
        size = len(self.members)
        return {name for name, count in self._supported.items() if count == size and size}

    def supports_protocols(self, protocol_type: str, names: Iterable[str]) -> bool:
        names = list(names)
        if self.state is GroupState.EMPTY:
            return bool(protocol_type) and bool(names)
        return self.protocol_type == protocol_type and any(
            self._supported.get(name, 0) == len(self.members) for name in names
        )

    def select_protocol(self) -> str:
        """The candidate protocol with the most first-choice votes (ties: the leader's order)."""
        candidates = self.candidate_protocols()
        if not candidates:
            raise ValueError(f"group {self.group_id} has no protocol common to all members")
        votes = Counter(m.vote(candidates) for m in self.members.values())
        leader = self.members.get(self.leader_id or "") or next(iter(self.members.values()))
        order = [n for n in leader.protocol_names() if n in candidates]
        best = max(votes.values())
        return next(n for n in order if votes.get(n) == best)

    def compute_subscribed_topics(self) -> set[str] | None:
        """Topics a ``consumer`` group subscribes to; None when it cannot be known."""
        if self.protocol_type != PROTOCOL_TYPE:
            return None
        if not self.members:
            return set()
        if self.protocol_name is None:
            return None
        topics: set[str] = set()
        try:
            for member in self.members.values():
                topics.update(subscription_topics(member.metadata(self.protocol_name)))
        except (ValueError, UnicodeDecodeError):
            return None
        return topics

    def is_subscribed_to(self, topic: str) -> bool:
        if self.subscribed_topics is None:
            return self.protocol_type == PROTOCOL_TYPE
        return topic in self.subscribed_topics

    def init_next_generation(self, now_ms: int) -> None:
        self.generation_id += 1
        if self.members:
            self.protocol_name = self.select_protocol()
            self.subscribed_topics = self.compute_subscribed_topics()
            self.transition(Event.JOIN_COMPLETED, now_ms)
        else:
            self.protocol_name = None
            self.subscribed_topics = self.compute_subscribed_topics()
            self.transition(Event.JOIN_COMPLETED_EMPTY, now_ms)
        self.pending_sync.clear()

    # -- persistence --------------------------------------------------------------------------

    def to_record(self, assignment: Mapping[str, bytes] | None = None) -> GroupMetadataValue:
        """The GroupMetadataValue for the group as it stands (with `assignment` if given)."""
        members = tuple(
            MemberMetadata(
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                client_id=m.client_id,
                client_host=m.client_host,
                rebalance_timeout=m.rebalance_timeout_ms,
                session_timeout=m.session_timeout_ms,
                subscription=m.metadata(self.protocol_name),
                assignment=(
                    assignment.get(m.member_id, b"") if assignment is not None else m.assignment
                ),
            )
            for m in self.members.values()
        )
        return GroupMetadataValue(
            protocol_type=self.protocol_type or "",
            generation=self.generation_id,
            protocol=self.protocol_name,
            leader=self.leader_id,
            current_state_timestamp=(
                -1 if self.current_state_timestamp is None else self.current_state_timestamp
            ),
            members=members,
        )

    @classmethod
    def from_record(cls, group_id: str, value: GroupMetadataValue) -> ClassicGroup:
        """A group as the log last described it: Stable with its members, or Empty."""
        group = cls(
            group_id,
            state=GroupState.STABLE if value.members else GroupState.EMPTY,
            generation_id=value.generation,
            protocol_type=value.protocol_type or None,
            protocol_name=value.protocol,
            leader_id=value.leader,
            current_state_timestamp=(
                None if value.current_state_timestamp == -1 else value.current_state_timestamp
            ),
        )
        for m in value.members:
            group.add(
                Member(
                    m.member_id,
                    m.group_instance_id,
                    m.client_id,
                    m.client_host,
                    # Before v1 records had no rebalance timeout: the session timeout bounded it.
                    m.session_timeout if m.rebalance_timeout == -1 else m.rebalance_timeout,
                    m.session_timeout,
                    value.protocol_type,
                    ((value.protocol or "", m.subscription),),
                    m.assignment,
                )
            )
        # add() makes the first member leader when none is set; the record's word is final.
        group.leader_id = value.leader if value.leader in group.members else group.leader_id
        group.subscribed_topics = group.compute_subscribed_topics()
        return group
