"""OffsetFetch (key 9): v1-10.

Behavior: the committed offsets of a group, from the coordinator's table of offsets that the
ISR holds: the requested partitions (offset -1 and metadata "" where nothing is committed) or,
with a null topic list (v2+), every partition the group committed. From v8 one request asks
about several groups, each answered (and failing) on its own.
Version notes: v1 reports a coordinator error on every partition, v2-7 at the top level, v8+
per group. v5+ returns the committed leader epoch. v9's member id and epoch are for KIP-848
consumer groups and ignored for classic groups, as Kafka does. v10 names topics by id.
require_stable (v7+) has nothing to wait for until transactional commits exist.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..groups.coordinator import coordinator_of
from ..groups.wire import topic_id_of, topic_name_of
from . import api


def _partition(index: int, committed, error: ErrorCode = ErrorCode.none) -> dict:
    if committed is None:
        return {
            "partition_index": index,
            "committed_offset": -1,
            "committed_leader_epoch": -1,
            "metadata": "",
            "error_code": error,
        }
    return {
        "partition_index": index,
        "committed_offset": committed.offset,
        "committed_leader_epoch": committed.leader_epoch,
        "metadata": committed.metadata,
        "error_code": error,
    }


def fetch_group(broker, group_id: str, topics, uses_ids: bool) -> tuple[ErrorCode, list[dict]]:
    """(group error, topics) for one group of the request."""
    wanted = None
    unknown_ids: list[dict] = []
    if topics is not None:
        wanted = []
        for t in topics:
            if uses_ids:
                name = topic_name_of(broker, t.topic_id)
                if name is None:
                    unknown_ids.append(
                        {
                            "topic_id": t.topic_id,
                            "partitions": [
                                _partition(p, None, ErrorCode.unknown_topic_id)
                                for p in t.partition_indexes
                            ],
                        }
                    )
                    continue
            else:
                name = t.name
            wanted.append((name, list(t.partition_indexes)))
    error, found = coordinator_of(broker).fetch_offsets(group_id, wanted)
    if error != ErrorCode.none:
        return error, []
    out = []
    for name, partitions in found:
        entry = {"name": name, "partitions": [_partition(p, c) for p, c in partitions]}
        if uses_ids:
            topic_id = topic_id_of(broker, name)
            if topic_id is None:
                continue  # offsets of a deleted topic cannot be named by id
            entry["topic_id"] = topic_id
        out.append(entry)
    return ErrorCode.none, out + unknown_ids


@api(9, "OffsetFetch", 1, 10)
async def handle(broker, request):
    body = request.body
    version = request.api_version
    uses_ids = version >= 10
    if version >= 8:
        groups = []
        for g in body.groups:
            error, topics = fetch_group(broker, g.group_id, g.topics, uses_ids)
            groups.append({"group_id": g.group_id, "topics": topics, "error_code": error})
        return {"throttle_time": 0, "groups": groups}
    error, topics = fetch_group(broker, body.group_id, body.topics, False)
    if error != ErrorCode.none and version < 2:
        # v1 has no group-level error: every requested partition carries it.
        topics = [
            {
                "name": t.name,
                "partitions": [_partition(p, None, error) for p in t.partition_indexes],
            }
            for t in body.topics
        ]
    return {"throttle_time": 0, "topics": topics, "error_code": error}
