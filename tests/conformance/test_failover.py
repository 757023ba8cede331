"""A broker dies and comes back, on real Kafka and on the bundled cluster: leaders, ISRs and
offline replicas while it is gone, min.insync.replicas with acks=all, and the cluster after its
return. Each backend gets a private cluster here (these scenarios break it), with topic
auto-creation off.

Timings are made comparable: the jvm cluster runs with `fast_failover` (a dead broker is fenced
after 3 s; the bundled cluster's lesson default is 2 s) and with the bundled cluster's
`leader.imbalance.check.interval.seconds` of 5 (docs/differences.md lists it), so both move
leadership back to the preferred replica within seconds of its return.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from .kit import (
    BACKENDS,
    BUNDLED_BREAKABLE_CONFIGS,
    ELR,
    JVM_BREAKABLE_CONFIGS,
    LATEST,
    LEADER_NOT_AVAILABLE,
    NONE,
    NOT_ENOUGH_REPLICAS,
    NOT_LEADER_OR_FOLLOWER,
    UNKNOWN_TOPIC_OR_PARTITION,
    Rec,
    Target,
    dispose,
    expect,
    fetch_v16,
    unique,
    wait_for,
)

pytestmark = pytest.mark.oracle

FENCED_LEADER_EPOCH = 74

VICTIM = 2


@pytest.fixture(scope="module", params=BACKENDS)
def breakable(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "jvm":
        clusters = request.getfixturevalue("jvm_clusters")
        backend = clusters.get("breakable", JVM_BREAKABLE_CONFIGS, fast_failover=True)
    else:
        request.getfixturevalue("kafka_jars")  # nothing to compare with without the oracle
        factory = request.getfixturevalue("bundled_cluster_factory")
        backend = factory(configs=BUNDLED_BREAKABLE_CONFIGS, fresh=True)
    target = Target(request.param, backend)
    yield target
    target.close()
    dispose(backend)


@pytest.fixture(scope="module")
def outage(breakable: Target) -> Iterator[dict[str, Any]]:
    """Topics with data on every broker, then broker 2 killed and the failover awaited."""
    t = breakable
    topics = {
        "spread": t.create_topic(
            unique("spread"), assignments={0: [2, 1, 3], 1: [1, 2, 3], 2: [3, 2, 1]}
        ),
        "solo": t.create_topic(unique("solo"), assignments={0: [2]}),
        "strict": t.create_topic(
            unique("strict"), assignments={0: [1, 2, 3]}, configs={"min.insync.replicas": "3"}
        ),
        "relaxed": t.create_topic(
            unique("relaxed"), assignments={0: [1, 2, 3]}, configs={"min.insync.replicas": "2"}
        ),
    }
    for i in range(3):
        assert t.produce(topics["spread"], 0, [Rec(f"before-{i}".encode())])["error_code"] == NONE
    assert t.produce(topics["solo"], 0, [Rec(b"solo")])["error_code"] == NONE
    before = t.partitions(topics["spread"])

    t0 = time.monotonic()
    t.backend.kill(VICTIM)

    def failed_over() -> bool:
        spread = t.partitions(topics["spread"])
        return (
            all(VICTIM not in p["isr"] and p["leader"] not in (-1, VICTIM) for p in spread.values())
            and t.partitions(topics["solo"])[0]["leader"] == -1
        )

    wait_for(failed_over, 30, f"{t}: failover away from broker {VICTIM}", interval=0.1)
    # No healing afterwards: test_broker_returns ends the outage, and the cluster is disposed.
    yield {"topics": topics, "before": before, "failover_seconds": time.monotonic() - t0}


def test_auto_create_off(breakable: Target) -> None:
    name = unique("nope")
    first = breakable.metadata([name], auto_create=True)["topics"][0]
    assert first["error_code"] == UNKNOWN_TOPIC_OR_PARTITION
    time.sleep(1)
    assert breakable.topic(name)["error_code"] == UNKNOWN_TOPIC_OR_PARTITION
    answer = breakable.produce(name, 0, [Rec(b"x")], node_id=1)
    assert answer["error_code"] == UNKNOWN_TOPIC_OR_PARTITION


def test_dead_broker_leaves_the_metadata(breakable: Target, outage: dict) -> None:
    assert outage["failover_seconds"] < 15
    for node_id in breakable.addresses():
        md = breakable.metadata([], node_id=node_id)
        assert sorted(b["node_id"] for b in md["brokers"]) == [1, 3]
        described = breakable.call(
            "DescribeCluster",
            node_id,
            include_cluster_authorized_operations=False,
            endpoint_type=1,
        )
        assert sorted(b["broker_id"] for b in described["brokers"]) == [1, 3]


def test_leadership_moves_to_the_next_in_sync_replica(breakable: Target, outage: dict) -> None:
    spread = breakable.partitions(outage["topics"]["spread"])
    assert {
        i: (p["leader"], sorted(p["isr"]), p["offline"], p["error"]) for i, p in spread.items()
    } == {
        0: (1, [1, 3], [VICTIM], NONE),  # replicas [2, 1, 3]: 1 is next
        1: (1, [1, 3], [VICTIM], NONE),
        2: (3, [1, 3], [VICTIM], NONE),
    }
    assert [p["replicas"] for p in spread.values()] == [[2, 1, 3], [1, 2, 3], [3, 2, 1]]
    # The ISR keeps the replicas' order.
    assert [p["isr"] for p in spread.values()] == [[1, 3], [1, 3], [3, 1]]
    before = outage["before"]
    assert spread[0]["epoch"] > before[0]["epoch"]  # a new leader, a new epoch


def test_fetch_with_the_old_epoch_names_the_new_leader(breakable: Target, outage: dict) -> None:
    """KIP-951: a Fetch v16 with the leader epoch from before the failover is fenced, and the
    answer names the new leader and its endpoint."""
    spread = outage["topics"]["spread"]
    now = breakable.partitions(spread)[0]
    answer = fetch_v16(breakable, spread, now["leader"], outage["before"][0]["epoch"])
    ((p,),) = [t["partitions"] for t in answer["responses"]]
    assert p["error_code"] == FENCED_LEADER_EPOCH
    assert p["current_leader"] == {"leader_id": now["leader"], "leader_epoch": now["epoch"]}
    assert [n["node_id"] for n in answer["node_endpoints"]] == [now["leader"]]


def test_leaderless_partition(breakable: Target, outage: dict) -> None:
    solo = outage["topics"]["solo"]
    (part,) = breakable.topic(solo)["partitions"]
    assert (part["error_code"], part["leader_id"], part["replica_nodes"]) == (
        LEADER_NOT_AVAILABLE,
        -1,
        [VICTIM],
    )
    assert part["offline_replicas"] == [VICTIM]
    assert part["isr_nodes"] == expect(breakable, [], [VICTIM], ELR)
    for node_id in breakable.addresses():
        assert breakable.produce(solo, 0, [Rec(b"x")], node_id=node_id)["error_code"] == (
            NOT_LEADER_OR_FOLLOWER
        )
        answer = breakable.list_offsets(solo, 0, LATEST, node_id=node_id)
        assert answer["error_code"] == NOT_LEADER_OR_FOLLOWER


def test_acknowledged_records_survive(breakable: Target, outage: dict) -> None:
    spread = outage["topics"]["spread"]
    wanted = [(i, f"before-{i}".encode()) for i in range(3)]

    def readable() -> list:
        # A new leader's high watermark catches up once its followers fetch from it.
        got = [(r.offset, r.value) for r in breakable.fetch(spread, 0, 0)["records"]]
        return got if got == wanted else []

    wait_for(readable, 15, f"{breakable}: acknowledged records from the new leader")
    answer = breakable.produce(spread, 0, [Rec(b"during")])
    assert (answer["error_code"], answer["base_offset"]) == (NONE, 3)


def test_min_insync_replicas_with_a_broker_down(breakable: Target, outage: dict) -> None:
    strict, relaxed = outage["topics"]["strict"], outage["topics"]["relaxed"]
    refused = breakable.produce(strict, 0, [Rec(b"all")])
    assert (refused["error_code"], refused["base_offset"]) == (NOT_ENOUGH_REPLICAS, -1)
    assert breakable.list_offsets(strict, 0, LATEST)["offset"] == 0
    one = breakable.produce(strict, 0, [Rec(b"one")], acks=1)
    assert (one["error_code"], one["base_offset"]) == (NONE, 0)
    ok = breakable.produce(relaxed, 0, [Rec(b"all")])
    assert (ok["error_code"], ok["base_offset"]) == (NONE, 0)


def test_broker_returns(breakable: Target, outage: dict) -> None:
    """Last in this module: it ends the outage."""
    topics = outage["topics"]
    t0 = time.monotonic()
    breakable.backend.start(VICTIM)

    def rejoined() -> bool:
        md = breakable.metadata([])
        parts = [p for name in topics.values() for p in breakable.partitions(name).values()]
        return sorted(b["node_id"] for b in md["brokers"]) == [1, 2, 3] and all(
            sorted(p["isr"]) == sorted(p["replicas"]) and not p["offline"] and p["leader"] >= 0
            for p in parts
        )

    wait_for(rejoined, 60, f"{breakable}: broker {VICTIM} back in every ISR", interval=0.2)
    solo = breakable.partitions(topics["solo"])[0]
    assert (solo["leader"], solo["isr"], solo["error"]) == (VICTIM, [VICTIM], NONE)

    def preferred() -> bool:
        spread = breakable.partitions(topics["spread"])
        return all(p["leader"] == p["replicas"][0] for p in spread.values())

    wait_for(preferred, 30, f"{breakable}: preferred leaders back", interval=0.2)
    assert time.monotonic() - t0 < 90
    # The returned leader has what was written while it was away.
    wanted = [b"before-0", b"before-1", b"before-2", b"during"]

    def caught_up() -> list:
        got = [r.value for r in breakable.fetch(topics["spread"], 0, 0, node_id=VICTIM)["records"]]
        return got if got == wanted else []

    wait_for(caught_up, 15, f"{breakable}: broker {VICTIM} leads with every record")
    back = breakable.produce(topics["strict"], 0, [Rec(b"all again")])
    assert (back["error_code"], back["base_offset"]) == (NONE, 1)
    assert breakable.produce(topics["solo"], 0, [Rec(b"again")])["base_offset"] == 1
