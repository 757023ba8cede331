"""ListOffsets (key 2): v1-8.

Behavior: timestamp -1 is the latest offset (high watermark; for read_committed the last stable
offset), -2 the log start offset, -3 (v7+) the offset and timestamp of the record with the
largest timestamp, -4 (v8+) the earliest local offset; any other value is the first offset whose
timestamp is at or after it, or -1 when none is. Only the leader answers, except to Kafka's
debugging replica id -2, which any replica answers from its own log. Followers (replica_id >= 0)
and the debugging id read up to the log end offset, consumers up to the high watermark.
Version notes: v0 (multiple offsets) is not supported, as in Kafka 4.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from . import api

LATEST, EARLIEST, MAX_TIMESTAMP, EARLIEST_LOCAL = -1, -2, -3, -4
DEBUGGING_REPLICA_ID = -2  # tools asking one broker about its own replica, leader or not


def _lookup(replica, timestamp: int, as_replica: bool) -> tuple[int, int]:
    """(offset, timestamp) for one ListOffsets query; `as_replica` reads to the log end."""
    fetchable = replica.log_end_offset if as_replica else replica.high_watermark
    if timestamp == LATEST:
        return fetchable, -1
    if timestamp in (EARLIEST, EARLIEST_LOCAL):
        return replica.log_start_offset, -1
    if timestamp == MAX_TIMESTAMP:
        found = replica.log.max_timestamp()
        return (found[0], found[1]) if found else (-1, -1)
    found = replica.log.offset_for_timestamp(timestamp)
    if found is None or found[0] >= fetchable:
        return -1, -1
    return found


@api(2, "ListOffsets", 1, 8)
async def handle(broker, request):
    body = request.body
    debugging = body.replica_id == DEBUGGING_REPLICA_ID
    as_replica = body.replica_id >= 0 or debugging
    topics = []
    for topic in body.topics:
        results = []
        for part in topic.partitions:
            entry = {
                "partition_index": part.partition_index,
                "error_code": ErrorCode.none,
                "timestamp": -1,
                "offset": -1,
                "leader_epoch": -1,
            }
            replica, entry["error_code"] = broker.leader_replica(
                topic.name,
                part.partition_index,
                getattr(part, "current_leader_epoch", -1),
                any_replica=debugging,
            )
            unsupported = (
                (part.timestamp == MAX_TIMESTAMP and request.api_version < 7)
                or (part.timestamp == EARLIEST_LOCAL and request.api_version < 8)
                or part.timestamp < EARLIEST_LOCAL  # sentinels of later versions (-5: v9)
            )
            if replica is not None and unsupported:
                entry["error_code"] = ErrorCode.unsupported_version
            elif replica is not None:
                entry["offset"], entry["timestamp"] = _lookup(replica, part.timestamp, as_replica)
                # No offset found: no epoch either, as Kafka answers.
                entry["leader_epoch"] = replica.leader_epoch if entry["offset"] >= 0 else -1
            results.append(entry)
        topics.append({"name": topic.name, "partitions": results})
    return {"throttle_time": 0, "topics": topics}
