"""What the checker reads from the running cluster: all through kafkabook's Kafka-protocol API.

Nothing here is cached or stored: every call asks the cluster, so an exercise's right answer is
whatever the cluster holds when the learner checks.
"""

from __future__ import annotations

from typing import Any

EARLIEST, LATEST = -2, -1


def partitions(topic: str) -> list[Any]:
    """The topic's partitions (leader, replicas, isr, leader_epoch) from Metadata."""
    import kafkabook as kb

    return list(kb.topics.describe(topic)[topic].partitions)


def partition(topic: str, index: int) -> Any:
    for p in partitions(topic):
        if p.partition == index:
            return p
    raise LookupError(f"topic {topic!r} has no partition {index}")


def offsets(topic: str, which: int = LATEST) -> dict[int, int]:
    """``{partition: offset}``: log end offsets (LATEST) or log start offsets (EARLIEST)."""
    from kafkabook.api.groups import list_offsets
    from kafkabook.api.session import run_api

    parts = [(topic, p.partition) for p in partitions(topic)]

    async def call(admin: Any) -> dict[tuple[str, int], int]:
        return await list_offsets(admin, parts, which)

    return {p: offset for (_, p), offset in run_api(call).items()}


def record_count(topic: str) -> int:
    """Records held by the topic (log end minus log start, summed over partitions).

    ListOffsets goes to each partition's leader; right after a broker restart the session's
    connection to it may not be usable yet, and then the records are counted by reading them.
    """
    try:
        ends, starts = offsets(topic, LATEST), offsets(topic, EARLIEST)
    except Exception:
        return len(records(topic))
    return sum(ends[p] - starts.get(p, 0) for p in ends)


def records(topic: str, partition: int | None = None) -> list[Any]:
    """Every record of the topic (or of one partition), read from the beginning."""
    import kafkabook as kb

    if partition is None:
        return list(kb.consume(topic, from_beginning=True, timeout=5))
    return list(kb.consume(topic, partition=partition, offset="earliest", timeout=5))


def record_at(topic: str, partition: int, offset: int) -> Any:
    import kafkabook as kb

    found = list(kb.consume(topic, partition=partition, offset=offset, max_messages=1, timeout=5))
    if not found or found[0].offset != offset:
        raise LookupError(f"{topic}-{partition} has no record at offset {offset}")
    return found[0]


def group(group_id: str) -> Any:
    """``kb.groups.describe(group_id)``: (group, topic, partition, current, end, lag, ...) rows."""
    import kafkabook as kb

    return kb.groups.describe(group_id)


def committed(group_id: str, topic: str) -> dict[int, int]:
    """The group's committed offsets on ``topic`` by partition (partitions without one left out)."""
    rows = group(group_id).rows
    return {r[2]: r[3] for r in rows if r[1] == topic and r[3] is not None}


def controller_quorum() -> Any:
    """The DescribeQuorum answer for ``__cluster_metadata`` partition 0 (KRaft's metadata log)."""
    from kafkabook.api.session import run_api

    async def call(admin: Any) -> Any:
        return await admin.send_any(
            55,
            topics=[{"topic_name": "__cluster_metadata", "partitions": [{"partition_index": 0}]}],
        )

    response = run_api(call)
    return response.topics[0].partitions[0]
