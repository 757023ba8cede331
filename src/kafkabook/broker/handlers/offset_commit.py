"""OffsetCommit (key 8): v2-10.

Behavior: stores a group's consumed positions as records of ``__consumer_offsets`` and answers
once the ISR has them. Members of a group commit with their member id and generation
(ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID otherwise; REBALANCE_IN_PROGRESS
while the assignment is settled) and the commit keeps their session alive; with generation -1
anyone may commit for an Empty (or new, "simple") group. Unknown topics or partitions answer
UNKNOWN_TOPIC_OR_PARTITION, metadata longer than offset.metadata.max.bytes
OFFSET_METADATA_TOO_LARGE. A failed write answers COORDINATOR_NOT_AVAILABLE or NOT_COORDINATOR.
Version notes: v2-4's retention time is stored as the record's expire timestamp (offsets never
expire yet: docs/differences.md); from v9 a commit with a generation for an unknown group
answers GROUP_ID_NOT_FOUND (ILLEGAL_GENERATION before); v10 names topics by id
(UNKNOWN_TOPIC_ID).
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..groups.coordinator import CommitPartition, CommitRequest, coordinator_of
from ..groups.wire import millis, topic_name_of
from . import api


@api(8, "OffsetCommit", 2, 10)
async def handle(broker, request):
    body = request.body
    version = request.api_version
    uses_ids = version >= 10
    # (response key, partition index, error or None while still to commit)
    rows: list[tuple[object, int, ErrorCode | None, str | None]] = []
    to_commit: list[CommitPartition] = []
    for topic in body.topics:
        key = topic.topic_id if uses_ids else topic.name
        name = topic_name_of(broker, topic.topic_id) if uses_ids else topic.name
        image = broker.image.topics.get(name) if name is not None else None
        for p in topic.partitions:
            if image is None:
                error = (
                    ErrorCode.unknown_topic_id if uses_ids else ErrorCode.unknown_topic_or_partition
                )
                rows.append((key, p.partition_index, error, name))
            elif p.partition_index not in image.partitions:
                rows.append((key, p.partition_index, ErrorCode.unknown_topic_or_partition, name))
            else:
                rows.append((key, p.partition_index, None, name))
                to_commit.append(
                    CommitPartition(
                        name,
                        p.partition_index,
                        p.committed_offset,
                        getattr(p, "committed_leader_epoch", -1),
                        p.committed_metadata,
                    )
                )
    results = {}
    if to_commit:
        retention = millis(body.retention_time) if hasattr(body, "retention_time") else -1
        results = await coordinator_of(broker).commit_offsets(
            CommitRequest(
                group_id=body.group_id,
                generation_id=body.generation_id_or_member_epoch,
                member_id=body.member_id,
                group_instance_id=getattr(body, "group_instance_id", None),
                retention_ms=retention,
                partitions=tuple(to_commit),
                version=version,
            )
        )
    topics: dict[object, list[dict]] = {}
    for key, index, error, name in rows:
        if error is None:
            error = results.get((name, index), ErrorCode.unknown_server_error)
        topics.setdefault(key, []).append({"partition_index": index, "error_code": error})
    field = "topic_id" if uses_ids else "name"
    return {
        "throttle_time": 0,
        "topics": [{field: key, "partitions": parts} for key, parts in topics.items()],
    }
