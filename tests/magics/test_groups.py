"""``%kafka groups`` and ``%consume --group`` against the bundled cluster.

They need the group coordinator APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups). While the bundled broker
does not serve them yet, these tests skip, naming the API that is missing.
"""

from __future__ import annotations

import pytest

from kafkabook.api.errors import KafkabookError

GROUP_APIS = {
    10: "FindCoordinator",
    11: "JoinGroup",
    14: "SyncGroup",
    12: "Heartbeat",
    8: "OffsetCommit",
    9: "OffsetFetch",
    16: "ListGroups",
    15: "DescribeGroups",
    42: "DeleteGroups",
}


@pytest.fixture
def group_cluster(kb_cluster, isolated_session):
    async def versions():
        client = await isolated_session.client()
        node = client.get_random_node()
        await client.ready(node)
        return set(client._conns[(node, 0)]._versions)

    have = isolated_session.run(versions())
    missing = [name for key, name in GROUP_APIS.items() if key not in have]
    if missing:
        pytest.skip(f"the bundled broker does not serve {', '.join(missing)} yet")
    return kb_cluster


def kafka(ip, line):
    return ip.run_line_magic("kafka", line)


def test_group_lifecycle(ip, group_cluster, unique):
    topic, group = unique("gt"), unique("g")
    kafka(ip, f"topics --create --topic {topic} --partitions 2")
    ip.run_cell_magic("produce", topic, "\n".join(f"m{i}" for i in range(6)))
    read = ip.run_line_magic(
        "consume", f"{topic} --group {group} --from-beginning --max-messages 4"
    )
    assert len(read) == 4
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
    assert described.lag == 2
    plan = kafka(ip, f"groups --reset-offsets --group {group} --topic {topic} --to-earliest")
    assert "dry run" in repr(plan) and set(plan.offsets.values()) == {0}
    assert kafka(ip, f"groups --describe --group {group}").lag == 2  # nothing changed
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


def test_unknown_group(ip, group_cluster):
    with pytest.raises(KafkabookError, match="consumer group 'never-seen' does not exist"):
        kafka(ip, "groups --describe --group never-seen")
