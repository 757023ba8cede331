"""Consumer groups, as kafka-consumer-groups shows and changes them.

Read with FindCoordinator, ListGroups, DescribeGroups, OffsetFetch and ListOffsets; changed
with OffsetCommit (reset) and DeleteGroups. A reset only applies to a group without active
members, as in Kafka, and is a dry run unless ``execute=True``.

>>> import kafkabook as kb
>>> print(kb.groups.describe("g1"))                                   # doctest: +SKIP
GROUP  TOPIC   PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID  HOST  CLIENT-ID
g1     orders  0          4               6               2    -            -     -
>>> kb.groups.reset_offsets("g1", "orders", to="earliest", execute=True)   # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kafkabook.api.display import Message, Table
from kafkabook.api.errors import KafkabookError, check, error_name, one_line
from kafkabook.api.requests import Admin
from kafkabook.api.session import run_api

EARLIEST, LATEST = -2, -1
INACTIVE_STATES = ("Empty", "Dead")


# -- the consumer protocol's assignment bytes (pure) -------------------------------------------


def decode_assignment(data: bytes | None) -> dict[str, list[int]]:
    """A consumer's assignment from DescribeGroups' ``member_assignment`` bytes.

    Layout (ConsumerProtocolAssignment, any version): int16 version, then an array of
    (topic: string, partitions: array of int32), then user data (ignored).

    >>> decode_assignment(encode_assignment({"orders": [0, 2]}))
    {'orders': [0, 2]}
    >>> decode_assignment(b"")
    {}
    """
    if not data:
        return {}
    try:
        pos = 2  # version
        (count,) = struct.unpack_from(">i", data, pos)
        pos += 4
        out: dict[str, list[int]] = {}
        for _ in range(max(count, 0)):
            (length,) = struct.unpack_from(">h", data, pos)
            pos += 2
            topic = data[pos : pos + length].decode()
            pos += length
            (n,) = struct.unpack_from(">i", data, pos)
            pos += 4
            parts = list(struct.unpack_from(f">{max(n, 0)}i", data, pos))
            pos += 4 * max(n, 0)
            out[topic] = sorted(parts)
        return out
    except (struct.error, UnicodeDecodeError):
        return {}


def encode_assignment(assignment: dict[str, list[int]], version: int = 0) -> bytes:
    """The inverse of `decode_assignment` (user data null)."""
    out = [struct.pack(">hi", version, len(assignment))]
    for topic, parts in assignment.items():
        name = topic.encode()
        out.append(struct.pack(">h", len(name)) + name)
        out.append(struct.pack(f">i{len(parts)}i", len(parts), *parts))
    out.append(struct.pack(">i", -1))
    return b"".join(out)


# -- requests ------------------------------------------------------------------------------------


def no_such_group(group: str) -> KafkabookError:
    return KafkabookError(
        f"consumer group '{group}' does not exist: %kafka groups --list shows the groups"
    )


async def coordinator(admin: Admin, group: str) -> int:
    """The broker coordinating ``group`` (FindCoordinator)."""
    response = await admin.send_any(
        10, max_version=4, key=group, key_type=0, coordinator_keys=[group]
    )
    if hasattr(response, "coordinators"):
        [entry] = response.coordinators
        code, message, node = entry.error_code, entry.error_message, entry.node_id
    else:
        code, message, node = response.error_code, response.error_message, response.node_id
    if error_name(code) == "COORDINATOR_NOT_AVAILABLE":
        raise KafkabookError(
            f"no coordinator for group '{group}' yet (COORDINATOR_NOT_AVAILABLE): the offsets "
            "topic may still be starting; try again in a few seconds"
        )
    check(code, f"FindCoordinator for group '{group}'", message)
    return int(node)


async def partition_leaders(admin: Admin, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """``{(topic, partition): leader}`` for ``topics`` (missing topics left out)."""
    from kafkabook.api.topics import _topic_infos

    infos = _topic_infos(await admin.metadata(list(topics)))
    return {(t, p.partition): p.leader for t, info in infos.items() for p in info.partitions}


async def list_offsets(
    admin: Admin,
    partitions: Sequence[tuple[str, int]],
    timestamp: int,
    isolation_level: int = 0,
) -> dict[tuple[str, int], int]:
    """ListOffsets at ``timestamp`` (-2 earliest, -1 latest, or ms) from each partition's leader.

    A timestamp past the last record answers -1 there, as Kafka does; callers pick what that
    means (kafka-consumer-groups uses the log end).
    """
    leaders = await partition_leaders(admin, sorted({t for t, _ in partitions}))
    by_leader: dict[int, list[tuple[str, int]]] = {}
    for tp in partitions:
        leader = leaders.get(tp, -1)
        if leader < 0:
            raise KafkabookError(
                f"partition {tp[0]}-{tp[1]} has no leader: %kafka topics --describe "
                f"--topic {tp[0]} shows it, %kafka cluster status shows the brokers"
            )
        by_leader.setdefault(leader, []).append(tp)
    out: dict[tuple[str, int], int] = {}
    for leader, tps in by_leader.items():
        topics: dict[str, list[dict[str, Any]]] = {}
        for t, p in tps:
            topics.setdefault(t, []).append(
                {"partition_index": p, "current_leader_epoch": -1, "timestamp": timestamp}
            )
        response = await admin.send(
            leader,
            2,
            max_version=8,
            min_version=1,
            replica_id=-1,
            isolation_level=isolation_level,
            topics=[{"name": t, "partitions": ps} for t, ps in topics.items()],
        )
        for topic in response.topics:
            for part in topic.partitions:
                check(part.error_code, f"ListOffsets for {topic.name}-{part.partition_index}")
                out[(topic.name, part.partition_index)] = int(part.offset)
    return out


async def committed_offsets(admin: Admin, node: int, group: str) -> dict[tuple[str, int], int]:
    """The group's committed offsets (OffsetFetch for all its topics)."""
    response = await admin.send(
        node,
        9,
        max_version=8,
        min_version=2,
        group_id=group,
        topics=None,
        groups=[{"group_id": group, "topics": None}],
        require_stable=False,
    )
    if hasattr(response, "groups"):
        [entry] = response.groups
        code, topics = entry.error_code, entry.topics
    else:
        code, topics = response.error_code, response.topics
    if error_name(code) == "GROUP_ID_NOT_FOUND":
        raise no_such_group(group)
    check(code, f"OffsetFetch for group '{group}'")
    out = {}
    for topic in topics:
        for part in topic.partitions:
            check(part.error_code, f"OffsetFetch for {topic.name}-{part.partition_index}")
            if part.committed_offset >= 0:
                out[(topic.name, part.partition_index)] = int(part.committed_offset)
    return out


@dataclass(frozen=True)
class Member:
    """One member of a group: ids, host and its assigned partitions."""

    member_id: str
    client_id: str
    host: str
    assignment: dict[str, list[int]]
    group_instance_id: str | None = None


@dataclass(frozen=True)
class GroupState:
    """A group as DescribeGroups reports it."""

    group: str
    state: str
    protocol_type: str
    protocol: str
    members: tuple[Member, ...]


async def describe_group(admin: Admin, node: int, group: str) -> GroupState:
    response = await admin.send(
        node, 15, max_version=5, groups=[group], include_authorized_operations=False
    )
    [entry] = response.groups
    if error_name(entry.error_code) == "GROUP_ID_NOT_FOUND":
        raise no_such_group(group)
    check(entry.error_code, f"DescribeGroups for '{group}'", getattr(entry, "error_message", None))
    members = tuple(
        Member(
            member_id=m.member_id,
            client_id=m.client_id,
            host=m.client_host,
            assignment=decode_assignment(m.member_assignment)
            if entry.protocol_type in ("consumer", "")
            else {},
            group_instance_id=getattr(m, "group_instance_id", None),
        )
        for m in entry.members
    )
    return GroupState(group, entry.group_state, entry.protocol_type, entry.protocol_data, members)


# -- results -----------------------------------------------------------------------------------


class GroupList(Table):
    """Group ids (one per line as text, like ``kafka-consumer-groups --list``), with states."""

    def __init__(self, groups: Sequence[tuple[str, str, str]]) -> None:
        self.groups = sorted(groups)
        super().__init__(["group", "state", "protocol_type"], self.groups)

    @property
    def names(self) -> list[str]:
        return [g[0] for g in self.groups]

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __repr__(self) -> str:
        return "\n".join(self.names) if self.names else "(no consumer groups)"


class GroupDescription(Table):
    """Per partition: committed offset, log end offset, lag and owning member."""

    COLUMNS = [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]

    def __init__(self, state: GroupState, rows: list[tuple[Any, ...]]) -> None:
        self.state = state
        notes = []
        if not state.members:
            notes.append(f"Consumer group '{state.group}' has no active members.")
        super().__init__(
            [c.lower().replace("-", "_") for c in self.COLUMNS],
            rows,
            title=f"group {state.group}: {state.state}, {len(state.members)} member(s)",
            notes=notes,
        )

    @property
    def lag(self) -> int:
        """Total lag over the partitions with a committed offset."""
        return sum(r[5] for r in self.rows if isinstance(r[5], int))

    def __repr__(self) -> str:
        from kafkabook.api.display import text_table

        shown = [tuple("-" if v is None else v for v in r) for r in self.rows]
        return "\n".join([*self.notes, text_table(self.COLUMNS, shown)])


class OffsetPlan(Table):
    """The offsets a reset moves a group to (dry run) or moved it to (executed)."""

    def __init__(self, group: str, rows: list[tuple[Any, ...]], executed: bool) -> None:
        self.group = group
        self.executed = executed
        super().__init__(
            ["group", "topic", "partition", "new_offset"],
            rows,
            title=None,
            notes=[] if executed else ["dry run: nothing changed (--execute applies it)"],
        )

    def __repr__(self) -> str:
        from kafkabook.api.display import text_table

        return "\n".join(
            [*self.notes, text_table(["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], self.rows)]
        )

    @property
    def offsets(self) -> dict[tuple[str, int], int]:
        return {(r[1], r[2]): r[3] for r in self.rows}


def _parse_datetime(text: str | datetime.datetime) -> int:
    if isinstance(text, datetime.datetime):
        moment = text
    else:
        try:
            moment = datetime.datetime.fromisoformat(str(text))
        except ValueError:
            raise KafkabookError(
                f"--to-datetime takes an ISO date-time like 2024-05-01T12:00:00, not {text!r}"
            ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time, as kafka-consumer-groups reads it
    return int(moment.timestamp() * 1000)


class Groups:
    """``kb.groups``: list, describe, reset offsets of and delete consumer groups."""

    def __repr__(self) -> str:
        return "kb.groups: list(), describe(group), reset_offsets(group, topic, ...), delete(group)"

    @one_line
    def list(self) -> GroupList:
        """Every group known to any broker (ListGroups to each).

        >>> list(kb.groups.list())            # doctest: +SKIP
        ['g1']
        """

        async def call(admin: Admin) -> list[tuple[str, str, str]]:
            found: dict[str, tuple[str, str, str]] = {}
            # Every live broker per a fresh Metadata: aiokafka's own list may lack one that
            # was restarted a moment ago, and its groups would be missing.
            live = sorted(b.node_id for b in (await admin.metadata([])).brokers)
            for node in live:
                # One try: a broker killed but not yet fenced is still listed for up to the
                # session timeout, and waiting for it would stall every listing meanwhile.
                if not await admin.connect(node, wait=0):
                    continue
                response = await admin.send(node, 16, max_version=4, states_filter=[])
                check(response.error_code, f"ListGroups on broker {node}")
                for g in response.groups:
                    found[g.group_id] = (g.group_id, getattr(g, "group_state", ""), g.protocol_type)
            return list(found.values())

        return GroupList(run_api(call))

    @one_line
    def describe(self, group: str) -> GroupDescription:
        """Members, assignments, committed offsets, log end offsets and lag of ``group``.

        >>> kb.groups.describe("g1").lag        # doctest: +SKIP
        2
        """

        async def call(admin: Admin) -> GroupDescription:
            node = await coordinator(admin, group)
            state = await describe_group(admin, node, group)
            committed = await committed_offsets(admin, node, group)
            if state.state == "Dead" and not committed:
                raise no_such_group(group)
            owner: dict[tuple[str, int], Member] = {}
            for m in state.members:
                for topic, parts in m.assignment.items():
                    for p in parts:
                        owner[(topic, p)] = m
            tps = sorted(set(committed) | set(owner))
            ends = await list_offsets(admin, tps, LATEST) if tps else {}
            rows = []
            for tp in tps:
                current_offset = committed.get(tp)
                end = ends.get(tp)
                lag = (
                    None if current_offset is None or end is None else max(end - current_offset, 0)
                )
                m = owner.get(tp)
                rows.append(
                    (
                        group,
                        tp[0],
                        tp[1],
                        current_offset,
                        end,
                        lag,
                        m.member_id if m else None,
                        m.host if m else None,
                        m.client_id if m else None,
                    )
                )
            for m in state.members:
                if not m.assignment:
                    rows.append(
                        (group, None, None, None, None, None, m.member_id, m.host, m.client_id)
                    )
            return GroupDescription(state, rows)

        return run_api(call)

    @one_line
    def reset_offsets(
        self,
        group: str,
        topic: str,
        *,
        to: str | None = None,
        offset: int | None = None,
        shift_by: int | None = None,
        to_datetime: str | datetime.datetime | None = None,
        partitions: Sequence[int] | None = None,
        execute: bool = False,
    ) -> OffsetPlan:
        """Move a group's committed offsets on ``topic``; a dry run unless ``execute=True``.

        Exactly one target: ``to="earliest"`` or ``"latest"``, ``offset=N``, ``shift_by=N``
        (from the committed offset) or ``to_datetime`` (ISO, local time without a zone).
        Offsets outside the log are clamped to its start or end, as kafka-consumer-groups does.

        >>> kb.groups.reset_offsets("g1", "orders", shift_by=-2, execute=True)   # doctest: +SKIP
        """
        targets = [x is not None for x in (to, offset, shift_by, to_datetime)]
        if sum(targets) != 1:
            raise KafkabookError(
                "give exactly one of --to-earliest, --to-latest, --to-offset N, --shift-by N, "
                "--to-datetime ISO"
            )
        if to is not None and to not in ("earliest", "latest"):
            raise KafkabookError(f"to= is earliest or latest, not {to!r}")
        stamp = _parse_datetime(to_datetime) if to_datetime is not None else None

        async def call(admin: Admin) -> OffsetPlan:
            from kafkabook.api.topics import _topic_infos, no_such_topic

            info = _topic_infos(await admin.metadata([topic])).get(topic)
            if info is None:
                raise no_such_topic(topic)
            parts = [p.partition for p in info.partitions]
            if partitions is not None:
                bad = sorted(set(partitions) - set(parts))
                if bad:
                    raise KafkabookError(
                        f"topic '{topic}' has partitions 0-{len(parts) - 1}, not {bad[0]}"
                    )
                parts = sorted(set(partitions))
            node = await coordinator(admin, group)
            state = await describe_group(admin, node, group)
            if execute and state.state not in INACTIVE_STATES:
                raise KafkabookError(
                    f"offsets of group '{group}' can only be reset while it has no active "
                    f"members, and it is {state.state}: stop its consumers first"
                )
            tps = [(topic, p) for p in parts]
            earliest = await list_offsets(admin, tps, EARLIEST)
            latest = await list_offsets(admin, tps, LATEST)
            committed = await committed_offsets(admin, node, group) if shift_by is not None else {}
            at_time = await list_offsets(admin, tps, stamp) if stamp is not None else {}
            new = {}
            for tp in tps:
                if to == "earliest":
                    target = earliest[tp]
                elif to == "latest":
                    target = latest[tp]
                elif offset is not None:
                    target = offset
                elif shift_by is not None:
                    target = committed.get(tp, latest[tp]) + shift_by
                else:
                    found = at_time.get(tp, -1)
                    target = latest[tp] if found < 0 else found
                new[tp] = min(max(target, earliest[tp]), latest[tp])
            if execute:
                response = await admin.send(
                    node,
                    8,
                    max_version=9,
                    min_version=2,
                    group_id=group,
                    generation_id_or_member_epoch=-1,
                    member_id="",
                    group_instance_id=None,
                    retention_time=-1,
                    topics=[
                        {
                            "name": topic,
                            "partitions": [
                                {
                                    "partition_index": p,
                                    "committed_offset": new[(topic, p)],
                                    "committed_leader_epoch": -1,
                                    "committed_metadata": "",
                                }
                                for p in parts
                            ],
                        }
                    ],
                )
                for t in response.topics:
                    for p in t.partitions:
                        if error_name(p.error_code) in (
                            "UNKNOWN_MEMBER_ID",
                            "REBALANCE_IN_PROGRESS",
                        ):
                            raise KafkabookError(
                                f"group '{group}' became active while resetting: stop its "
                                "consumers and try again"
                            )
                        check(p.error_code, f"OffsetCommit for {t.name}-{p.partition_index}")
            rows = [(group, t, p, new[(t, p)]) for t, p in tps]
            return OffsetPlan(group, rows, execute)

        return run_api(call)

    @one_line
    def delete(self, group: str) -> Message:
        """Delete a group without active members, with its committed offsets.

        >>> kb.groups.delete("g1")          # doctest: +SKIP
        Deletion of requested consumer groups ('g1') was successful.
        """

        async def call(admin: Admin) -> None:
            node = await coordinator(admin, group)
            response = await admin.send(node, 42, max_version=2, groups_names=[group])
            [result] = response.results
            kind = error_name(result.error_code)
            if kind == "GROUP_ID_NOT_FOUND":
                raise no_such_group(group)
            if kind == "NON_EMPTY_GROUP":
                raise KafkabookError(
                    f"group '{group}' has active members: stop its consumers first "
                    f"(%kafka groups --describe --group {group} shows them)"
                )
            check(result.error_code, f"cannot delete group '{group}'")

        run_api(call)
        return Message(
            f"Deletion of requested consumer groups ('{group}') was successful.", group=group
        )


groups = Groups()
