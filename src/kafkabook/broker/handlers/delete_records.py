"""DeleteRecords (key 21): v0-2.

Behavior: moves a partition's log start offset forward on the leader (offset -1 means the high
watermark); OFFSET_OUT_OF_RANGE past the high watermark. Followers follow the leader's log start
offset through their fetches. Answers with the new low watermark.
Version notes: Kafka waits until every replica has moved its log start; the bundled leader
answers as soon as it has (docs/differences.md).
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from . import api


@api(21, "DeleteRecords", 0, 2)
async def handle(broker, request):
    topics = []
    for topic in request.body.topics:
        results = []
        for part in topic.partitions:
            entry = {
                "partition_index": part.partition_index,
                "low_watermark": -1,
                "error_code": ErrorCode.none,
            }
            replica, entry["error_code"] = broker.leader_replica(topic.name, part.partition_index)
            if replica is not None:
                offset = replica.high_watermark if part.offset == -1 else part.offset
                if offset < 0 or offset > replica.high_watermark:
                    entry["error_code"] = ErrorCode.offset_out_of_range
                else:
                    if offset > replica.log_start_offset:
                        replica.log.delete_records_before(offset)
                        replica.state_changed()
                    entry["low_watermark"] = replica.log_start_offset
            results.append(entry)
        topics.append({"name": topic.name, "partitions": results})
    return {"throttle_time": 0, "topics": topics}
