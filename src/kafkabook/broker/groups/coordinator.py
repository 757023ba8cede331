"""The group coordinator of one broker: classic consumer groups and their committed offsets.

Which broker coordinates a group is decided by ``__consumer_offsets``: the group's partition is
``partition_for(group_id, partitions)`` and its leader is the coordinator. The coordinator
registers itself in ``broker.leadership_listeners``; when this broker becomes the leader of an
offsets partition it *loads* it (reads the log from its start and replays every record: offset
commits and group metadata, tombstones delete), and when it stops leading it *unloads* it
(every parked request is answered NOT_COORDINATOR). While a partition loads, its groups answer
COORDINATOR_LOAD_IN_PROGRESS.

Everything runs on the broker's event loop. Nothing polls: a member's session, a rebalance's
join deadline, the initial rebalance delay and the wait for SyncGroups are asyncio timer
handles, re-armed when a heartbeat (or a commit) arrives and cancelled when they no longer
matter. A JoinGroup or SyncGroup that must wait is parked on a future that the rebalance
completes.

State changes happen in memory first, then the record is written to the offsets partition as
one batch through ``Replica.append_as_leader``; the change counts as done once the high
watermark passes it (acks=all). Offset commits are applied to the in-memory table only then,
so OffsetFetch never shows an offset that a leader failover could lose. Write failures become
the errors Kafka's coordinator answers: COORDINATOR_NOT_AVAILABLE (ISR too small, timeout) or
NOT_COORDINATOR (leadership lost).

The decisions follow Kafka's GroupMetadataManager for classic groups; ``group.py`` holds the
group's bookkeeping and ``state.py`` its transition table.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...protocol.errors import ErrorCode
from .. import records
from .group import ClassicGroup, Member, Protocols
from .offsets_codec import (
    CodecError,
    GroupMetadataKey,
    GroupMetadataValue,
    OffsetCommitKey,
    OffsetCommitValue,
    decode_group_value,
    decode_key,
    decode_offset_value,
    encode_key,
    encode_value,
    partition_for,
)
from .state import HEARTBEAT_ANSWER, Event, GroupState, can_rebalance

if TYPE_CHECKING:
    from ..broker import Broker
    from ..replica import Replica

log = logging.getLogger("kafkabook.groups")

OFFSETS_TOPIC = "__consumer_offsets"
#: How long a new member's parked JoinGroup may wait (Kafka's classic new-member join timeout).
NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000
#: Bytes of log read per step while loading; the loop yields between steps.
LOAD_CHUNK_BYTES = 1 << 20

S = GroupState
OffsetKey = tuple[str, int]


def now_ms() -> int:
    return int(time.time() * 1000)


def java_length(text: str) -> int:
    """Length in UTF-16 code units, as Java's String.length() (offset.metadata.max.bytes)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(frozen=True, slots=True)
class CommittedOffset:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp: int
    expire_timestamp: int = -1


@dataclass
class GroupTimers:
    """The timer handles of one group (a member's session timer is keyed by member id)."""

    join: asyncio.TimerHandle | None = None
    sync: asyncio.TimerHandle | None = None
    sessions: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    def cancel_all(self) -> None:
        for handle in (self.join, self.sync, *self.sessions.values()):
            if handle is not None:
                handle.cancel()
        self.join = self.sync = None
        self.sessions.clear()


@dataclass(eq=False)
class CoordinatorPartition:
    """One ``__consumer_offsets`` partition this broker leads, and the groups it holds."""

    index: int
    replica: Replica
    loading: bool = True
    groups: dict[str, ClassicGroup] = field(default_factory=dict)
    offsets: dict[str, dict[OffsetKey, CommittedOffset]] = field(default_factory=dict)
    timers: dict[ClassicGroup, GroupTimers] = field(default_factory=dict)
    #: Log offset of the last record applied per record key: writes that complete out of
    #: order never let an older record win.
    applied: dict[Any, int] = field(default_factory=dict)
    load_task: asyncio.Task[None] | None = None

    def timers_of(self, group: ClassicGroup) -> GroupTimers:
        return self.timers.setdefault(group, GroupTimers())


# ---------------------------------------------------------------------------------------------
# requests, as plain values the handlers extract from every version of the kio bodies


@dataclass(frozen=True)
class JoinRequest:
    group_id: str
    member_id: str
    group_instance_id: str | None
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: Protocols
    client_id: str
    client_host: str
    version: int
    reason: str | None = None


@dataclass(frozen=True)
class SyncRequest:
    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: str | None
    protocol_type: str | None
    protocol_name: str | None
    assignments: tuple[tuple[str, bytes], ...]
    version: int


@dataclass(frozen=True)
class CommitPartition:
    topic: str
    partition: int
    offset: int
    leader_epoch: int
    metadata: str | None


@dataclass(frozen=True)
class CommitRequest:
    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: str | None
    retention_ms: int
    partitions: tuple[CommitPartition, ...]
    version: int


def join_answer(error: ErrorCode, member_id: str = "", **fields: Any) -> dict[str, Any]:
    """A JoinGroup answer (version-neutral: the handler fits it)."""
    answer = {
        "error_code": error,
        "generation_id": -1,
        "protocol_type": None,
        "protocol_name": None,
        "leader": "",
        "skip_assignment": False,
        "member_id": member_id,
        "members": [],
    }
    answer.update(fields)
    return answer


def sync_answer(
    error: ErrorCode,
    assignment: bytes = b"",
    protocol_type: str | None = None,
    protocol_name: str | None = None,
) -> dict[str, Any]:
    return {
        "error_code": error,
        "protocol_type": protocol_type,
        "protocol_name": protocol_name,
        "assignment": assignment,
    }


def _resolve(waiter: Any, value: Any) -> bool:
    if waiter is not None and not waiter.done():
        waiter.set_result(value)
        return True
    return False


class GroupCoordinator:
    """The classic group coordinator of a broker (one per broker process)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.partitions: dict[int, CoordinatorPartition] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        broker.leadership_listeners.append(self.on_leadership)
        # Created after the broker applied metadata (lazily): adopt what it already leads.
        for (topic, _), replica in list(broker.replicas.items()):
            if topic == OFFSETS_TOPIC and replica.is_leader:
                self.on_leadership(replica, True)

    # -- configuration ------------------------------------------------------------------------

    def _config_int(self, name: str) -> int:
        return int(self.broker.config(name))

    def num_partitions(self) -> int:
        topic = self.broker.image.topics.get(OFFSETS_TOPIC)
        if topic is not None and topic.partitions:
            return len(topic.partitions)
        return self._config_int("offsets.topic.num.partitions")

    def partition_of(self, group_id: str) -> int:
        return partition_for(group_id, self.num_partitions())

    # -- loading and unloading ----------------------------------------------------------------

    def on_leadership(self, replica: Replica, is_leader: bool) -> None:
        """Broker callback: this broker gained or lost leadership of a partition."""
        if replica.topic != OFFSETS_TOPIC:
            return
        current = self.partitions.get(replica.partition)
        if is_leader:
            if current is not None and current.replica is replica:
                return  # a new leader epoch while we lead already: the state is still ours
            if current is not None:
                self._unload(current)
            cp = CoordinatorPartition(replica.partition, replica)
            self.partitions[cp.index] = cp
            cp.load_task = self._spawn(self._load(cp))
        elif current is not None and current.replica is replica:
            self._unload(current)

    async def _load(self, cp: CoordinatorPartition) -> None:
        started = time.monotonic()
        plog = cp.replica.log
        position = plog.log_start_offset
        end = plog.log_end_offset
        count = 0
        while position < end:
            if self.partitions.get(cp.index) is not cp:
                return
            try:
                chunk = plog.read(position, LOAD_CHUNK_BYTES)
            except Exception:  # truncated or deleted underneath us: load what we have
                log.exception("reading %s-%d at %d failed", OFFSETS_TOPIC, cp.index, position)
                break
            if not chunk:
                break
            before = position
            for start, header in records.iter_batches(chunk):
                if not header.is_control and header.last_offset >= position:
                    try:
                        batch_records = records.decode_records(
                            memoryview(chunk)[start : start + header.size]
                        )
                    except records.RecordsError as exc:
                        log.warning(
                            "skipping undecodable batch at offset %d of %s-%d: %s",
                            header.base_offset,
                            OFFSETS_TOPIC,
                            cp.index,
                            exc,
                        )
                        batch_records = []
                    for record in batch_records:
                        if record.offset >= position:
                            self._replay(cp, record.key, record.value, record.offset)
                            count += 1
                position = max(position, header.next_offset)
            if position == before:
                log.error(
                    "no whole batch at offset %d of %s-%d: loading stops there",
                    position,
                    OFFSETS_TOPIC,
                    cp.index,
                )
                break
            await asyncio.sleep(0)  # let other partitions and requests run between chunks
        if self.partitions.get(cp.index) is not cp:
            return
        cp.loading = False
        for group in cp.groups.values():
            for member in group.members.values():
                self._schedule_session(cp, group, member.member_id, member.session_timeout_ms)
        log.log(
            logging.INFO if count else logging.DEBUG,
            "loaded %s-%d: %d records, %d groups in %.0f ms",
            OFFSETS_TOPIC,
            cp.index,
            count,
            len(cp.groups),
            (time.monotonic() - started) * 1000,
        )

    def _replay(
        self,
        cp: CoordinatorPartition,
        key_bytes: bytes | None,
        value_bytes: bytes | None,
        offset: int,
    ) -> None:
        if key_bytes is None:
            return
        try:
            key = decode_key(key_bytes)
            if isinstance(key, OffsetCommitKey):
                value = None if value_bytes is None else decode_offset_value(value_bytes)
                self._apply_offset(cp, key, value, offset)
                if value is not None and key.group not in cp.groups:
                    # Commits without group management (generation -1) make a "simple" group.
                    cp.groups[key.group] = ClassicGroup(key.group)
            elif isinstance(key, GroupMetadataKey):
                if value_bytes is None:
                    cp.groups.pop(key.group, None)
                else:
                    cp.groups[key.group] = ClassicGroup.from_record(
                        key.group, decode_group_value(value_bytes)
                    )
                cp.applied[key] = offset
        except CodecError as exc:
            log.warning(
                "skipping record at offset %d of %s-%d: %s", offset, OFFSETS_TOPIC, cp.index, exc
            )

    def _unload(self, cp: CoordinatorPartition) -> None:
        if self.partitions.get(cp.index) is cp:
            del self.partitions[cp.index]
        if cp.load_task is not None and not cp.load_task.done():
            cp.load_task.cancel()
        for group in cp.groups.values():
            cp.timers_of(group).cancel_all()
            for member in group.members.values():
                _resolve(
                    member.join_waiter, join_answer(ErrorCode.not_coordinator, member.member_id)
                )
                _resolve(member.sync_waiter, sync_answer(ErrorCode.not_coordinator))
                member.join_waiter = member.sync_waiter = None
            group.transition(Event.REMOVED)
        log.log(
            logging.INFO if cp.groups else logging.DEBUG,
            "unloaded %s-%d (%d groups)",
            OFFSETS_TOPIC,
            cp.index,
            len(cp.groups),
        )
        cp.groups.clear()
        cp.timers.clear()

    def _owner(self, group_id: str) -> tuple[CoordinatorPartition | None, ErrorCode]:
        """The partition holding `group_id` here, or why this broker cannot answer for it."""
        if OFFSETS_TOPIC not in self.broker.image.topics:
            return None, ErrorCode.not_coordinator
        cp = self.partitions.get(self.partition_of(group_id))
        if cp is None or not cp.replica.is_leader:
            return None, ErrorCode.not_coordinator
        if cp.loading:
            return None, ErrorCode.coordinator_load_in_progress
        return cp, ErrorCode.none

    def _live(self, cp: CoordinatorPartition, group: ClassicGroup) -> bool:
        return self.partitions.get(cp.index) is cp and cp.groups.get(group.group_id) is group

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- writing ------------------------------------------------------------------------------

    async def _append(
        self, cp: CoordinatorPartition, entries: list[tuple[Any, Any]]
    ) -> tuple[ErrorCode, int]:
        """Write records as one batch and wait until the ISR has them; (error, base offset)."""
        broker, replica = self.broker, cp.replica
        if self.partitions.get(cp.index) is not cp or not replica.is_leader:
            return ErrorCode.not_coordinator, -1
        min_isr = int(broker.topic_config(OFFSETS_TOPIC, "min.insync.replicas") or 1)
        if len(replica.view.isr) < min_isr:
            return ErrorCode.coordinator_not_available, -1  # NOT_ENOUGH_REPLICAS
        batch = records.encode_batch(
            [(encode_key(k), None if v is None else encode_value(v)) for k, v in entries],
            timestamp=now_ms(),
        )
        if len(batch) > int(broker.topic_config(OFFSETS_TOPIC, "max.message.bytes") or 1048588):
            return ErrorCode.unknown_server_error, -1  # MESSAGE_TOO_LARGE
        try:
            base, last = replica.append_as_leader(batch)
        except Exception:
            log.exception("appending to %s-%d failed", OFFSETS_TOPIC, cp.index)
            return ErrorCode.not_coordinator, -1  # KAFKA_STORAGE_ERROR
        timeout_s = self._config_int("offsets.commit.timeout.ms") / 1000
        if await broker.wait_for_high_watermark(replica, last + 1, timeout_s):
            return ErrorCode.none, base
        if (
            not replica.is_leader
            or broker.replicas.get((replica.topic, replica.partition)) is not replica
        ):
            return ErrorCode.not_coordinator, -1
        # REQUEST_TIMED_OUT and NOT_ENOUGH_REPLICAS both become COORDINATOR_NOT_AVAILABLE.
        return ErrorCode.coordinator_not_available, -1

    def _apply_offset(
        self,
        cp: CoordinatorPartition,
        key: OffsetCommitKey,
        value: OffsetCommitValue | None,
        offset: int,
    ) -> None:
        if cp.applied.get(key, -1) > offset:
            return
        cp.applied[key] = offset
        tp = (key.topic, key.partition)
        if value is None:
            group_offsets = cp.offsets.get(key.group)
            if group_offsets is not None:
                group_offsets.pop(tp, None)
                if not group_offsets:
                    del cp.offsets[key.group]
        else:
            cp.offsets.setdefault(key.group, {})[tp] = CommittedOffset(
                value.offset,
                value.leader_epoch,
                value.metadata,
                value.commit_timestamp,
                value.expire_timestamp,
            )

    def _write_record_soon(self, cp: CoordinatorPartition, key: Any, value: Any) -> None:
        """Append one record in the background (appends keep the order of these calls)."""

        async def write() -> None:
            error, _ = await self._append(cp, [(key, value)])
            if error != ErrorCode.none:
                log.warning("writing %s failed: %s", key, error.name)

        self._spawn(write())

    def _write_group_soon(
        self,
        cp: CoordinatorPartition,
        group: ClassicGroup,
        on_done: Callable[[ErrorCode], None] | None = None,
        assignment: dict[str, bytes] | None = None,
    ) -> None:
        """Persist the group as it is now; `on_done(error)` runs afterwards."""
        value = group.to_record(assignment)

        async def write() -> None:
            error, _ = await self._append(cp, [(GroupMetadataKey(group.group_id), value)])
            if error != ErrorCode.none:
                log.warning(
                    "storing group %s (generation %d) failed: %s",
                    group.group_id,
                    value.generation,
                    error.name,
                )
            if on_done is not None:
                on_done(error)

        self._spawn(write())

    # -- timers -------------------------------------------------------------------------------

    def _later(
        self, delay_ms: int, callback: Callable[..., None], *args: Any
    ) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(max(0, delay_ms) / 1000, callback, *args)

    def _schedule_session(
        self, cp: CoordinatorPartition, group: ClassicGroup, member_id: str, timeout_ms: int
    ) -> None:
        timers = cp.timers_of(group)
        old = timers.sessions.pop(member_id, None)
        if old is not None:
            old.cancel()
        timers.sessions[member_id] = self._later(
            timeout_ms, self._session_expired, cp, group, member_id
        )

    def _reschedule_heartbeat(
        self, cp: CoordinatorPartition, group: ClassicGroup, member: Member
    ) -> None:
        self._schedule_session(cp, group, member.member_id, member.session_timeout_ms)

    def _cancel_session(
        self, cp: CoordinatorPartition, group: ClassicGroup, member_id: str
    ) -> None:
        handle = cp.timers_of(group).sessions.pop(member_id, None)
        if handle is not None:
            handle.cancel()

    def _set_join_timer(
        self,
        cp: CoordinatorPartition,
        group: ClassicGroup,
        delay_ms: int,
        callback: Callable[..., None],
        *args: Any,
    ) -> None:
        timers = cp.timers_of(group)
        if timers.join is not None:
            timers.join.cancel()
        timers.join = self._later(delay_ms, callback, *args)

    def _cancel_join_timer(self, cp: CoordinatorPartition, group: ClassicGroup) -> None:
        timers = cp.timers_of(group)
        if timers.join is not None:
            timers.join.cancel()
            timers.join = None

    def _cancel_sync_timer(self, cp: CoordinatorPartition, group: ClassicGroup) -> None:
        timers = cp.timers_of(group)
        if timers.sync is not None:
            timers.sync.cancel()
            timers.sync = None

    def _session_expired(
        self, cp: CoordinatorPartition, group: ClassicGroup, member_id: str
    ) -> None:
        if not self._live(cp, group):
            return
        cp.timers_of(group).sessions.pop(member_id, None)
        if group.state is S.DEAD:
            return
        if member_id in group.pending_join:
            log.info("group %s: pending member %s expired", group.group_id, member_id)
            group.remove(member_id)
            if group.state is S.PREPARING_REBALANCE and group.has_all_members_joined():
                self._complete_join(cp, group)
            return
        member = group.members.get(member_id)
        if member is None or member.has_satisfied_heartbeat():
            return
        log.info("group %s: member %s failed its session, removing it", group.group_id, member_id)
        self._remove_member_and_update(cp, group, member)

    # -- the rebalance ------------------------------------------------------------------------

    def _maybe_prepare_rebalance_or_complete_join(
        self, cp: CoordinatorPartition, group: ClassicGroup, reason: str
    ) -> None:
        if can_rebalance(group.state):
            self._prepare_rebalance(cp, group, reason)
        else:
            self._maybe_complete_join(cp, group)

    def _maybe_complete_join(self, cp: CoordinatorPartition, group: ClassicGroup) -> None:
        # The initial rebalance (from Empty) always waits for group.initial.rebalance.delay.ms.
        if (
            group.state is S.PREPARING_REBALANCE
            and group.previous_state is not S.EMPTY
            and group.has_all_members_joined()
        ):
            self._complete_join(cp, group)

    def _prepare_rebalance(
        self, cp: CoordinatorPartition, group: ClassicGroup, reason: str
    ) -> None:
        if group.state is S.COMPLETING_REBALANCE:
            self._reset_and_propagate_assignment(group, ErrorCode.rebalance_in_progress, cp)
        group.pending_sync.clear()
        self._cancel_sync_timer(cp, group)
        initial = group.state is S.EMPTY
        if initial:
            delay = self._config_int("group.initial.rebalance.delay.ms")
            remaining = max(group.rebalance_timeout_ms() - delay, 0)
            self._set_join_timer(
                cp, group, delay, self._initial_delay_over, cp, group, delay, remaining
            )
        group.transition(Event.PREPARE_REBALANCE, now_ms())
        log.info(
            "group %s: preparing to rebalance (generation %d): %s",
            group.group_id,
            group.generation_id,
            reason,
        )
        if not initial:
            if group.has_all_members_joined():
                self._complete_join(cp, group)
            else:
                self._set_join_timer(
                    cp, group, group.rebalance_timeout_ms(), self._join_deadline, cp, group
                )

    def _initial_delay_over(
        self, cp: CoordinatorPartition, group: ClassicGroup, delay: int, remaining: int
    ) -> None:
        if not self._live(cp, group) or group.state is not S.PREPARING_REBALANCE:
            return
        if group.new_member_added and remaining != 0:
            group.new_member_added = False
            new_delay = min(self._config_int("group.initial.rebalance.delay.ms"), remaining)
            self._set_join_timer(
                cp,
                group,
                new_delay,
                self._initial_delay_over,
                cp,
                group,
                new_delay,
                max(remaining - delay, 0),
            )
        else:
            self._complete_join(cp, group)

    def _join_deadline(self, cp: CoordinatorPartition, group: ClassicGroup) -> None:
        if self._live(cp, group) and group.state is S.PREPARING_REBALANCE:
            self._complete_join(cp, group)

    def _complete_join(self, cp: CoordinatorPartition, group: ClassicGroup) -> None:
        self._cancel_join_timer(cp, group)
        gone = [m for m in group.not_yet_rejoined() if not m.is_static]
        for member in gone:
            group.remove(member.member_id)
            self._cancel_session(cp, group, member.member_id)
        if gone:
            log.info(
                "group %s: removed members that did not rejoin: %s",
                group.group_id,
                [m.member_id for m in gone],
            )
        if group.state is S.DEAD:
            return
        if not group.maybe_elect_new_joined_leader() and group.members:
            # Nobody rejoined (only static members that may still come back): wait again.
            self._set_join_timer(
                cp, group, group.rebalance_timeout_ms(), self._join_deadline, cp, group
            )
            return
        group.init_next_generation(now_ms())
        if group.state is S.EMPTY:
            log.info("group %s: generation %d is empty", group.group_id, group.generation_id)
            self._write_group_soon(cp, group)
            return
        log.info(
            "group %s: generation %d with %d members, protocol %s",
            group.group_id,
            group.generation_id,
            len(group.members),
            group.protocol_name,
        )
        for member in group.members.values():
            waiter, member.join_waiter = member.join_waiter, None
            _resolve(
                waiter,
                self._current_generation_answer(
                    group, member.member_id, include_members=group.is_leader(member.member_id)
                ),
            )
            self._reschedule_heartbeat(cp, group, member)
            member.is_new = False
            group.pending_sync.add(member.member_id)
        generation = group.generation_id
        self._cancel_sync_timer(cp, group)
        cp.timers_of(group).sync = self._later(
            group.rebalance_timeout_ms(), self._sync_deadline, cp, group, generation
        )

    def _current_generation_answer(
        self,
        group: ClassicGroup,
        member_id: str,
        include_members: bool,
        skip_assignment: bool = False,
        leader: str | None = None,
    ) -> dict[str, Any]:
        members = []
        if include_members:
            members = [
                {
                    "member_id": m.member_id,
                    "group_instance_id": m.group_instance_id,
                    "metadata": m.metadata(group.protocol_name),
                }
                for m in group.members.values()
            ]
        return join_answer(
            ErrorCode.none,
            member_id,
            generation_id=group.generation_id,
            protocol_type=group.protocol_type,
            protocol_name=group.protocol_name,
            leader=(group.leader_id if leader is None else leader) or "",
            skip_assignment=skip_assignment,
            members=members,
        )

    def _sync_deadline(
        self, cp: CoordinatorPartition, group: ClassicGroup, generation: int
    ) -> None:
        if not self._live(cp, group) or generation != group.generation_id:
            return
        cp.timers_of(group).sync = None
        if group.state in (S.COMPLETING_REBALANCE, S.STABLE) and group.pending_sync:
            late = sorted(group.pending_sync)
            for member_id in late:
                group.remove(member_id)
                self._cancel_session(cp, group, member_id)
            self._prepare_rebalance(cp, group, f"members {late} did not send SyncGroup in time")

    def _remove_member_and_update(
        self, cp: CoordinatorPartition, group: ClassicGroup, member: Member
    ) -> None:
        self._drop_member(cp, group, member)
        if group.state in (S.STABLE, S.COMPLETING_REBALANCE):
            self._maybe_prepare_rebalance_or_complete_join(
                cp, group, f"member {member.member_id} left"
            )
        elif group.state is S.PREPARING_REBALANCE and group.has_all_members_joined():
            self._complete_join(cp, group)

    def _drop_member(self, cp: CoordinatorPartition, group: ClassicGroup, member: Member) -> None:
        """Remove a member; whatever it had parked learns it is no longer one."""
        self._cancel_session(cp, group, member.member_id)
        _resolve(member.join_waiter, join_answer(ErrorCode.unknown_member_id))
        _resolve(member.sync_waiter, sync_answer(ErrorCode.unknown_member_id))
        member.join_waiter = member.sync_waiter = None
        group.remove(member.member_id)

    def _propagate_assignment(
        self, cp: CoordinatorPartition, group: ClassicGroup, error: ErrorCode
    ) -> None:
        ok = error == ErrorCode.none
        for member in group.members.values():
            waiter, member.sync_waiter = member.sync_waiter, None
            answer = sync_answer(
                error,
                member.assignment,
                group.protocol_type if ok else None,
                group.protocol_name if ok else None,
            )
            if _resolve(waiter, answer):
                self._reschedule_heartbeat(cp, group, member)

    def _reset_and_propagate_assignment(
        self, group: ClassicGroup, error: ErrorCode, cp: CoordinatorPartition
    ) -> None:
        for member in group.members.values():
            member.assignment = b""
        self._propagate_assignment(cp, group, error)

    # -- JoinGroup ----------------------------------------------------------------------------

    async def join_group(self, req: JoinRequest) -> dict[str, Any]:
        if not req.group_id:
            return join_answer(ErrorCode.invalid_group_id, req.member_id)
        low = self._config_int("group.min.session.timeout.ms")
        high = self._config_int("group.max.session.timeout.ms")
        if not low <= req.session_timeout_ms <= high:
            return join_answer(ErrorCode.invalid_session_timeout, req.member_id)
        cp, error = self._owner(req.group_id)
        if cp is None:
            return join_answer(error, req.member_id)
        unknown = req.member_id == ""
        group = cp.groups.get(req.group_id)
        if group is None:
            if not unknown:
                return join_answer(ErrorCode.unknown_member_id, req.member_id)
            group = cp.groups[req.group_id] = ClassicGroup(
                req.group_id, current_state_timestamp=now_ms()
            )
            # Kafka records a new group at once, as an empty generation 0 (no protocol type).
            self._write_record_soon(
                cp,
                GroupMetadataKey(req.group_id),
                GroupMetadataValue("", 0, None, None, group.current_state_timestamp or -1, ()),
            )
        if not self._accept_joining_member(group, req.member_id):
            member = group.members.get(req.member_id)
            if member is not None:
                self._drop_member(cp, group, member)
            elif req.member_id in group.pending_join:
                group.remove(req.member_id)
                self._cancel_session(cp, group, req.member_id)
            return join_answer(ErrorCode.group_max_size_reached)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if unknown:
            self._join_new_member(cp, group, req, waiter)
        else:
            self._join_existing_member(cp, group, req, waiter)
        return await waiter

    def _accept_joining_member(self, group: ClassicGroup, member_id: str) -> bool:
        max_size = self._config_int("group.max.size")
        if group.state in (S.EMPTY, S.DEAD):
            return True
        member = group.members.get(member_id)
        if group.state is S.PREPARING_REBALANCE:
            return (
                member is not None and member.awaiting_join
            ) or group.num_awaiting_join() < max_size
        return member is not None or len(group.members) < max_size

    def _join_new_member(
        self,
        cp: CoordinatorPartition,
        group: ClassicGroup,
        req: JoinRequest,
        waiter: asyncio.Future[dict[str, Any]],
    ) -> None:
        if group.state is S.DEAD:
            waiter.set_result(join_answer(ErrorCode.coordinator_not_available))
            return
        if not group.supports_protocols(req.protocol_type, [n for n, _ in req.protocols]):
            waiter.set_result(join_answer(ErrorCode.inconsistent_group_protocol))
            return
        prefix = req.group_instance_id if req.group_instance_id is not None else req.client_id
        new_id = f"{prefix}-{uuid.uuid4()}"
        if req.group_instance_id is not None:
            existing = group.static_members.get(req.group_instance_id)
            if existing is not None:
                log.info(
                    "group %s: static member %s rejoins in %s, replacing %s with %s",
                    group.group_id,
                    req.group_instance_id,
                    group.state,
                    existing,
                    new_id,
                )
                self._update_static_member(cp, group, req, existing, new_id, waiter)
            else:
                self._add_member_and_rebalance(cp, group, req, new_id, waiter)
        elif req.version >= 4:
            # KIP-394: hand out the member id first, so that a retried JoinGroup is recognised.
            group.pending_join.add(new_id)
            self._schedule_session(cp, group, new_id, req.session_timeout_ms)
            waiter.set_result(join_answer(ErrorCode.member_id_required, new_id))
        else:
            self._add_member_and_rebalance(cp, group, req, new_id, waiter)

    def _join_existing_member(
        self,
        cp: CoordinatorPartition,
        group: ClassicGroup,
        req: JoinRequest,
        waiter: asyncio.Future[dict[str, Any]],
    ) -> None:
        member_id = req.member_id
        if group.state is S.DEAD:
            waiter.set_result(join_answer(ErrorCode.coordinator_not_available, member_id))
            return
        if not group.supports_protocols(req.protocol_type, [n for n, _ in req.protocols]):
            waiter.set_result(join_answer(ErrorCode.inconsistent_group_protocol, member_id))
            return
        if member_id in group.pending_join:
            if req.group_instance_id is not None:  # pending ids are only handed to dynamic members
                waiter.set_result(join_answer(ErrorCode.unknown_server_error, member_id))
                return
            self._add_member_and_rebalance(cp, group, req, member_id, waiter)
            return
        error = group.validate_member(member_id, req.group_instance_id)
        if error != ErrorCode.none:
            waiter.set_result(join_answer(error, member_id))
            return
        member = group.members[member_id]
        if group.state is S.PREPARING_REBALANCE:
            self._update_member_and_rebalance(cp, group, member, req, waiter, "member rejoins")
        elif group.state is S.COMPLETING_REBALANCE:
            if member.matches(req.protocols):
                # A retry of a JoinGroup whose answer was lost: answer it again.
                waiter.set_result(
                    self._current_generation_answer(
                        group, member_id, include_members=group.is_leader(member_id)
                    )
                )
            else:
                self._update_member_and_rebalance(
                    cp, group, member, req, waiter, "member metadata changed"
                )
        elif group.state is S.STABLE:
            if group.is_leader(member_id) or not member.matches(req.protocols):
                # The leader rejoins to have the group reassigned (e.g. new partitions).
                self._update_member_and_rebalance(
                    cp,
                    group,
                    member,
                    req,
                    waiter,
                    "leader rejoins" if group.is_leader(member_id) else "member metadata changed",
                )
            else:
                waiter.set_result(
                    self._current_generation_answer(group, member_id, include_members=False)
                )
        else:
            waiter.set_result(join_answer(ErrorCode.unknown_member_id, member_id))

    def _add_member_and_rebalance(
        self,
        cp: CoordinatorPartition,
        group: ClassicGroup,
        req: JoinRequest,
        member_id: str,
        waiter: asyncio.Future[dict[str, Any]],
    ) -> None:
        member = Member(
            member_id,
            req.group_instance_id,
            req.client_id,
            req.client_host,
            req.rebalance_timeout_ms,
            req.session_timeout_ms,
            req.protocol_type,
            req.protocols,
            is_new=True,
            join_waiter=waiter,
        )
        if group.state is S.PREPARING_REBALANCE and group.previous_state is S.EMPTY:
            group.new_member_added = True
        group.add(member)
        # A new member cannot heartbeat while its JoinGroup is parked: bound the wait instead.
        self._schedule_session(cp, group, member_id, NEW_MEMBER_JOIN_TIMEOUT_MS)
        self._maybe_prepare_rebalance_or_complete_join(cp, group, f"new member {member_id} joined")

    def _update_member_and_rebalance(
        self,
        cp: CoordinatorPartition,
        group: ClassicGroup,
        member: Member,
        req: JoinRequest,
        waiter: asyncio.Future[dict[str, Any]],
        reason: str,
    ) -> None:
        group.update_member(member, req.protocols, req.rebalance_timeout_ms, req.session_timeout_ms)
        _resolve(member.join_waiter, join_answer(ErrorCode.rebalance_in_progress, member.member_id))
        member.join_waiter = waiter
        self._maybe_prepare_rebalance_or_complete_join(cp, group, f"{reason}: {member.member_id}")

    def _update_static_member(
        self,
        cp: CoordinatorPartition,
        group: ClassicGroup,
        req: JoinRequest,
        old_id: str,
        new_id: str,
        waiter: asyncio.Future[dict[str, Any]],
    ) -> None:
        instance_id = req.group_instance_id
        assert instance_id is not None
        current_leader = group.leader_id
        old, new = group.replace_static_member(instance_id, old_id, new_id)
        _resolve(old.join_waiter, join_answer(ErrorCode.fenced_instance_id, old_id))
        _resolve(old.sync_waiter, sync_answer(ErrorCode.fenced_instance_id))
        old.join_waiter = old.sync_waiter = None
        self._cancel_session(cp, group, old_id)
        self._reschedule_heartbeat(cp, group, new)
        previous = (new.protocols, new.rebalance_timeout_ms, new.session_timeout_ms)
        group.update_member(new, req.protocols, req.rebalance_timeout_ms, req.session_timeout_ms)
        new.join_waiter = waiter

        if group.state is S.STABLE:
            if group.protocol_name == group.select_protocol():
                # Same protocol: no rebalance. Persist the new member id, then answer with the
                # current generation (a v9+ leader is told to skip the assignment).
                generation = group.generation_id

                def stored(error: ErrorCode) -> None:
                    if not self._live(cp, group) or new.join_waiter is not waiter:
                        return
                    new.join_waiter = None
                    if error != ErrorCode.none:
                        group.update_member(new, *previous)
                        group.replace_static_member(instance_id, new_id, old_id)
                        self._cancel_session(cp, group, new_id)
                        if old_id in group.members:
                            self._reschedule_heartbeat(cp, group, group.members[old_id])
                        _resolve(
                            waiter,
                            join_answer(
                                error,
                                "",
                                generation_id=generation,
                                protocol_type=group.protocol_type,
                                protocol_name=group.protocol_name,
                                leader=current_leader or "",
                            ),
                        )
                    elif req.version >= 9:
                        leader = group.is_leader(new_id)
                        _resolve(
                            waiter,
                            self._current_generation_answer(
                                group, new_id, include_members=leader, skip_assignment=leader
                            ),
                        )
                    else:
                        # Older clients are told the previous leader id, so that a returning
                        # leader does not compute a new assignment.
                        _resolve(
                            waiter,
                            self._current_generation_answer(
                                group, new_id, include_members=False, leader=current_leader
                            ),
                        )

                self._write_group_soon(cp, group, stored)
            else:
                self._maybe_prepare_rebalance_or_complete_join(
                    cp, group, f"static member {instance_id} rejoined with other protocols"
                )
        elif group.state is S.COMPLETING_REBALANCE:
            # The leader may already be assigning to the old member id: start over.
            self._prepare_rebalance(cp, group, f"static member {instance_id} rejoined")
        else:
            self._maybe_complete_join(cp, group)

    # -- SyncGroup ----------------------------------------------------------------------------

    async def sync_group(self, req: SyncRequest) -> dict[str, Any]:
        # v5 must name the protocol (checked before anything else, as Kafka's request layer).
        if req.version >= 5 and (req.protocol_type is None or req.protocol_name is None):
            return sync_answer(ErrorCode.inconsistent_group_protocol)
        if not req.group_id:
            return sync_answer(ErrorCode.invalid_group_id)
        cp, error = self._owner(req.group_id)
        if cp is None:
            return sync_answer(error)
        group = cp.groups.get(req.group_id)
        if group is None or group.state is S.EMPTY:
            return sync_answer(ErrorCode.unknown_member_id)
        if group.state is S.DEAD:
            return sync_answer(ErrorCode.coordinator_not_available)
        error = group.validate_member(req.member_id, req.group_instance_id)
        if error != ErrorCode.none:
            return sync_answer(error)
        if req.generation_id != group.generation_id:
            return sync_answer(ErrorCode.illegal_generation)
        if _inconsistent(req.protocol_type, group.protocol_type) or _inconsistent(
            req.protocol_name, group.protocol_name
        ):
            return sync_answer(ErrorCode.inconsistent_group_protocol)
        if group.state is S.PREPARING_REBALANCE:
            return sync_answer(ErrorCode.rebalance_in_progress)
        member = group.members[req.member_id]
        if group.state is S.STABLE:
            self._synced(cp, group, req.member_id)
            return sync_answer(
                ErrorCode.none, member.assignment, group.protocol_type, group.protocol_name
            )
        # CompletingRebalance: park until the leader's assignment is stored.
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        _resolve(member.sync_waiter, sync_answer(ErrorCode.rebalance_in_progress))
        member.sync_waiter = waiter
        self._synced(cp, group, req.member_id)
        if group.is_leader(req.member_id):
            assignment = {m.member_id: b"" for m in group.members.values()}
            assignment.update(
                (mid, bytes(data)) for mid, data in req.assignments if mid in assignment
            )
            missing = [mid for mid in assignment if mid not in dict(req.assignments)]
            if missing:
                log.warning("group %s: leader gave no assignment to %s", group.group_id, missing)
            generation = group.generation_id

            def stored(error: ErrorCode) -> None:
                if (
                    not self._live(cp, group)
                    or group.state is not S.COMPLETING_REBALANCE
                    or group.generation_id != generation
                ):
                    return
                if error != ErrorCode.none:
                    self._reset_and_propagate_assignment(group, error, cp)
                    self._maybe_prepare_rebalance_or_complete_join(
                        cp, group, f"storing the assignment failed: {error.name}"
                    )
                    return
                for m in group.members.values():
                    m.assignment = assignment.get(m.member_id, b"")
                self._propagate_assignment(cp, group, ErrorCode.none)
                group.transition(Event.ASSIGNMENT_STORED, now_ms())
                log.info("group %s: generation %d is stable", group.group_id, generation)

            self._write_group_soon(cp, group, stored, assignment)
        return await waiter

    def _synced(self, cp: CoordinatorPartition, group: ClassicGroup, member_id: str) -> None:
        group.pending_sync.discard(member_id)
        if group.state in (S.DEAD, S.EMPTY, S.PREPARING_REBALANCE) or not group.pending_sync:
            self._cancel_sync_timer(cp, group)

    # -- Heartbeat ----------------------------------------------------------------------------

    def heartbeat(
        self, group_id: str, generation_id: int, member_id: str, instance_id: str | None
    ) -> ErrorCode:
        if not group_id:
            return ErrorCode.invalid_group_id
        cp, error = self._owner(group_id)
        if cp is None:
            # While loading, Kafka answers heartbeats blindly with success.
            return ErrorCode.none if error == ErrorCode.coordinator_load_in_progress else error
        group = cp.groups.get(group_id)
        if group is None:
            return ErrorCode.unknown_member_id
        if group.state is S.DEAD:
            return ErrorCode.coordinator_not_available
        error = group.validate_member(member_id, instance_id)
        if error != ErrorCode.none:
            return error
        if generation_id != group.generation_id:
            return ErrorCode.illegal_generation
        answer = HEARTBEAT_ANSWER[group.state]
        if group.state in (S.PREPARING_REBALANCE, S.COMPLETING_REBALANCE, S.STABLE):
            self._reschedule_heartbeat(cp, group, group.members[member_id])
        return answer

    # -- LeaveGroup ---------------------------------------------------------------------------

    def leave_group(
        self, group_id: str, leaving: Iterable[tuple[str, str | None]]
    ) -> tuple[ErrorCode, list[tuple[str, str | None, ErrorCode]]]:
        """Remove members (by member id, or by group.instance.id with an empty member id)."""
        leaving = list(leaving)
        if not group_id:
            return ErrorCode.invalid_group_id, []
        cp, error = self._owner(group_id)
        if cp is None:
            return error, []
        group = cp.groups.get(group_id)
        if group is None:
            return ErrorCode.none, [(mid, iid, ErrorCode.unknown_member_id) for mid, iid in leaving]
        if group.state is S.DEAD:
            return ErrorCode.coordinator_not_available, []
        results = []
        removed = []
        for member_id, instance_id in leaving:
            if member_id == "":
                target = group.static_members.get(instance_id) if instance_id is not None else None
                if target is None:
                    results.append((member_id, instance_id, ErrorCode.unknown_member_id))
                    continue
                self._drop_member(cp, group, group.members[target])
                removed.append(target)
                results.append((member_id, instance_id, ErrorCode.none))
            elif member_id in group.pending_join:
                group.remove(member_id)
                self._cancel_session(cp, group, member_id)
                removed.append(member_id)
                results.append((member_id, instance_id, ErrorCode.none))
            else:
                error = group.validate_member(member_id, instance_id)
                if error == ErrorCode.none:
                    self._drop_member(cp, group, group.members[member_id])
                    removed.append(member_id)
                results.append((member_id, instance_id, error))
        if removed:
            log.info("group %s: members left: %s", group_id, removed)
            if group.state in (S.STABLE, S.COMPLETING_REBALANCE):
                self._maybe_prepare_rebalance_or_complete_join(
                    cp, group, f"members left: {removed}"
                )
            elif group.state is S.PREPARING_REBALANCE:
                self._maybe_complete_join(cp, group)
        return ErrorCode.none, results

    # -- offsets ------------------------------------------------------------------------------

    async def commit_offsets(self, req: CommitRequest) -> dict[OffsetKey, ErrorCode]:
        """Commit offsets; the error of every partition of the request."""
        every = [(p.topic, p.partition) for p in req.partitions]

        def all_fail(error: ErrorCode) -> dict[OffsetKey, ErrorCode]:
            return dict.fromkeys(every, error)

        cp, error = self._owner(req.group_id)
        if cp is None:
            return all_fail(error)
        group = cp.groups.get(req.group_id)
        if group is None:
            if req.generation_id >= 0:
                return all_fail(
                    ErrorCode.group_id_not_found
                    if req.version >= 9
                    else ErrorCode.illegal_generation
                )
            # Without group management (an admin, or assign() with commits): a simple group.
            group = cp.groups[req.group_id] = ClassicGroup(
                req.group_id, current_state_timestamp=now_ms()
            )
        error = group.validate_offset_commit(
            req.member_id, req.group_instance_id, req.generation_id
        )
        if error != ErrorCode.none:
            return all_fail(error)
        member = group.members.get(req.member_id)
        if member is not None and group.state in (S.STABLE, S.PREPARING_REBALANCE):
            self._reschedule_heartbeat(cp, group, member)  # a commit keeps the session alive

        results: dict[OffsetKey, ErrorCode] = {}
        entries: list[tuple[OffsetCommitKey, OffsetCommitValue]] = []
        max_metadata = self._config_int("offset.metadata.max.bytes")
        now = now_ms()
        expire = now + req.retention_ms if req.retention_ms != -1 else -1
        # Kafka 4.4 stores the committed topic's id along with its name.
        topic_ids = {
            name: uuid.UUID(topic.topic_id)
            for name in {p.topic for p in req.partitions}
            if (topic := self.broker.image.topics.get(name)) is not None
        }
        for p in req.partitions:
            if p.metadata is not None and java_length(p.metadata) > max_metadata:
                results[(p.topic, p.partition)] = ErrorCode.offset_metadata_too_large
                continue
            results[(p.topic, p.partition)] = ErrorCode.none
            entries.append(
                (
                    OffsetCommitKey(req.group_id, p.topic, p.partition),
                    OffsetCommitValue(
                        p.offset,
                        p.metadata or "",
                        now,
                        p.leader_epoch,
                        expire,
                        topic_ids.get(p.topic),
                    ),
                )
            )
        if not entries:
            return results
        error, base = await self._append(cp, entries)
        if error != ErrorCode.none:
            for key, _ in entries:
                results[(key.topic, key.partition)] = error
            return results
        if self.partitions.get(cp.index) is cp:
            for i, (key, value) in enumerate(entries):
                self._apply_offset(cp, key, value, base + i)
        return results

    def fetch_offsets(
        self, group_id: str, wanted: list[tuple[str, list[int]]] | None
    ) -> tuple[ErrorCode, list[tuple[str, list[tuple[int, CommittedOffset | None]]]]]:
        """Committed offsets of the wanted partitions (None: all of the group's)."""
        cp, error = self._owner(group_id)
        if cp is None:
            return error, []
        group = cp.groups.get(group_id)
        stored = (
            cp.offsets.get(group_id, {}) if group is not None and group.state is not S.DEAD else {}
        )
        if wanted is None:
            by_topic: dict[str, list[tuple[int, CommittedOffset | None]]] = {}
            for (topic, partition), committed in sorted(stored.items()):
                by_topic.setdefault(topic, []).append((partition, committed))
            return ErrorCode.none, list(by_topic.items())
        return ErrorCode.none, [
            (topic, [(p, stored.get((topic, p))) for p in partitions])
            for topic, partitions in wanted
        ]

    async def delete_offsets(
        self, group_id: str, wanted: list[tuple[str, list[int]]]
    ) -> tuple[ErrorCode, list[tuple[str, list[tuple[int, ErrorCode]]]]]:
        cp, error = self._owner(group_id)
        if cp is None:
            return error, []
        group = cp.groups.get(group_id)
        if group is None or group.state is S.DEAD:
            return ErrorCode.group_id_not_found, []
        if group.state is not S.EMPTY and group.protocol_type != "consumer":
            return ErrorCode.non_empty_group, []
        stored = cp.offsets.get(group_id, {})
        tombstones: list[tuple[OffsetCommitKey, None]] = []
        answer = []
        for topic, partitions in wanted:
            if group.is_subscribed_to(topic):
                answer.append(
                    (topic, [(p, ErrorCode.group_subscribed_to_topic) for p in partitions])
                )
                continue
            answer.append((topic, [(p, ErrorCode.none) for p in partitions]))
            tombstones += [
                (OffsetCommitKey(group_id, topic, p), None)
                for p in partitions
                if (topic, p) in stored
            ]
        if tombstones:
            error, base = await self._append(cp, tombstones)
            if error != ErrorCode.none:
                return error, []
            if self.partitions.get(cp.index) is cp:
                for i, (key, _) in enumerate(tombstones):
                    self._apply_offset(cp, key, None, base + i)
        return ErrorCode.none, answer

    # -- groups as a whole --------------------------------------------------------------------

    def list_groups(self) -> tuple[ErrorCode, list[ClassicGroup]]:
        """Every live group this broker coordinates (LOAD_IN_PROGRESS while any partition loads)."""
        if any(cp.loading for cp in self.partitions.values()):
            return ErrorCode.coordinator_load_in_progress, []
        return ErrorCode.none, [
            g
            for cp in self.partitions.values()
            for g in cp.groups.values()
            if g.state is not S.DEAD
        ]

    def describe_group(self, group_id: str) -> tuple[ErrorCode, ClassicGroup | None]:
        cp, error = self._owner(group_id)
        if cp is None:
            return error, None
        group = cp.groups.get(group_id)
        if group is None or group.state is S.DEAD:
            return ErrorCode.group_id_not_found, None
        return ErrorCode.none, group

    async def delete_group(self, group_id: str) -> ErrorCode:
        cp, error = self._owner(group_id)
        if cp is None:
            return error
        group = cp.groups.get(group_id)
        if group is None or group.state is S.DEAD:
            return ErrorCode.group_id_not_found
        if group.state is not S.EMPTY:
            return ErrorCode.non_empty_group
        entries: list[tuple[Any, None]] = [
            (OffsetCommitKey(group_id, topic, partition), None)
            for topic, partition in cp.offsets.get(group_id, {})
        ]
        entries.append((GroupMetadataKey(group_id), None))
        # Dead at once: a JoinGroup meanwhile answers COORDINATOR_NOT_AVAILABLE and retries.
        cp.timers_of(group).cancel_all()
        group.transition(Event.REMOVED, now_ms())
        error, base = await self._append(cp, entries)
        if self.partitions.get(cp.index) is not cp or cp.groups.get(group_id) is not group:
            return error
        if error != ErrorCode.none:
            cp.groups[group_id] = ClassicGroup(
                group_id,
                generation_id=group.generation_id,
                protocol_type=group.protocol_type,
                current_state_timestamp=group.current_state_timestamp,
            )
            return error
        for i, (key, _) in enumerate(entries[:-1]):
            self._apply_offset(cp, key, None, base + i)
        cp.applied[entries[-1][0]] = base + len(entries) - 1
        del cp.groups[group_id]
        cp.timers.pop(group, None)
        log.info("group %s deleted", group_id)
        return ErrorCode.none


def _inconsistent(requested: str | None, actual: str | None) -> bool:
    return requested is not None and actual is not None and requested != actual


def coordinator_of(broker: Broker) -> GroupCoordinator:
    """The broker's group coordinator, created (and registered) on first use."""
    found = getattr(broker, "group_coordinator", None)
    if found is None:
        found = broker.group_coordinator = GroupCoordinator(broker)
    return found
