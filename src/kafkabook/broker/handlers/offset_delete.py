"""OffsetDelete (key 47): v0.

Behavior: deletes a group's committed offsets for some partitions (KIP-496) by writing
tombstones. Allowed for Empty groups, and for consumer groups with members on topics they do not
subscribe to; a subscribed topic's partitions answer GROUP_SUBSCRIBED_TO_TOPIC. A non-consumer
group with members answers NON_EMPTY_GROUP, an unknown group GROUP_ID_NOT_FOUND, unknown topics
or partitions UNKNOWN_TOPIC_OR_PARTITION.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..groups.coordinator import coordinator_of
from . import api


@api(47, "OffsetDelete", 0, 0)
async def handle(broker, request):
    body = request.body
    wanted = []
    unknown: dict[str, list[int]] = {}
    for topic in body.topics:
        image = broker.image.topics.get(topic.name)
        known = [
            p.partition_index
            for p in topic.partitions
            if image is not None and p.partition_index in image.partitions
        ]
        missing = [p.partition_index for p in topic.partitions if p.partition_index not in known]
        if known:
            wanted.append((topic.name, known))
        if missing:
            unknown[topic.name] = missing
    error, answered = await coordinator_of(broker).delete_offsets(body.group_id, wanted)
    if error != ErrorCode.none:
        return {"error_code": error, "throttle_time": 0, "topics": []}
    by_topic: dict[str, list[dict]] = {}
    for name, partitions in answered:
        by_topic.setdefault(name, []).extend(
            {"partition_index": p, "error_code": e} for p, e in partitions
        )
    for name, partitions in unknown.items():
        by_topic.setdefault(name, []).extend(
            {"partition_index": p, "error_code": ErrorCode.unknown_topic_or_partition}
            for p in partitions
        )
    return {
        "error_code": ErrorCode.none,
        "throttle_time": 0,
        "topics": [{"name": n, "partitions": parts} for n, parts in by_topic.items()],
    }
