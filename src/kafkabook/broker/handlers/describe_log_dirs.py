"""DescribeLogDirs (key 35): v1-4.

Behavior: this broker's one log directory, with the size of each hosted replica and its offset
lag (how far the replica's log end is behind its leader's high watermark as this broker knows it:
0 on leaders). A null topic list means every replica.
Version notes: v4 adds the directory's total and usable bytes (from the file system).
"""

from __future__ import annotations

import shutil

from ...protocol.errors import ErrorCode
from . import api


@api(35, "DescribeLogDirs", 1, 4)
async def handle(broker, request):
    wanted = None
    if request.body.topics is not None:
        wanted = {(t.topic, p) for t in request.body.topics for p in t.partitions}
    by_topic: dict[str, list[dict]] = {}
    for (topic, index), replica in sorted(broker.replicas.items()):
        if wanted is not None and (topic, index) not in wanted:
            continue
        lag = 0 if replica.is_leader else max(0, replica.high_watermark - replica.log_end_offset)
        by_topic.setdefault(topic, []).append(
            {
                "partition_index": index,
                "partition_size": replica.log.size_bytes,
                "offset_lag": lag,
                "is_future_key": False,
            }
        )
    usage = shutil.disk_usage(broker.data_dir)
    return {
        "throttle_time": 0,
        "error_code": ErrorCode.none,
        "results": [
            {
                "error_code": ErrorCode.none,
                "log_dir": str(broker.data_dir.resolve()),
                "topics": [{"name": t, "partitions": p} for t, p in by_topic.items()],
                "total_bytes": usage.total,
                "usable_bytes": usage.free,
            }
        ],
    }
