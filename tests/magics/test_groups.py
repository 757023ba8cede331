"""``%kafka groups`` and ``%consume --group`` against the bundled cluster.

They go through the group coordinator APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups).
"""

from __future__ import annotations

from collections import Counter

import pytest

from kafkabook.api.errors import KafkabookError


def kafka(ip, line):
    return ip.run_line_magic("kafka", line)


def test_group_lifecycle(ip, kb_cluster, unique):
    topic, group = unique("gt"), unique("g")
    kafka(ip, f"topics --create --topic {topic} --partitions 2")
    sent = ip.run_cell_magic("produce", topic, "\n".join(f"m{i}" for i in range(6)))
    read = ip.run_line_magic(
        "consume", f"{topic} --group {group} --from-beginning --max-messages 4"
    )
    assert len(read) == 4
    # The group commits its position in each partition it has one for: what it read there.
    # Which partitions the 4 records came from, and whether a partition it read nothing from
    # has a position yet, depends on the order the fetches answered.
    ends = Counter(p for p, _ in sent.offsets)
    read_from = Counter(r.partition for r in read)
    assert group in kafka(ip, "groups --list")
    described = kafka(ip, f"groups --describe --group {group}")
    text = repr(described)
    assert f"Consumer group '{group}' has no active members." in text
    assert text.splitlines()[1].split() == [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]
    rows = {r[2]: r[3:6] for r in described.rows}
    assert set(read_from) <= set(rows), repr(described)
    assert rows == {p: (read_from[p], ends[p], ends[p] - read_from[p]) for p in rows}
    assert described.lag == sum(lag for _, _, lag in rows.values())
    plan = kafka(ip, f"groups --reset-offsets --group {group} --topic {topic} --to-earliest")
    assert "dry run" in repr(plan) and set(plan.offsets.values()) == {0}
    assert kafka(ip, f"groups --describe --group {group}").lag == described.lag  # unchanged
    kafka(ip, f"groups --reset-offsets --group {group} --topic {topic} --to-earliest --execute")
    assert kafka(ip, f"groups --describe --group {group}").lag == 6
    shifted = kafka(
        ip, f"groups --reset-offsets --group {group} --topic {topic}:0 --shift-by 100 --execute"
    )
    assert list(shifted.offsets) == [(topic, 0)]
    again = ip.run_line_magic("consume", f"{topic} --group {group} --timeout 2")
    assert len(again) == 6 - sum(shifted.offsets.values())
    deleted = kafka(ip, f"groups --delete --group {group}")
    assert repr(deleted) == f"Deletion of requested consumer groups ('{group}') was successful."
    with pytest.raises(KafkabookError, match=f"consumer group '{group}' does not exist"):
        kafka(ip, f"groups --delete --group {group}")


def test_unknown_group(ip, kb_cluster):
    with pytest.raises(KafkabookError, match="consumer group 'never-seen' does not exist"):
        kafka(ip, "groups --describe --group never-seen")
