"""Fetch (key 1): v4-16.

Behavior: consumers read up to the high watermark (read_committed: the last stable offset, equal
to the high watermark until transactions exist), followers (replica_id >= 0) up to the log end,
and a follower's fetch offset advances the leader's view of it (high watermark, ISR). Whole
batches are returned as stored. When fewer than min_bytes are available the request waits up to
max_wait_ms for appends on any of its partitions (no polling). Sessions (KIP-227): epoch 0 opens
one, later epochs send only changes and get only partitions with news, -1 closes it.
Version notes: v13+ identify topics by id; v15 moves replica_id into replica_state; rack-aware
fetch-from-follower (preferred_read_replica) is not implemented: always -1.
"""

from __future__ import annotations

import time
import uuid

from ...protocol.errors import ErrorCode
from ..broker import now_ms
from ..fetch_sessions import SessionPartition
from ..log import OffsetOutOfRange
from ..wakeup import wait_any
from . import api, leader_hint, node_endpoints

_ZERO = uuid.UUID(int=0)


def _topic_name(broker, topic, uses_ids: bool) -> str | None:
    if uses_ids:
        found = broker.image.topics_by_id.get(str(topic.topic_id))
        return found.name if found else None
    return topic.topic


def _mark(replica) -> tuple:
    """What a parked fetch re-reads a partition for when it changed: its replica, leadership,
    log end, high watermark and log start."""
    if replica is None:
        return ()
    log = replica.log
    return (replica, replica.view, log.log_end_offset, replica.high_watermark, log.log_start_offset)


def _read_partition(
    broker,
    name: str,
    index: int,
    fetch_offset: int,
    max_bytes: int,
    current_epoch: int,
    replica_id: int,
    isolation: int,
    record: bool = True,
) -> dict:
    entry = {
        "partition_index": index,
        "error_code": ErrorCode.none,
        "high_watermark": -1,
        "last_stable_offset": -1,
        "log_start_offset": -1,
        "aborted_transactions": None,
        "preferred_read_replica": -1,
        # Errors carry empty records, never null, as Kafka's do: librdkafka rejects null ones.
        "records": b"",
    }
    replica = broker.replicas.get((name, index))
    topic = broker.image.topics.get(name)
    if topic is None or index not in topic.partitions:
        entry["error_code"] = ErrorCode.unknown_topic_or_partition
        return entry
    if replica is None or not replica.is_leader:
        entry["error_code"] = ErrorCode.not_leader_or_follower
        entry["current_leader"] = leader_hint(broker, name, index)
        return entry
    if current_epoch >= 0 and current_epoch != replica.leader_epoch:
        if current_epoch < replica.leader_epoch:
            entry["error_code"] = ErrorCode.fenced_leader_epoch
            # KIP-951 (v16+): the caller's epoch is stale, so name the current one.
            entry["current_leader"] = {
                "leader_id": broker.node_id,
                "leader_epoch": replica.leader_epoch,
            }
        else:
            entry["error_code"] = ErrorCode.unknown_leader_epoch
        return entry
    if replica_id >= 0:
        if record:
            replica.record_follower_fetch(replica_id, fetch_offset, now_ms())
            broker.maybe_expand_isr(replica)
        limit = None
    else:
        limit = replica.high_watermark
    entry["high_watermark"] = replica.high_watermark
    entry["last_stable_offset"] = replica.high_watermark
    entry["log_start_offset"] = replica.log_start_offset
    if isolation == 1:
        entry["aborted_transactions"] = []
    try:
        if limit is not None and fetch_offset > replica.log_end_offset:
            raise OffsetOutOfRange(fetch_offset)
        entry["records"] = (
            replica.log.read(fetch_offset, max_bytes, max_offset=limit)
            if limit is None or fetch_offset < limit
            else b""
        )
    except OffsetOutOfRange:
        entry["error_code"] = ErrorCode.offset_out_of_range
        entry["records"] = b""
        if replica_id < 0:
            # Kafka tells a consumer nothing else with this error; our own followers keep the
            # leader's log start, which they need to start over when it moved past them.
            entry["high_watermark"] = entry["last_stable_offset"] = entry["log_start_offset"] = -1
    return entry


@api(1, "Fetch", 4, 16)
async def handle(broker, request):
    body = request.body
    version = request.api_version
    uses_ids = version >= 13
    replica_id = body.replica_state.replica_id if version >= 15 else body.replica_id
    isolation = body.isolation_level if version >= 4 else 0
    max_wait_s = body.max_wait.total_seconds()
    sessions = broker.fetch_sessions

    # Resolve which partitions this request reads: from the request, or from its session.
    session = None
    session_id = getattr(body, "session_id", 0)
    epoch = getattr(body, "session_epoch", -1)
    wanted: dict[tuple[str, int], SessionPartition] = {}
    names_to_ids: dict[str, uuid.UUID] = {}
    unknown_ids: list[tuple[uuid.UUID, int]] = []
    for topic in body.topics:
        name = _topic_name(broker, topic, uses_ids)
        if name is None:
            unknown_ids.extend((topic.topic_id, p.partition) for p in topic.partitions)
            continue
        if uses_ids:
            names_to_ids[name] = topic.topic_id
        for p in topic.partitions:
            wanted[(name, p.partition)] = SessionPartition(
                p.fetch_offset, p.partition_max_bytes, p.current_leader_epoch
            )
    if version >= 7 and (session_id or epoch == 0):
        if epoch == 0:
            if session_id:
                sessions.close(session_id)
            session = sessions.open()
            session.partitions = wanted
        elif epoch == -1:
            sessions.close(session_id)
        else:
            session = sessions.get(session_id)
            if session is None:
                return {
                    "throttle_time": 0,
                    "error_code": ErrorCode.fetch_session_id_not_found,
                    "session_id": 0,
                    "responses": [],
                }
            if epoch != session.epoch:
                return {
                    "throttle_time": 0,
                    "error_code": ErrorCode.invalid_fetch_session_epoch,
                    "session_id": 0,
                    "responses": [],
                }
            session.epoch += 1
            for forgotten in getattr(body, "forgotten_topics_data", ()):
                name = _topic_name(broker, forgotten, uses_ids)
                for index in forgotten.partitions:
                    session.partitions.pop((name, index), None)
            session.partitions.update(wanted)
        if session is not None:
            session.last_used = time.monotonic()
            wanted = session.partitions
            if uses_ids:
                for name, _ in wanted:
                    if name not in names_to_ids and name in broker.image.topics:
                        names_to_ids[name] = uuid.UUID(broker.image.topics[name].topic_id)
    incremental = session is not None and epoch > 0

    deadline = time.monotonic() + max_wait_s
    read: dict[tuple[str, int], dict] = {}
    marks: dict[tuple[str, int], tuple] = {}
    while True:
        total = 0
        budget = body.max_bytes
        for key, state in wanted.items():
            replica = broker.replicas.get(key)
            mark = _mark(replica)
            entry = read.get(key)
            if entry is None or marks[key] != mark:
                # First pass, or this partition moved while the request waited.
                entry = read[key] = _read_partition(
                    broker,
                    key[0],
                    key[1],
                    state.fetch_offset,
                    min(state.max_bytes, budget),
                    state.current_leader_epoch,
                    replica_id,
                    isolation,
                    record=key not in marks,
                )
                marks[key] = mark
            size = len(entry["records"] or b"")
            total += size
            budget = max(0, budget - size)
        if (
            total >= body.min_bytes
            or any(e["error_code"] != ErrorCode.none for e in read.values())
            or time.monotonic() >= deadline
            or not wanted
        ):
            break
        # Followers read up to the log end, consumers up to the high watermark.
        replicas = [r for key in wanted if (r := broker.replicas.get(key)) is not None]
        signals = [r.grew if replica_id >= 0 else r.committed for r in replicas]
        if not await wait_any(signals, deadline - time.monotonic()):
            # Timed out: re-read once so the response carries the latest high watermarks.
            deadline = time.monotonic()
            marks = {key: () for key in marks}
    entries = [(name, entry) for (name, _), entry in read.items()]

    if incremental:
        kept = []
        for name, entry in entries:
            state = wanted[(name, entry["partition_index"])]
            news = (
                entry["records"]
                or entry["error_code"] != ErrorCode.none
                or entry["high_watermark"] != state.last_high_watermark
                or entry["log_start_offset"] != state.last_log_start
            )
            state.last_high_watermark = entry["high_watermark"]
            state.last_log_start = entry["log_start_offset"]
            if news:
                kept.append((name, entry))
        entries = kept
    elif session is not None:
        for name, entry in entries:
            state = wanted[(name, entry["partition_index"])]
            state.last_high_watermark = entry["high_watermark"]
            state.last_log_start = entry["log_start_offset"]

    by_topic: dict[str, list[dict]] = {}
    for name, entry in entries:
        by_topic.setdefault(name, []).append(entry)
    responses = [
        {"topic": name, "topic_id": names_to_ids.get(name, _ZERO), "partitions": parts}
        for name, parts in by_topic.items()
    ]
    for topic_id, index in unknown_ids:
        responses.append(
            {
                "topic": "",
                "topic_id": topic_id,
                "partitions": [
                    {
                        "partition_index": index,
                        "error_code": ErrorCode.unknown_topic_id,
                        "high_watermark": -1,
                        "last_stable_offset": -1,
                        "log_start_offset": -1,
                        "aborted_transactions": None,
                        "preferred_read_replica": -1,
                        "records": b"",
                    }
                ],
            }
        )
    if version < 16:
        # Kafka names the current leader (KIP-951) from v16 on only, though v12+ could carry it.
        for _, entry in entries:
            entry.pop("current_leader", None)
    hinted = (e["current_leader"]["leader_id"] for _, e in entries if "current_leader" in e)
    return {
        "throttle_time": 0,
        "error_code": ErrorCode.none,
        "session_id": session.session_id if session else 0,
        "responses": responses,
        "node_endpoints": node_endpoints(broker, hinted),
    }
