"""View models: pure functions of snapshots, tested on hand-made snapshots (no cluster)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kafkabook.viz.models import (
    Event,
    broker_state,
    cluster_events,
    cluster_view,
    extend_lag_history,
    group_events,
    groups_view,
    hashing_view,
    lag,
    offsets_view,
    replica_state,
)
from kafkabook.viz.palette import IN_SYNC, LEADER, OFFLINE, OUT_OF_SYNC, REPLICA_STATES
from kafkabook.viz.partitioner import java_partition
from kafkabook.viz.snapshot import (
    Broker,
    Committed,
    Group,
    Member,
    Partition,
    ReplicaLog,
    Snapshot,
    Topic,
)


def brokers(*ids, process="running", down=()):
    return tuple(
        Broker(i, "127.0.0.1", 9090 + i, registered=i not in down, process=process) for i in ids
    )


def snapshot(partitions, at=100.0, broker_list=None, controller=0, epoch=1, groups=()):
    topics = {}
    for p in partitions:
        topics.setdefault(p.topic, []).append(p)
    return Snapshot(
        taken_at=at,
        cluster_id="c",
        controller=controller,
        controller_epoch=epoch,
        brokers=broker_list if broker_list is not None else brokers(1, 2, 3),
        controllers=(Broker(0, role="controller", process="running"),),
        topics=tuple(Topic(n, None, False, tuple(ps)) for n, ps in sorted(topics.items())),
        groups=tuple(groups),
    )


def part(index, leader, replicas, isr, topic="orders", offline=(), epoch=0, **kw):
    return Partition(topic, index, leader, epoch, tuple(replicas), tuple(isr), tuple(offline), **kw)


# -- replica and broker states --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("broker", "registered", "expected"),
    [
        (1, {1, 2, 3}, LEADER),
        (2, {1, 2, 3}, IN_SYNC),
        (3, {1, 2, 3}, OUT_OF_SYNC),
        (3, {1, 2}, OFFLINE),  # not in Metadata's brokers: dead or fenced
        (4, {1, 2, 3, 4}, OFFLINE),  # listed as an offline replica
    ],
)
def test_replica_state(broker, registered, expected) -> None:
    p = part(0, 1, (1, 2, 3, 4), (1, 2), offline=(4,))
    assert replica_state(p, broker, registered) == expected


def test_a_leader_on_a_fenced_broker_is_offline() -> None:
    # The partition still names 2 as leader in a stale answer, but 2 is not registered.
    assert replica_state(part(0, 2, (2, 1), (2, 1)), 2, {1}) == OFFLINE


@pytest.mark.parametrize(
    ("process", "registered", "expected"),
    [
        ("running", True, "alive"),
        ("paused", True, "paused"),
        ("killed", True, "killed"),  # the process is gone even if the cluster lags behind
        ("stopped", False, "stopped"),
        ("running", False, "fenced"),
        (None, True, "alive"),  # external cluster: only the protocol's word
        (None, False, "offline"),
    ],
)
def test_broker_state(process, registered, expected) -> None:
    assert broker_state(process, registered) == expected


# -- the cluster grid -----------------------------------------------------------------------------


def test_cluster_view_cells_and_counts() -> None:
    logs = (ReplicaLog(2, log_end_offset=11, size_bytes=500, offset_lag=0),)
    snap = snapshot(
        [
            part(0, 2, (1, 2, 3), (2, 3), high_watermark=10, log_start=1, logs=logs),
            part(1, 3, (3, 1), (3, 1)),
        ],
        broker_list=(
            Broker(1, "h", 1, registered=False, process="killed"),
            Broker(2, "h", 2, registered=True, process="running"),
            Broker(3, "h", 3, registered=True, process="killed"),
        ),
        controller=2,
    )
    view = cluster_view(snap)
    assert [c.node_id for c in view.columns] == [1, 2, 3]
    assert [c.state for c in view.columns] == ["killed", "alive", "killed"]
    assert [c.is_controller for c in view.columns] == [False, True, False]
    row0 = view.row("orders", 0)
    c1, c2, c3 = row0.cells
    assert (c1.state, c1.preferred) == (OFFLINE, True)  # the preferred leader is offline
    assert (c2.state, c2.log_end_offset, c2.high_watermark, c2.size_bytes) == (LEADER, 11, 10, 500)
    assert c3.state == IN_SYNC and c3.high_watermark is None
    # 3's process is dead but the cluster still counts it: drawn as stale, not as offline.
    assert c3.stale and not c2.stale and not c1.stale
    assert not row0.leader_is_preferred and row0.under_replicated
    row1 = view.row("orders", 1)
    assert row1.cells[1] is None  # broker 2 holds no replica of partition 1
    assert view.under_replicated == 1 and view.offline_partitions == 0
    counts = {(b, s): n for b, s, n in view.counts()}
    assert len(counts) == 3 * len(REPLICA_STATES)
    assert counts[(2, LEADER)] == 1 and counts[(3, LEADER)] == 1
    assert counts[(1, OFFLINE)] == 2 and counts[(3, IN_SYNC)] == 1
    assert sum(counts.values()) == 5
    assert [c.leaders for c in view.columns] == [0, 1, 1]


def test_cluster_view_of_a_partition_without_leader() -> None:
    snap = snapshot([part(0, -1, (1,), (1,), offline=(1,))], broker_list=brokers(1, down=(1,)))
    view = cluster_view(snap)
    assert view.offline_partitions == 1
    assert view.rows[0].cells[0].state == OFFLINE


# -- offsets and lag ------------------------------------------------------------------------------


def test_lag_is_high_watermark_minus_committed() -> None:
    assert lag(100, 40) == 60
    assert lag(100, None) is None
    assert lag(None, 3) is None
    assert lag(5, 9) == 0


def test_offsets_view_per_partition_and_group() -> None:
    g1 = Group(
        "g1",
        "Stable",
        committed=(Committed("orders", 0, 4), Committed("orders", 1, 10)),
    )
    g2 = Group(
        "g2",
        "Stable",
        members=(Member("m", "c", "h", assignment=(("orders", 1),)),),
    )
    other = Group("elsewhere", "Empty", committed=(Committed("audit", 0, 1),))
    snap = snapshot(
        [
            part(0, 1, (1,), (1,), log_start=2, high_watermark=10),
            part(1, 1, (1,), (1,), log_start=0, high_watermark=10),
            part(0, 1, (1,), (1,), topic="audit", high_watermark=3),
        ],
        groups=[g1, g2, other],
    )
    view = offsets_view(snap, topics=["orders"])
    assert view.groups == ("g1", "g2")  # "elsewhere" has nothing on orders
    assert [(r.name, r.log_start, r.high_watermark) for r in view.rows] == [
        ("orders-0", 2, 10),
        ("orders-1", 0, 10),
    ]
    assert [(g.group, g.committed, g.lag) for g in view.rows[0].groups] == [
        ("g1", 4, 6),
        ("g2", None, None),
    ]
    assert view.total_lag("g1") == 6 + 0
    assert view.total_lag("g2") is None
    # A partition with a committed offset but no high watermark (leader moving): unknown total.
    moving = offsets_view(
        snapshot(
            [
                part(0, 1, (1,), (1,), high_watermark=10),
                part(1, -1, (1,), (1,), offline=(1,)),
            ],
            groups=[g1],
        )
    )
    assert moving.rows[1].groups[0].lag is None and moving.total_lag("g1") is None
    named = offsets_view(snap, groups=["g1", "missing"])
    assert named.groups == ("g1", "missing")
    assert {r.topic for r in named.rows} == {"orders", "audit"}


def test_lag_history_keeps_a_window() -> None:
    g = Group("g", "Stable", committed=(Committed("orders", 0, 0),))
    history = ()
    for step in range(10):
        snap = snapshot(
            [part(0, 1, (1,), (1,), high_watermark=100 - step * 10)], at=step * 10.0, groups=[g]
        )
        history = extend_lag_history(history, offsets_view(snap), keep_seconds=35.0)
    assert [(p.at, p.lag) for p in history] == [(60.0, 40), (70.0, 30), (80.0, 20), (90.0, 10)]


# -- groups ---------------------------------------------------------------------------------------


def test_groups_view_and_rebalance_events() -> None:
    m1 = Member("m1", "c1", "/h", assignment=(("orders", 0), ("orders", 1)))
    m2 = Member("m2", "c2", "/h", assignment=())
    before = snapshot([], at=1.0, groups=[Group("g", "Stable", "consumer", "range", members=(m1,))])
    after = snapshot(
        [],
        at=2.0,
        groups=[
            Group(
                "g",
                "Stable",
                "consumer",
                "range",
                members=(
                    replace(m1, assignment=(("orders", 0),)),
                    replace(m2, assignment=(("orders", 1),)),
                ),
            ),
            Group("new", "Empty"),
        ],
    )
    rows = groups_view(after)
    assert [r.group_id for r in rows] == ["g", "new"]
    assert rows[0].members[1].assignment == ("orders-1",)
    assert groups_view(after, groups=["new"])[0].group_id == "new"
    events = group_events(before, after)
    kinds = sorted(e.kind for e in events)
    assert kinds == ["assignment", "group", "member joined"]
    assert all(e.at == 2.0 for e in events)
    moved = next(e for e in events if e.kind == "assignment")
    assert "orders-0, orders-1 → orders-0" in moved.text
    middle = snapshot([], at=1.5, groups=[Group("g", "PreparingRebalance", members=(m1,))])
    assert [e.kind for e in group_events(before, middle)] == ["rebalance"]
    assert sorted(e.kind for e in group_events(after, before)) == [
        "assignment",
        "group",
        "member left",
    ]
    assert group_events(None, after) == ()


# -- cluster events -------------------------------------------------------------------------------


def test_cluster_events_on_failover_and_recovery() -> None:
    p0 = part(0, 2, (2, 1, 3), (2, 1, 3), epoch=0)
    p1 = part(1, 1, (1, 3), (1, 3), epoch=0)
    healthy = snapshot([p0, p1], at=10.0)
    assert cluster_events(None, healthy) == ()
    assert cluster_events(healthy, replace(healthy, taken_at=11.0)) == ()

    killed = replace(
        healthy,
        taken_at=11.0,
        brokers=((*brokers(1, 3), Broker(2, "127.0.0.1", 9092, registered=True, process="killed"))),
    )
    events = cluster_events(healthy, killed)
    assert [(e.kind, e.subject) for e in events] == [("process", "broker 2")]

    failed_over = snapshot(
        [part(0, 1, (2, 1, 3), (1, 3), epoch=1, offline=(2,)), p1],
        at=13.0,
        broker_list=(*brokers(1, 3), Broker(2, process="killed")),
    )
    events = cluster_events(killed, failed_over)
    assert [(e.kind, e.subject) for e in events] == [
        ("broker down", "broker 2"),
        ("leader change", "orders-0"),
        ("ISR shrink", "orders-0"),
    ]
    assert events[1].text == "orders-0 leader 2 → 1 (epoch 1)"
    assert all(e.at == 13.0 for e in events)

    back = snapshot([part(0, 1, (2, 1, 3), (1, 3, 2), epoch=1), p1], at=20.0)
    events = cluster_events(failed_over, back)
    assert [(e.kind, e.subject) for e in events] == [
        ("process", "broker 2"),
        ("broker up", "broker 2"),
        ("ISR expand", "orders-0"),
    ]


def test_cluster_events_for_offline_partitions_and_controller_changes() -> None:
    before = snapshot([part(0, 3, (3,), (3,))], at=1.0, controller=0, epoch=1)
    after = snapshot([part(0, -1, (3,), (3,), offline=(3,))], at=2.0, controller=4, epoch=2)
    events = cluster_events(before, after)
    assert [e.kind for e in events] == ["controller change", "partition offline"]
    assert events[0].text == "controller 0 → 4 (epoch 2)"
    recovered = snapshot([part(0, 3, (3,), (3,))], at=3.0, controller=4, epoch=2)
    assert [e.text for e in cluster_events(after, recovered)] == [
        "orders-0 leader none → 3 (epoch 0)"
    ]


def test_event_is_a_value() -> None:
    assert Event(1.0, "x", "s", "t") == Event(1.0, "x", "s", "t")


# -- hashing --------------------------------------------------------------------------------------


def test_hashing_view_rows_moves_and_distribution() -> None:
    texts = ["user-1", "foobar", "<null>", "<empty>", "not-a-number"]
    view = hashing_view(texts, partitions=12, serializer="string", base=6)
    assert [r.placement.text for r in view.rows] == texts
    r = view.rows[0]
    assert r.placement.partition == java_partition(b"user-1", 12)
    assert r.base_partition == java_partition(b"user-1", 6)
    assert r.moved == (r.placement.partition != r.base_partition)
    null = view.rows[2]
    assert null.placement.null and not null.moved and null.base_partition is None
    assert sum(view.java_counts) == view.counted == 4  # null keys are not counted
    as_ints = hashing_view(["7", "x"], partitions=3, serializer="int")
    assert as_ints.rows[0].placement.key == b"\x00\x00\x00\x07"
    assert as_ints.rows[1].placement.error is not None
    assert as_ints.base == 3 and not any(row.moved for row in as_ints.rows)
    sample = [f"k{i}".encode() for i in range(600)]
    spread = hashing_view([], partitions=6, sample=sample, base=3)
    assert spread.counted == 600 and spread.sample_size == 600
    assert spread.sample_moved == sum(java_partition(k, 3) != java_partition(k, 6) for k in sample)
