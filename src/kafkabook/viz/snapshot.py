"""What the widgets draw from: frozen snapshots of a cluster, read through the Kafka protocol only.

A `Snapshot` is a copy of the cluster at one moment: brokers, topics and partitions (leader,
replicas, ISR, offline replicas), offsets (log start and high watermark per partition, log end
offset and size per replica) and consumer groups (state, members, assignments, committed
offsets). Nothing in it is live, nothing refers back to a client, and two snapshots compare
with ``==``; the view models in `kafkabook.viz.models` are pure functions of them.

Everything comes from Kafka requests any client may send, so the same widget works on the
bundled cluster, the JVM one and a cluster you connect to:

=====================  ========================================================================
Metadata (3)           brokers, controller id, topics, partitions: leader, replicas, ISR, offline
DescribeQuorum (55)    the active KRaft controller and its epoch
ListOffsets (2)        log start offset (-2) and high watermark (-1) from each leader; each
                       replica's log end offset (-1 asked as the debugging replica, id -2)
DescribeLogDirs (35)   each replica's size and offset lag, from the broker that holds it
ListGroups (16)        the groups each broker coordinates, with their state
DescribeGroups (15)    members, client ids, hosts and assignments of classic groups
OffsetFetch (9)        each group's committed offsets
=====================  ========================================================================

The one thing the protocol cannot say is what happened to a broker's process (killed, stopped,
paused): that comes from the backend's ``status()``, when the backend knows.

The parsers (`brokers_from_metadata`, `topics_from_metadata`, ...) are pure functions of
response bodies; `Collector` sends the requests on kafkabook's background loop, one request per
broker in parallel, each with a short timeout so a paused broker only costs its own answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kafkabook.api.errors import KafkabookError, error_name
from kafkabook.api.requests import Admin
from kafkabook.backends.base import ClusterStatus

# API keys of the requests a snapshot needs.
LIST_OFFSETS, METADATA, OFFSET_FETCH, FIND_COORDINATOR = 2, 3, 9, 10
DESCRIBE_GROUPS, LIST_GROUPS, DESCRIBE_LOG_DIRS, DESCRIBE_QUORUM = 15, 16, 35, 55

LATEST, EARLIEST = -1, -2
#: ListOffsets' replica id for "a debugging tool": Kafka answers the replica's log end offset
#: (not the high watermark) and lets followers answer too.
DEBUGGING_REPLICA_ID = -2
CONSUMER_REPLICA_ID = -1
METADATA_TOPIC = "__cluster_metadata"


# -- the snapshot ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Broker:
    """One broker (or controller) as the protocol and the backend see it.

    ``registered``: listed by Metadata, i.e. alive and unfenced as far as the cluster knows.
    ``process``: the backend's word on the process (running, paused, stopped, killed), or None
    when the backend cannot tell (an external cluster).
    ``answered``: whether it answered this snapshot's requests (None: nothing was asked).
    """

    node_id: int
    host: str | None = None
    port: int | None = None
    rack: str | None = None
    registered: bool = False
    process: str | None = None
    answered: bool | None = None
    role: str = "broker"

    @property
    def address(self) -> str:
        return "" if self.host is None else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ReplicaLog:
    """What one broker says of its replica of one partition (None: it did not say)."""

    broker: int
    log_end_offset: int | None = None
    size_bytes: int | None = None
    offset_lag: int | None = None


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition: placement from Metadata, offsets from ListOffsets and DescribeLogDirs."""

    topic: str
    index: int
    leader: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    offline: tuple[int, ...] = ()
    error: str | None = None
    log_start: int | None = None
    high_watermark: int | None = None
    logs: tuple[ReplicaLog, ...] = ()

    @property
    def preferred_leader(self) -> int:
        """The first replica: where leadership goes back on a preferred election."""
        return self.replicas[0] if self.replicas else -1

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.index}"

    def log(self, broker: int) -> ReplicaLog | None:
        for entry in self.logs:
            if entry.broker == broker:
                return entry
        return None


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    topic_id: str | None
    internal: bool
    partitions: tuple[Partition, ...]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """A group member; ``assignment`` is decoded from the consumer protocol when it is one."""

    member_id: str
    client_id: str
    client_host: str
    instance_id: str | None = None
    assignment: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Committed:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Group:
    """A consumer group as ListGroups, DescribeGroups and OffsetFetch show it."""

    group_id: str
    state: str
    protocol_type: str = ""
    protocol: str = ""
    group_type: str = ""
    coordinator: int | None = None
    members: tuple[Member, ...] = ()
    committed: tuple[Committed, ...] = ()
    error: str | None = None

    def committed_offset(self, topic: str, partition: int) -> int | None:
        for entry in self.committed:
            if entry.topic == topic and entry.partition == partition:
                return entry.offset
        return None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The cluster at ``taken_at`` (seconds since the epoch).

    ``controller`` is the active controller: the KRaft quorum leader (DescribeQuorum), or the
    controller id Metadata gives when the quorum cannot be asked. ``notes`` say, one line
    each, what could not be read this time.
    """

    taken_at: float
    cluster_id: str | None = None
    controller: int | None = None
    controller_epoch: int | None = None
    brokers: tuple[Broker, ...] = ()
    controllers: tuple[Broker, ...] = ()
    topics: tuple[Topic, ...] = ()
    groups: tuple[Group, ...] = ()
    notes: tuple[str, ...] = ()
    backend: str | None = None

    def broker(self, node_id: int) -> Broker | None:
        for broker in self.brokers:
            if broker.node_id == node_id:
                return broker
        return None

    def topic(self, name: str) -> Topic | None:
        for topic in self.topics:
            if topic.name == name:
                return topic
        return None

    def partitions(self) -> tuple[Partition, ...]:
        return tuple(p for t in self.topics for p in t.partitions)

    def partition(self, topic: str, index: int) -> Partition | None:
        found = self.topic(topic)
        if found is None:
            return None
        for partition in found.partitions:
            if partition.index == index:
                return partition
        return None

    def group(self, group_id: str) -> Group | None:
        for group in self.groups:
            if group.group_id == group_id:
                return group
        return None

    @property
    def registered_ids(self) -> frozenset[int]:
        return frozenset(b.node_id for b in self.brokers if b.registered)


# -- pure parsers of response bodies --------------------------------------------------------------


def _error(code: Any) -> str | None:
    return None if code is None or int(code) == 0 else error_name(code)


def brokers_from_metadata(response: Any) -> tuple[Broker, ...]:
    """The brokers a Metadata response lists (all registered), by id."""
    return tuple(
        sorted(
            (
                Broker(
                    node_id=int(b.node_id),
                    host=b.host,
                    port=int(b.port),
                    rack=getattr(b, "rack", None),
                    registered=True,
                )
                for b in response.brokers
            ),
            key=lambda b: b.node_id,
        )
    )


def topics_from_metadata(
    response: Any, *, internal: bool = False, names: Iterable[str] | None = None
) -> tuple[Topic, ...]:
    """The topics of a Metadata response, sorted by name, partitions by index.

    Internal topics (``__consumer_offsets`` ...) only with ``internal``; only ``names`` when
    given (a name Metadata does not know is left out).
    """
    wanted = None if names is None else set(names)
    topics = []
    for t in response.topics:
        if t.name is None or (wanted is not None and t.name not in wanted):
            continue
        if int(t.error_code) != 0 and not t.partitions:
            continue  # unknown, or still being created: nothing to draw yet
        if t.is_internal and not internal and (wanted is None or t.name not in wanted):
            continue
        partitions = tuple(
            sorted(
                (
                    Partition(
                        topic=t.name,
                        index=int(p.partition_index),
                        leader=int(p.leader_id),
                        leader_epoch=int(getattr(p, "leader_epoch", -1)),
                        replicas=tuple(int(r) for r in p.replica_nodes),
                        isr=tuple(int(r) for r in p.isr_nodes),
                        offline=tuple(int(r) for r in getattr(p, "offline_replicas", ())),
                        error=_error(p.error_code),
                    )
                    for p in t.partitions
                ),
                key=lambda p: p.index,
            )
        )
        topic_id = getattr(t, "topic_id", None)
        topics.append(
            Topic(
                name=t.name,
                topic_id=None if topic_id is None or int(topic_id) == 0 else str(topic_id),
                internal=bool(t.is_internal),
                partitions=partitions,
                error=_error(t.error_code),
            )
        )
    return tuple(sorted(topics, key=lambda t: t.name))


def quorum_from_response(response: Any) -> tuple[int | None, int | None, tuple[int, ...]]:
    """(leader id, leader epoch, voter ids) of the metadata quorum, from DescribeQuorum."""
    if int(response.error_code) != 0:
        return None, None, ()
    for topic in response.topics:
        for p in topic.partitions:
            if int(p.error_code) != 0:
                return None, None, ()
            leader = int(p.leader_id)
            voters = tuple(int(v.replica_id) for v in p.current_voters)
            return (leader if leader >= 0 else None), int(p.leader_epoch), voters
    return None, None, ()


def offsets_from_list_offsets(response: Any) -> dict[tuple[str, int], int]:
    """{(topic, partition): offset} for the partitions answered without error."""
    found = {}
    for topic in response.topics:
        for p in topic.partitions:
            if int(p.error_code) == 0 and int(p.offset) >= 0:
                found[(topic.name, int(p.partition_index))] = int(p.offset)
    return found


def logs_from_describe_log_dirs(response: Any) -> dict[tuple[str, int], tuple[int, int]]:
    """{(topic, partition): (size bytes, offset lag)} of one broker's current replicas."""
    found = {}
    if int(getattr(response, "error_code", 0)) != 0:
        return found
    for result in response.results:
        if int(result.error_code) != 0:
            continue
        for topic in result.topics:
            for p in topic.partitions:
                if getattr(p, "is_future_key", False):
                    continue  # a replica being moved between log dirs: not the current one
                found[(topic.name, int(p.partition_index))] = (
                    int(p.partition_size),
                    int(p.offset_lag),
                )
    return found


def decode_assignment(data: bytes | None) -> tuple[tuple[str, int], ...]:
    """The partitions in a consumer-protocol assignment (ConsumerProtocolAssignment v0-3).

    Empty when there is none or it is not the consumer protocol's format.

    >>> decode_assignment(bytes.fromhex("0000" "00000001" "0001" "74" "00000002"
    ...                                 "00000000" "00000002" "ffffffff"))
    (('t', 0), ('t', 2))
    """
    if not data or len(data) < 2:
        return ()
    from kio.schema.consumer_protocol_assignment.v3.data import ConsumerProtocolAssignment
    from kio.serial import entity_reader

    try:
        decoded, _ = entity_reader(ConsumerProtocolAssignment)(bytes(data), 2)
    except Exception:  # kio raises several kinds on foreign bytes: not an assignment we can read
        return ()
    return tuple(
        sorted((tp.topic, int(p)) for tp in decoded.assigned_partitions for p in tp.partitions)
    )


def group_from_described(described: Any, coordinator: int | None, listed: Any = None) -> Group:
    """A `Group` from a DescribeGroups entry (and its ListGroups entry when there is one)."""
    members = []
    consumer = described.protocol_type in ("consumer", "")
    for m in described.members:
        members.append(
            Member(
                member_id=m.member_id,
                client_id=m.client_id,
                client_host=m.client_host,
                instance_id=getattr(m, "group_instance_id", None),
                assignment=decode_assignment(m.member_assignment) if consumer else (),
            )
        )
    error = _error(described.error_code)
    state = described.group_state or (getattr(listed, "group_state", "") if listed else "")
    return Group(
        group_id=described.group_id,
        state=state or "Unknown",
        protocol_type=described.protocol_type or "",
        protocol=described.protocol_data or "",
        group_type=(getattr(listed, "group_type", "") or "") if listed else "",
        coordinator=coordinator,
        members=tuple(sorted(members, key=lambda m: (m.client_id, m.member_id))),
        error=error,
    )


def committed_from_offset_fetch(
    response: Any, group_id: str
) -> tuple[tuple[Committed, ...], str | None]:
    """(committed offsets, error) of ``group_id`` from an OffsetFetch response (v0-9)."""
    groups = getattr(response, "groups", None)
    if groups:
        chosen = next((g for g in groups if g.group_id == group_id), groups[0])
        topics, code = chosen.topics, chosen.error_code
    else:
        topics, code = response.topics, getattr(response, "error_code", 0)
    committed = [
        Committed(topic.name, int(p.partition_index), int(p.committed_offset))
        for topic in topics
        for p in topic.partitions
        if int(p.error_code) == 0 and int(p.committed_offset) >= 0
    ]
    return tuple(sorted(committed, key=lambda c: (c.topic, c.partition))), _error(code)


def with_process_states(
    brokers: Iterable[Broker], status: ClusterStatus | None, replica_ids: Iterable[int] = ()
) -> tuple[tuple[Broker, ...], tuple[Broker, ...]]:
    """(brokers, controllers): the registered brokers, the backend's nodes and every broker a
    partition names, merged by id, with each process state from ``status``.

    A broker the backend runs but Metadata does not list (fenced, starting) is kept, not
    registered; so is a replica's broker nobody knows (never started, removed).
    """
    by_id = {b.node_id: b for b in brokers}
    controllers: dict[int, Broker] = {}
    if status is not None:
        for node in status.nodes:
            if node.role == "controller":
                controllers[node.node_id] = Broker(
                    node_id=node.node_id,
                    host=node.host,
                    port=node.port,
                    process=node.state,
                    role="controller",
                )
                continue
            known = by_id.get(node.node_id)
            if known is None:
                by_id[node.node_id] = Broker(
                    node_id=node.node_id, host=node.host, port=node.port, process=node.state
                )
            else:
                by_id[node.node_id] = replace(known, process=node.state)
    for node_id in replica_ids:
        if node_id >= 0 and node_id not in by_id:
            by_id[node_id] = Broker(node_id=node_id)
    return (
        tuple(by_id[i] for i in sorted(by_id)),
        tuple(controllers[i] for i in sorted(controllers)),
    )


def merge_offsets(
    topics: Iterable[Topic],
    log_start: Mapping[tuple[str, int], int],
    high_watermark: Mapping[tuple[str, int], int],
    log_end: Mapping[int, Mapping[tuple[str, int], int]],
    log_dirs: Mapping[int, Mapping[tuple[str, int], tuple[int, int]]],
) -> tuple[Topic, ...]:
    """Topics with each partition's offsets and per-replica logs filled in (pure)."""
    merged = []
    for topic in topics:
        partitions = []
        for p in topic.partitions:
            key = (p.topic, p.index)
            logs = []
            for broker in p.replicas:
                leo = log_end.get(broker, {}).get(key)
                size_lag = log_dirs.get(broker, {}).get(key)
                if leo is None and size_lag is None:
                    continue
                logs.append(
                    ReplicaLog(
                        broker=broker,
                        log_end_offset=leo,
                        size_bytes=None if size_lag is None else size_lag[0],
                        offset_lag=None if size_lag is None else size_lag[1],
                    )
                )
            partitions.append(
                replace(
                    p,
                    log_start=log_start.get(key),
                    high_watermark=high_watermark.get(key),
                    logs=tuple(logs),
                )
            )
        merged.append(replace(topic, partitions=tuple(partitions)))
    return tuple(merged)


def down_brokers(status: ClusterStatus | None) -> frozenset[int]:
    """Brokers whose process the backend reports stopped, killed or paused (none when it
    cannot say): not worth asking. A dead one only refuses the connection, but a paused one
    accepts it and never answers, and aiokafka opens connections one at a time: a paused
    broker's handshake would hold up the connections to the others."""
    if status is None:
        return frozenset()
    return frozenset(
        n.node_id for n in status.brokers if n.state in ("stopped", "killed", "paused")
    )


# -- reading a snapshot over the protocol ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wanted:
    """What one snapshot reads: each widget asks for what it draws, and no more.

    ``topics`` None means every topic (internal ones only with ``internal``); ``groups`` True
    means every group, a tuple only those, False none.
    """

    topics: tuple[str, ...] | None = None
    internal: bool = False
    offsets: bool = True
    replica_logs: bool = True
    groups: bool | tuple[str, ...] = False
    quorum: bool = True


@dataclass
class _Round:
    """The mutable scratch of one collection; becomes a frozen `Snapshot` at the end."""

    notes: list[str] = field(default_factory=list)
    answered: dict[int, bool] = field(default_factory=dict)

    def failed(self, node: int, what: str, exc: BaseException) -> None:
        self.answered[node] = False
        if isinstance(exc, TimeoutError):
            self.notes.append(f"broker {node} did not answer {what} in time")
        else:
            self.notes.append(f"broker {node}: {what} failed ({_short(exc)})")


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


class Collector:
    """Reads snapshots through one `Admin` (an aiokafka client on the kafkabook loop).

    ``timeout`` bounds each request (seconds): a paused broker costs that much, once per round,
    and only for the answers it owes. Call `collect` on the kafkabook loop.
    """

    def __init__(self, admin: Admin, timeout: float = 2.0) -> None:
        self.admin = admin
        self.timeout = timeout
        self._good: list[int] = []  # brokers that answered last time, best first

    async def _send(self, node: int, api_key: int, **fields: Any) -> Any:
        return await asyncio.wait_for(self.admin.send(node, api_key, **fields), self.timeout)

    def _candidates(self, status: ClusterStatus | None) -> list[int]:
        down = down_brokers(status)
        known = [b.nodeId for b in self.admin.client.cluster.brokers() if b.nodeId not in down]
        running = (
            {n.node_id for n in status.brokers if n.state == "running"}
            if status is not None
            else set(known)
        )
        order = [n for n in self._good if n in running]
        order += [n for n in sorted(running) if n not in order]
        order += [n for n in sorted(known) if n not in order]
        return order

    async def _send_any(
        self, status: ClusterStatus | None, rnd: _Round, what: str, api_key: int, **fields: Any
    ) -> tuple[int, Any]:
        last: BaseException | None = None
        for node in self._candidates(status)[:3]:
            try:
                return node, await self._send(node, api_key, **fields)
            except (TimeoutError, KafkabookError, OSError) as exc:
                rnd.answered[node] = False
                last = exc
        if last is None:
            raise KafkabookError("no broker is known to ask")
        raise last

    async def collect(self, wanted: Wanted, status: ClusterStatus | None = None) -> Snapshot:
        """One snapshot. Raises `KafkabookError` only when no broker answers Metadata."""
        rnd = _Round()
        taken_at = time.time()
        topic_filter = None if wanted.topics is None else list(wanted.topics)
        try:
            node, metadata = await self._send_any(
                status,
                rnd,
                "Metadata",
                METADATA,
                max_version=12,
                topics=None
                if topic_filter is None
                else [{"name": t, "topic_id": None} for t in topic_filter],
                allow_auto_topic_creation=False,
                include_cluster_authorized_operations=False,
                include_topic_authorized_operations=False,
            )
        except (TimeoutError, KafkabookError, OSError) as exc:
            raise KafkabookError(f"no broker answered Metadata ({_short(exc)})") from exc
        rnd.answered[node] = True
        brokers = brokers_from_metadata(metadata)
        topics = topics_from_metadata(metadata, internal=wanted.internal, names=wanted.topics)
        if wanted.topics is not None:
            missing = sorted(set(wanted.topics) - {t.name for t in topics})
            if missing:
                rnd.notes.append(f"no topic {', '.join(missing)} (yet)")
        # Registered brokers, less those the backend says are dead: the cluster may not have
        # noticed yet, and asking a dead broker only costs a refused connection.
        down = down_brokers(status)
        live = [b.node_id for b in brokers if b.node_id not in down]
        for node_id in sorted(down & {b.node_id for b in brokers}):
            rnd.answered[node_id] = False
            rnd.notes.append(f"broker {node_id} is not running: not asked")

        tasks: dict[str, Any] = {}
        if wanted.quorum:
            tasks["quorum"] = self._quorum(status, rnd)
        if wanted.offsets:
            tasks["offsets"] = self._leader_offsets(topics, live, rnd)
        if wanted.replica_logs:
            tasks["logs"] = self._replica_logs(topics, live, rnd)
        if wanted.groups:
            tasks["groups"] = self._groups(wanted.groups, live, status, rnd)
        results = dict(zip(tasks, await asyncio.gather(*tasks.values()), strict=True))

        controller = int(metadata.controller_id) if int(metadata.controller_id) >= 0 else None
        epoch = None
        if results.get("quorum") and results["quorum"][0] is not None:
            controller, epoch = results["quorum"][0], results["quorum"][1]
        log_start, high_watermark = results.get("offsets", ({}, {}))
        log_end, log_dirs = results.get("logs", ({}, {}))
        topics = merge_offsets(topics, log_start, high_watermark, log_end, log_dirs)
        self._good = sorted(rnd.answered, key=lambda n: not rnd.answered[n])
        self._good = [n for n in self._good if rnd.answered[n]]
        answered = {b.node_id: rnd.answered.get(b.node_id) for b in brokers}
        brokers = tuple(replace(b, answered=answered[b.node_id]) for b in brokers)
        replica_ids = {r for t in topics for p in t.partitions for r in p.replicas}
        brokers, controllers = with_process_states(brokers, status, replica_ids)
        return Snapshot(
            taken_at=taken_at,
            cluster_id=getattr(metadata, "cluster_id", None),
            controller=controller,
            controller_epoch=epoch,
            brokers=brokers,
            controllers=controllers,
            topics=topics,
            groups=results.get("groups", ()),
            notes=tuple(dict.fromkeys(rnd.notes)),
            backend=None if status is None else status.backend,
        )

    async def _quorum(
        self, status: ClusterStatus | None, rnd: _Round
    ) -> tuple[int | None, int | None, tuple[int, ...]] | None:
        try:
            _, response = await self._send_any(
                status,
                rnd,
                "DescribeQuorum",
                DESCRIBE_QUORUM,
                max_version=2,
                topics=[{"topic_name": METADATA_TOPIC, "partitions": [{"partition_index": 0}]}],
            )
        except (TimeoutError, KafkabookError, OSError):
            return None  # a ZooKeeper-era cluster, or none answered: Metadata's controller id
        return quorum_from_response(response)

    async def _leader_offsets(
        self, topics: tuple[Topic, ...], live: list[int], rnd: _Round
    ) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
        by_leader: dict[int, list[Partition]] = {}
        for topic in topics:
            for p in topic.partitions:
                if p.leader in live:
                    by_leader.setdefault(p.leader, []).append(p)
        log_start: dict[tuple[str, int], int] = {}
        high_watermark: dict[tuple[str, int], int] = {}

        async def ask(leader: int, partitions: list[Partition]) -> None:
            try:
                earliest, latest = await asyncio.gather(
                    self._list_offsets(leader, partitions, EARLIEST, CONSUMER_REPLICA_ID),
                    self._list_offsets(leader, partitions, LATEST, CONSUMER_REPLICA_ID),
                )
            except (TimeoutError, KafkabookError, OSError) as exc:
                rnd.failed(leader, "ListOffsets", exc)
                return
            rnd.answered[leader] = True
            log_start.update(earliest)
            high_watermark.update(latest)

        await asyncio.gather(*(ask(n, ps) for n, ps in by_leader.items()))
        return log_start, high_watermark

    async def _list_offsets(
        self, node: int, partitions: list[Partition], timestamp: int, replica_id: int
    ) -> dict[tuple[str, int], int]:
        by_topic: dict[str, list[dict[str, int]]] = {}
        for p in partitions:
            by_topic.setdefault(p.topic, []).append(
                {"partition_index": p.index, "current_leader_epoch": -1, "timestamp": timestamp}
            )
        response = await self._send(
            node,
            LIST_OFFSETS,
            min_version=1,
            max_version=8,
            replica_id=replica_id,
            isolation_level=0,
            topics=[{"name": t, "partitions": ps} for t, ps in by_topic.items()],
        )
        return offsets_from_list_offsets(response)

    async def _replica_logs(
        self, topics: tuple[Topic, ...], live: list[int], rnd: _Round
    ) -> tuple[
        dict[int, dict[tuple[str, int], int]], dict[int, dict[tuple[str, int], tuple[int, int]]]
    ]:
        hosted: dict[int, list[Partition]] = {}
        for topic in topics:
            for p in topic.partitions:
                for broker in p.replicas:
                    hosted.setdefault(broker, []).append(p)
        log_end: dict[int, dict[tuple[str, int], int]] = {}
        log_dirs: dict[int, dict[tuple[str, int], tuple[int, int]]] = {}

        async def ask(broker: int, partitions: list[Partition]) -> None:
            by_topic: dict[str, list[int]] = {}
            for p in partitions:
                by_topic.setdefault(p.topic, []).append(p.index)
            dirs, ends = await asyncio.gather(
                self._send(
                    broker,
                    DESCRIBE_LOG_DIRS,
                    max_version=4,
                    topics=[{"topic": t, "partitions": ps} for t, ps in by_topic.items()],
                ),
                self._list_offsets(broker, partitions, LATEST, DEBUGGING_REPLICA_ID),
                return_exceptions=True,
            )
            for what, result in (("DescribeLogDirs", dirs), ("ListOffsets", ends)):
                if isinstance(result, BaseException):
                    if not isinstance(result, (TimeoutError, KafkabookError, OSError)):
                        raise result
                    rnd.failed(broker, what, result)
                else:
                    rnd.answered.setdefault(broker, True)
            if not isinstance(dirs, BaseException):
                log_dirs[broker] = logs_from_describe_log_dirs(dirs)
            if not isinstance(ends, BaseException):
                log_end[broker] = ends

        await asyncio.gather(*(ask(b, ps) for b, ps in hosted.items() if b in live))
        return log_end, log_dirs

    async def _groups(
        self,
        wanted: bool | tuple[str, ...],
        live: list[int],
        status: ClusterStatus | None,
        rnd: _Round,
    ) -> tuple[Group, ...]:
        listed: dict[str, tuple[int, Any]] = {}
        unsupported = False

        async def list_on(broker: int) -> None:
            nonlocal unsupported
            try:
                response = await self._send(
                    broker, LIST_GROUPS, max_version=5, states_filter=[], types_filter=[]
                )
            except KafkabookError as exc:
                if "not at all" in str(exc):
                    unsupported = True
                    return
                rnd.failed(broker, "ListGroups", exc)
                return
            except (TimeoutError, OSError) as exc:
                rnd.failed(broker, "ListGroups", exc)
                return
            for g in response.groups:
                listed[g.group_id] = (broker, g)

        await asyncio.gather(*(list_on(b) for b in live))
        if unsupported and not listed:
            rnd.notes.append("this cluster does not answer ListGroups: no consumer groups to show")
            return ()
        names = sorted(listed) if wanted is True else list(wanted or ())
        coordinators = {name: listed[name][0] for name in names if name in listed}
        unknown = [n for n in names if n not in coordinators]
        if unknown:
            coordinators.update(await self._find_coordinators(unknown, status, rnd))
        by_coordinator: dict[int, list[str]] = {}
        for name in names:
            if name in coordinators:
                by_coordinator.setdefault(coordinators[name], []).append(name)
        groups: dict[str, Group] = {}

        async def describe(coordinator: int, group_ids: list[str]) -> None:
            try:
                response = await self._send(
                    coordinator,
                    DESCRIBE_GROUPS,
                    max_version=5,
                    groups=group_ids,
                    include_authorized_operations=False,
                )
            except (TimeoutError, KafkabookError, OSError) as exc:
                rnd.failed(coordinator, "DescribeGroups", exc)
                return
            for described in response.groups:
                entry = listed.get(described.group_id)
                groups[described.group_id] = group_from_described(
                    described, coordinator, entry[1] if entry else None
                )
            offsets = await asyncio.gather(
                *(self._committed(coordinator, g) for g in group_ids), return_exceptions=True
            )
            for group_id, result in zip(group_ids, offsets, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, (TimeoutError, KafkabookError, OSError)):
                        raise result
                    rnd.failed(coordinator, f"OffsetFetch of {group_id}", result)
                    continue
                committed, error = result
                if group_id in groups:
                    previous = groups[group_id]
                    groups[group_id] = replace(
                        previous, committed=committed, error=previous.error or error
                    )

        await asyncio.gather(*(describe(c, ids) for c, ids in by_coordinator.items()))
        for name in names:
            if name not in groups and name in listed:
                broker, g = listed[name]
                groups[name] = Group(
                    group_id=name,
                    state=getattr(g, "group_state", "") or "Unknown",
                    protocol_type=g.protocol_type or "",
                    group_type=getattr(g, "group_type", "") or "",
                    coordinator=broker,
                )
        return tuple(groups[n] for n in sorted(groups))

    async def _find_coordinators(
        self, names: list[str], status: ClusterStatus | None, rnd: _Round
    ) -> dict[str, int]:
        found: dict[str, int] = {}
        for name in names:
            with contextlib.suppress(TimeoutError, KafkabookError, OSError):
                _, response = await self._send_any(
                    status,
                    rnd,
                    "FindCoordinator",
                    FIND_COORDINATOR,
                    max_version=4,
                    key=name,
                    key_type=0,
                    coordinator_keys=[name],
                )
                entries = getattr(response, "coordinators", None)
                if entries:
                    entry = entries[0]
                    if int(entry.error_code) == 0:
                        found[name] = int(entry.node_id)
                elif int(response.error_code) == 0:
                    found[name] = int(response.node_id)
        return found

    async def _committed(
        self, coordinator: int, group_id: str
    ) -> tuple[tuple[Committed, ...], str | None]:
        response = await self._send(
            coordinator,
            OFFSET_FETCH,
            min_version=2,
            max_version=9,
            group_id=group_id,
            topics=None,
            groups=[{"group_id": group_id, "member_id": None, "member_epoch": -1, "topics": None}],
            require_stable=False,
        )
        return committed_from_offset_fetch(response, group_id)
