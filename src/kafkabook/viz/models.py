"""View models: pure functions from snapshots to exactly what each widget draws.

No I/O, no widgets, no clock: give them `Snapshot` values (or two successive ones) and they
return frozen dataclasses. The widgets only turn these into HTML and chart specs, so everything
a lesson relies on (which replica is shown as what, what counts as a leader change, how lag is
computed) is decided here and tested without a cluster.

>>> from kafkabook.viz.snapshot import Broker, Partition, Snapshot, Topic
>>> p = Partition("orders", 0, leader=2, leader_epoch=1, replicas=(1, 2, 3), isr=(2, 3),
...               offline=(1,))
>>> [replica_state(p, b, {2, 3}) for b in (1, 2, 3)]
['offline', 'leader', 'in-sync follower']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kafkabook.viz.palette import IN_SYNC, LEADER, OFFLINE, OUT_OF_SYNC, REPLICA_STATES
from kafkabook.viz.partitioner import Placement, distribution, java_partition, moved, place
from kafkabook.viz.snapshot import Group, Partition, Snapshot

# -- the cluster grid -----------------------------------------------------------------------------

#: Process states in which a broker cannot serve anything.
DOWN_PROCESS = frozenset({"stopped", "killed"})


def replica_state(partition: Partition, broker: int, registered: Iterable[int]) -> str:
    """The state of ``broker``'s replica of ``partition``, as the cluster sees it.

    offline: the broker is in the partition's offline replicas or not registered (Kafka lists
    only live, unfenced brokers in Metadata); leader: it is the leader; in-sync follower: in
    the ISR; out-of-sync follower: a live replica outside the ISR.
    """
    if broker in partition.offline or broker not in set(registered):
        return OFFLINE
    if broker == partition.leader:
        return LEADER
    if broker in partition.isr:
        return IN_SYNC
    return OUT_OF_SYNC


def broker_state(process: str | None, registered: bool) -> str:
    """A broker's state for a lesson: alive, paused, stopped, killed, fenced or offline.

    The process state (from the backend) wins when it says the process is not running;
    "fenced" is a running process the cluster does not count (starting, or cut off).
    """
    if process in ("paused", "stopped", "killed"):
        return process
    if registered:
        return "alive"
    return "fenced" if process == "running" else "offline"


@dataclass(frozen=True, slots=True)
class ReplicaCell:
    """One replica in the grid.

    ``stale``: the backend says the process is down, but the cluster still counts the replica
    (it has not noticed yet: the broker's session has not timed out).
    """

    broker: int
    state: str
    preferred: bool
    log_end_offset: int | None = None
    high_watermark: int | None = None
    size_bytes: int | None = None
    offset_lag: int | None = None
    stale: bool = False


@dataclass(frozen=True, slots=True)
class PartitionRow:
    topic: str
    partition: int
    leader: int
    leader_epoch: int
    preferred_leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    cells: tuple[ReplicaCell | None, ...]  # one per column, None where no replica lives
    log_start: int | None = None
    high_watermark: int | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.partition}"

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    @property
    def offline(self) -> bool:
        return self.leader < 0

    @property
    def leader_is_preferred(self) -> bool:
        return self.leader == self.preferred_leader


@dataclass(frozen=True, slots=True)
class BrokerColumn:
    node_id: int
    address: str
    state: str  # see broker_state
    process: str | None
    registered: bool
    leaders: int
    replicas: int
    is_controller: bool = False


@dataclass(frozen=True, slots=True)
class ClusterView:
    taken_at: float
    cluster_id: str | None
    controller: int | None
    controller_epoch: int | None
    controller_process: str | None
    columns: tuple[BrokerColumn, ...]
    rows: tuple[PartitionRow, ...]
    notes: tuple[str, ...] = ()

    def row(self, topic: str, partition: int) -> PartitionRow | None:
        for row in self.rows:
            if row.topic == topic and row.partition == partition:
                return row
        return None

    def counts(self) -> tuple[tuple[int, str, int], ...]:
        """(broker, replica state, how many) for every broker and state, zeros included."""
        tally = {(c.node_id, s): 0 for c in self.columns for s in REPLICA_STATES}
        for row in self.rows:
            for cell in row.cells:
                if cell is not None:
                    tally[(cell.broker, cell.state)] += 1
        return tuple((b, s, n) for (b, s), n in tally.items())

    @property
    def offline_partitions(self) -> int:
        return sum(row.offline for row in self.rows)

    @property
    def under_replicated(self) -> int:
        return sum(row.under_replicated for row in self.rows)


def cluster_view(snapshot: Snapshot) -> ClusterView:
    """The grid: brokers as columns, one row per partition, one cell per replica."""
    registered = snapshot.registered_ids
    columns_ids = [b.node_id for b in snapshot.brokers]
    rows = []
    leaders = dict.fromkeys(columns_ids, 0)
    hosted = dict.fromkeys(columns_ids, 0)
    processes = {b.node_id: b.process for b in snapshot.brokers}
    for p in snapshot.partitions():
        cells: list[ReplicaCell | None] = []
        for broker in columns_ids:
            if broker not in p.replicas:
                cells.append(None)
                continue
            state = replica_state(p, broker, registered)
            log = p.log(broker)
            hosted[broker] += 1
            if state == LEADER:
                leaders[broker] += 1
            cells.append(
                ReplicaCell(
                    broker=broker,
                    state=state,
                    preferred=broker == p.preferred_leader,
                    log_end_offset=None if log is None else log.log_end_offset,
                    high_watermark=p.high_watermark if state == LEADER else None,
                    size_bytes=None if log is None else log.size_bytes,
                    offset_lag=None if log is None else log.offset_lag,
                    stale=state != OFFLINE and processes.get(broker) in DOWN_PROCESS,
                )
            )
        rows.append(
            PartitionRow(
                topic=p.topic,
                partition=p.index,
                leader=p.leader,
                leader_epoch=p.leader_epoch,
                preferred_leader=p.preferred_leader,
                replicas=p.replicas,
                isr=p.isr,
                cells=tuple(cells),
                log_start=p.log_start,
                high_watermark=p.high_watermark,
                error=p.error,
            )
        )
    columns = tuple(
        BrokerColumn(
            node_id=b.node_id,
            address=b.address,
            state=broker_state(b.process, b.registered),
            process=b.process,
            registered=b.registered,
            leaders=leaders[b.node_id],
            replicas=hosted[b.node_id],
            is_controller=b.node_id == snapshot.controller,
        )
        for b in snapshot.brokers
    )
    controller_process = None
    for node in (*snapshot.controllers, *snapshot.brokers):
        if node.node_id == snapshot.controller:
            controller_process = node.process
            break
    return ClusterView(
        taken_at=snapshot.taken_at,
        cluster_id=snapshot.cluster_id,
        controller=snapshot.controller,
        controller_epoch=snapshot.controller_epoch,
        controller_process=controller_process,
        columns=columns,
        rows=tuple(rows),
        notes=snapshot.notes,
    )


# -- offsets and lag ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupOffset:
    group: str
    committed: int | None
    lag: int | None


@dataclass(frozen=True, slots=True)
class OffsetRow:
    topic: str
    partition: int
    log_start: int | None
    high_watermark: int | None
    groups: tuple[GroupOffset, ...]

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.partition}"


@dataclass(frozen=True, slots=True)
class OffsetsView:
    taken_at: float
    groups: tuple[str, ...]
    rows: tuple[OffsetRow, ...]
    notes: tuple[str, ...] = ()

    def total_lag(self, group: str) -> int | None:
        """The group's lag summed over the partitions it has committed offsets on.

        None when it has committed nowhere, or when a partition it committed on has no high
        watermark this time (its leader is moving): a smaller sum would look like progress.
        """
        entries = [g for row in self.rows for g in row.groups if g.group == group]
        committed = [g for g in entries if g.committed is not None]
        if not committed or any(g.lag is None for g in committed):
            return None
        return sum(g.lag for g in committed)  # type: ignore[misc]


def lag(high_watermark: int | None, committed: int | None) -> int | None:
    """How far a committed offset is behind the high watermark, as kafka-consumer-groups shows.

    >>> lag(120, 100), lag(120, None), lag(None, 5), lag(10, 12)
    (20, None, None, 0)
    """
    if high_watermark is None or committed is None:
        return None
    return max(0, high_watermark - committed)


def offsets_view(
    snapshot: Snapshot, topics: Sequence[str] | None = None, groups: Sequence[str] | None = None
) -> OffsetsView:
    """Per partition of ``topics`` (default all in the snapshot): log start, high watermark and
    each group's committed offset and lag.

    The groups are ``groups`` when given, else every group in the snapshot that has committed
    offsets or assignments on one of the topics.
    """
    chosen = [t for t in snapshot.topics if topics is None or t.name in topics]
    names = {t.name for t in chosen}
    if groups is not None:
        picked = [g for g in (snapshot.group(n) for n in groups) if g is not None]
        group_names = tuple(groups)
    else:
        picked = [g for g in snapshot.groups if _touches(g, names)]
        group_names = tuple(g.group_id for g in picked)
    by_name = {g.group_id: g for g in picked}
    rows = []
    for topic in chosen:
        for p in topic.partitions:
            entries = []
            for name in group_names:
                group = by_name.get(name)
                committed = None if group is None else group.committed_offset(p.topic, p.index)
                entries.append(GroupOffset(name, committed, lag(p.high_watermark, committed)))
            rows.append(OffsetRow(p.topic, p.index, p.log_start, p.high_watermark, tuple(entries)))
    return OffsetsView(snapshot.taken_at, group_names, tuple(rows), snapshot.notes)


def _touches(group: Group, topics: set[str]) -> bool:
    return any(c.topic in topics for c in group.committed) or any(
        t in topics for m in group.members for t, _ in m.assignment
    )


@dataclass(frozen=True, slots=True)
class LagPoint:
    at: float
    group: str
    lag: int


def extend_lag_history(
    history: tuple[LagPoint, ...], view: OffsetsView, keep_seconds: float
) -> tuple[LagPoint, ...]:
    """``history`` plus this view's total lag per group, minus points older than the window.

    >>> v = OffsetsView(100.0, ("g",), (OffsetRow("t", 0, 0, 10, (GroupOffset("g", 4, 6),)),))
    >>> extend_lag_history((LagPoint(10.0, "g", 9),), v, 60.0)
    (LagPoint(at=100.0, group='g', lag=6),)
    """
    points = list(history)
    for group in view.groups:
        total = view.total_lag(group)
        if total is not None:
            points.append(LagPoint(view.taken_at, group, total))
    cutoff = view.taken_at - keep_seconds
    return tuple(p for p in points if p.at >= cutoff)


# -- consumer groups ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberRow:
    member_id: str
    client_id: str
    host: str
    instance_id: str | None
    assignment: tuple[str, ...]  # "topic-partition", sorted


@dataclass(frozen=True, slots=True)
class GroupRow:
    group_id: str
    state: str
    protocol_type: str
    assignor: str
    coordinator: int | None
    members: tuple[MemberRow, ...]
    committed_partitions: int
    error: str | None = None


def groups_view(snapshot: Snapshot, groups: Sequence[str] | None = None) -> tuple[GroupRow, ...]:
    """One row per group (``groups`` only, when given), members with their assignments."""
    rows = []
    for group in snapshot.groups:
        if groups is not None and group.group_id not in groups:
            continue
        members = tuple(
            MemberRow(
                member_id=m.member_id,
                client_id=m.client_id,
                host=m.client_host,
                instance_id=m.instance_id,
                assignment=tuple(f"{t}-{p}" for t, p in m.assignment),
            )
            for m in group.members
        )
        rows.append(
            GroupRow(
                group_id=group.group_id,
                state=group.state,
                protocol_type=group.protocol_type,
                assignor=group.protocol,
                coordinator=group.coordinator,
                members=members,
                committed_partitions=len(group.committed),
                error=group.error,
            )
        )
    return tuple(rows)


# -- events: what changed between two snapshots ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened between two snapshots, timed at the later one.

    ``kind`` is one of `kafkabook.viz.palette.EVENT_KINDS` for cluster events, or "rebalance",
    "member joined", "member left", "assignment", "group" for group events.
    """

    at: float
    kind: str
    subject: str  # what it happened to: "broker 2", "orders-0", "group g1", "controller"
    text: str


def cluster_events(before: Snapshot | None, after: Snapshot) -> tuple[Event, ...]:
    """Broker down/up, process changes, controller changes, leader changes (and partitions
    going offline), ISR shrinks and expands, from ``before`` to ``after``.

    A first snapshot (``before`` None) has no events: nothing changed yet.
    """
    if before is None:
        return ()
    at = after.taken_at
    events: list[Event] = []
    was = {b.node_id: b for b in before.brokers}
    for broker in after.brokers:
        old = was.get(broker.node_id)
        subject = f"broker {broker.node_id}"
        if old is not None and old.process != broker.process and broker.process is not None:
            events.append(
                Event(
                    at,
                    "process",
                    subject,
                    f"{subject}: process {old.process or '?'} → {broker.process}",
                )
            )
        old_registered = old is not None and old.registered
        if old_registered and not broker.registered:
            events.append(Event(at, "broker down", subject, f"{subject} left the cluster"))
        elif broker.registered and not old_registered:
            events.append(Event(at, "broker up", subject, f"{subject} joined the cluster"))
    if (
        before.controller != after.controller or before.controller_epoch != after.controller_epoch
    ) and after.controller is not None:
        epoch = "" if after.controller_epoch is None else f" (epoch {after.controller_epoch})"
        events.append(
            Event(
                at,
                "controller change",
                "controller",
                f"controller {_node(before.controller)} → {after.controller}{epoch}",
            )
        )
    old_partitions = {(p.topic, p.index): p for p in before.partitions()}
    for p in after.partitions():
        old = old_partitions.get((p.topic, p.index))
        if old is None:
            continue
        if old.leader != p.leader:
            if p.leader < 0:
                events.append(
                    Event(
                        at,
                        "partition offline",
                        p.name,
                        f"{p.name} has no leader (was {old.leader})",
                    )
                )
            else:
                events.append(
                    Event(
                        at,
                        "leader change",
                        p.name,
                        f"{p.name} leader {_node(old.leader)} → {p.leader}"
                        f" (epoch {p.leader_epoch})",
                    )
                )
        lost = [r for r in old.isr if r not in p.isr]
        gained = [r for r in p.isr if r not in old.isr]
        if lost:
            events.append(
                Event(at, "ISR shrink", p.name, f"{p.name} ISR {_ids(old.isr)} → {_ids(p.isr)}")
            )
        if gained:
            events.append(
                Event(at, "ISR expand", p.name, f"{p.name} ISR {_ids(old.isr)} → {_ids(p.isr)}")
            )
    return tuple(events)


def group_events(before: Snapshot | None, after: Snapshot) -> tuple[Event, ...]:
    """Rebalances as they show between two snapshots: state changes, members joining and
    leaving, assignments moving, groups appearing and disappearing."""
    if before is None:
        return ()
    at = after.taken_at
    events: list[Event] = []
    old_groups = {g.group_id: g for g in before.groups}
    new_groups = {g.group_id: g for g in after.groups}
    for name, group in new_groups.items():
        subject = f"group {name}"
        old = old_groups.get(name)
        if old is None:
            events.append(Event(at, "group", subject, f"{subject} appeared ({group.state})"))
            continue
        if old.state != group.state:
            events.append(
                Event(at, "rebalance", subject, f"{subject}: {old.state} → {group.state}")
            )
        old_members = {m.member_id: m for m in old.members}
        new_members = {m.member_id: m for m in group.members}
        for member_id in new_members.keys() - old_members.keys():
            m = new_members[member_id]
            events.append(Event(at, "member joined", subject, f"{m.client_id} joined {subject}"))
        for member_id in old_members.keys() - new_members.keys():
            m = old_members[member_id]
            events.append(Event(at, "member left", subject, f"{m.client_id} left {subject}"))
        for member_id in new_members.keys() & old_members.keys():
            was, now = old_members[member_id].assignment, new_members[member_id].assignment
            if was != now:
                events.append(
                    Event(
                        at,
                        "assignment",
                        subject,
                        f"{new_members[member_id].client_id}: {_parts(was)} → {_parts(now)}",
                    )
                )
    for name in old_groups.keys() - new_groups.keys():
        events.append(Event(at, "group", f"group {name}", f"group {name} is gone"))
    return tuple(events)


def _node(node_id: int | None) -> str:
    return "none" if node_id is None or node_id < 0 else str(node_id)


def _ids(ids: Sequence[int]) -> str:
    return "[" + ",".join(str(i) for i in ids) + "]"


def _parts(assignment: Sequence[tuple[str, int]]) -> str:
    if not assignment:
        return "nothing"
    return ", ".join(f"{t}-{p}" for t, p in assignment)


# -- key hashing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HashRow:
    """One typed key: every step to its partition, and where it was with ``base`` partitions."""

    placement: Placement
    base_partition: int | None

    @property
    def moved(self) -> bool:
        p = self.placement
        return (
            p.partition is not None
            and self.base_partition is not None
            and self.base_partition != p.partition
        )


@dataclass(frozen=True, slots=True)
class HashingView:
    partitions: int
    base: int
    serializer: str
    rows: tuple[HashRow, ...]
    sample_size: int  # keys counted in the distribution besides the typed ones
    java_counts: tuple[int, ...]
    librdkafka_counts: tuple[int, ...]
    sample_moved: int  # of the counted keys, how many change partition from base to partitions

    @property
    def counted(self) -> int:
        return sum(self.java_counts)


def hashing_view(
    texts: Sequence[str],
    partitions: int,
    serializer: str = "string",
    base: int | None = None,
    sample: Sequence[bytes] = (),
) -> HashingView:
    """The hashing widget's table and chart for the typed ``texts``.

    ``base`` is the partition count keys are compared against (the topic's current one), so
    moving the slider shows which keys would move if partitions were added. The distribution
    counts the typed keys that serialize plus the ``sample`` keys.
    """
    base = partitions if base is None else base
    rows = []
    keys: list[bytes] = []
    for text in texts:
        placement = place(text, partitions, serializer)
        before = None
        if placement.key is not None:
            keys.append(placement.key)
            before = java_partition(placement.key, base)
        rows.append(HashRow(placement, before))
    counted = keys + list(sample)
    counts = distribution(counted, partitions)
    return HashingView(
        partitions=partitions,
        base=base,
        serializer=serializer,
        rows=tuple(rows),
        sample_size=len(sample),
        java_counts=counts["java"],
        librdkafka_counts=counts["librdkafka"],
        sample_moved=moved(counted, base, partitions),
    )
