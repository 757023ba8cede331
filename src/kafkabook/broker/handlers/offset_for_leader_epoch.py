"""OffsetForLeaderEpoch (key 23): v2-4.

Behavior: for the requested leader epoch, the largest epoch at or below it that the leader knows
and the offset where it ended (the next epoch's start, or the log end offset for the current
epoch). Followers use it to find a divergent tail after a leader change; consumers (KIP-320) to
validate their position. current_leader_epoch fences stale callers.
Version notes: v3+ carries replica_id (followers), which changes nothing here.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from . import api


@api(23, "OffsetForLeaderEpoch", 2, 4)
async def handle(broker, request):
    topics = []
    for topic in request.body.topics:
        results = []
        for part in topic.partitions:
            entry = {
                "error_code": ErrorCode.none,
                "partition": part.partition,
                "leader_epoch": -1,
                "end_offset": -1,
            }
            replica, entry["error_code"] = broker.leader_replica(
                topic.topic, part.partition, part.current_leader_epoch
            )
            if replica is not None:
                entry["leader_epoch"], entry["end_offset"] = replica.log.end_offset_for_epoch(
                    part.leader_epoch
                )
            results.append(entry)
        topics.append({"topic": topic.topic, "partitions": results})
    return {"throttle_time": 0, "topics": topics}
