"""The API when brokers fail, against private bundled clusters (each test breaks its own).

* acks=all below min.insync.replicas fails within seconds naming NOT_ENOUGH_REPLICAS, and what
  was refused is not written later behind the error;
* a leader dying under acks=all is still retried until the new leader takes the record;
* admin calls right after a broker restart reconnect instead of failing on a client whose
  metadata predates the restart.
"""

from __future__ import annotations

import time

import pytest

import kafkabook as kb
from kafkabook.api.cluster import Cluster
from kafkabook.api.errors import KafkabookError
from kafkabook.api.sender import NOT_ENOUGH_REPLICAS_RETRY
from kafkabook.backends.bundled import BundledBackend


@pytest.fixture
def private_cluster(bundled_cluster_factory, isolated_session):
    """A fresh 3-broker cluster of this test alone, as the session's cluster."""
    backend = bundled_cluster_factory(brokers=3, fresh=True)
    isolated_session.use(Cluster(BundledBackend(data_dir=backend.data_dir)))
    yield backend
    isolated_session.close_clients()
    backend.down()


def wait_for(predicate, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def partition_0(topic):
    return kb.topics.describe(topic)[topic].partitions[0]


def test_acks_all_below_min_insync_replicas_fails_fast(private_cluster, unique, isolated_session):
    topic = unique("isr")
    kb.topics.create(topic, partitions=1, replication_factor=3, config={"min.insync.replicas": 2})
    kb.produce(topic, ["before"], acks="all")
    leader = partition_0(topic).leader
    followers = [r for r in partition_0(topic).replicas if r != leader]
    for follower in followers:
        kb.broker.kill(follower)
    wait_for(lambda: partition_0(topic).isr == (leader,), "the ISR to shrink to the leader")

    started = time.monotonic()
    with pytest.raises(KafkabookError) as info:
        kb.produce(topic, ["refused"], acks="all")
    elapsed = time.monotonic() - started
    # The broker refuses at once; the producer retries for NOT_ENOUGH_REPLICAS_RETRY seconds
    # (a follower coming back could still save the record), then one Metadata and one
    # DescribeConfigs say why. Not aiokafka's 30 s.
    assert elapsed < NOT_ENOUGH_REPLICAS_RETRY + 3.0, elapsed
    assert str(info.value) == (
        f"NOT_ENOUGH_REPLICAS: topic '{topic}' partition 0 has 1 in-sync replica but "
        f"min.insync.replicas=2 needs 2, so acks=all cannot be met: start broker "
        f"{followers[0]} with %kafka broker start {followers[0]}, or use --acks 1"
    )
    assert info.value._render_traceback_() == [f"error: {info.value}"]

    # An idempotent producer would retry it forever in aiokafka; it fails the same way.
    with pytest.raises(KafkabookError, match=r"^NOT_ENOUGH_REPLICAS: "):
        kb.produce(topic, ["refused too"], config={"enable.idempotence": "true"})
    assert kb.produce(topic, ["with acks=1"], acks=1).offsets == [(0, 1)]

    # With one follower back the ISR meets min.insync.replicas again: the same idempotent
    # settings work (a fresh producer, not one whose sequence numbers ran ahead of the log).
    kb.broker.start(followers[0])
    wait_for(lambda: len(partition_0(topic).isr) == 2, "the follower to rejoin the ISR")
    assert kb.produce(topic, ["after"], config={"enable.idempotence": "true"}).offsets == [(0, 2)]
    # Nothing refused was written behind the error.
    assert kb.consume(topic, from_beginning=True).values == ["before", "with acks=1", "after"]


def test_a_replication_factor_below_min_insync_replicas_is_named(
    private_cluster, unique, isolated_session
):
    topic = unique("rf1")
    kb.topics.create(topic, partitions=1, replication_factor=1, config={"min.insync.replicas": 2})
    with pytest.raises(KafkabookError) as info:
        kb.produce(topic, ["x"])  # acks=all is the default
    assert str(info.value) == (
        f"NOT_ENOUGH_REPLICAS: topic '{topic}' partition 0 has 1 replica but "
        "min.insync.replicas=2, so acks=all can never be met: lower it with %kafka configs "
        f"--alter --entity-type topics --entity-name {topic} --add-config "
        "min.insync.replicas=1, or use --acks 1"
    )


def test_a_leader_dying_under_acks_all_is_still_retried(private_cluster, unique):
    topic = unique("failover")
    kb.topics.create(topic, partitions=1, replication_factor=3, config={"min.insync.replicas": 2})
    kb.produce(topic, ["first"], acks="all")
    leader = partition_0(topic).leader
    kb.broker.kill(leader)
    # Sent while the partition has no live leader: aiokafka retries until the controller has
    # moved leadership to a follower, which still leaves 2 in-sync replicas.
    sent = kb.produce(topic, ["during failover"], acks="all")
    assert sent.offsets == [(0, 1)]
    assert partition_0(topic).leader != leader
    assert kb.consume(topic, from_beginning=True).values == ["first", "during failover"]


def test_admin_calls_reconnect_after_a_broker_restart(private_cluster, unique, isolated_session):
    topic = unique("restart")
    kb.topics.create(topic, partitions=3, replication_factor=3)
    # Metadata names the lowest live broker as controller: admin writes go to broker 1.
    kb.broker.kill(1)
    # Killed but not yet fenced, broker 1 may still be named: the write goes elsewhere.
    assert kb.topics.create(unique("while-down"), partitions=1).details["created"]

    async def brokers():
        admin = await isolated_session.admin()
        await admin.refresh()  # aiokafka now knows the cluster without broker 1
        return sorted(b.nodeId for b in admin.client.cluster.brokers())

    wait_for(lambda: isolated_session.run(brokers()) == [2, 3], "broker 1 to be fenced")
    with pytest.raises(KafkabookError) as info:
        kb.configs.describe("brokers", 1)
    assert str(info.value) == (
        "broker 1 does not answer: it is down or still starting; %kafka cluster status "
        "shows which brokers run, %kafka broker start 1 starts it"
    )

    kb.broker.start(1)
    # Straight after the restart, with a client that has not heard of broker 1 since: each
    # call reconnects (metadata refresh, then broker 1) instead of NodeNotReadyError.
    assert kb.topics.create(unique("after"), partitions=1).details["created"]
    assert len(kb.configs.describe("brokers", 1, all=True)) > 10
    kb.configs.alter("brokers", 1, add={"log.cleaner.delete.retention.ms": 1000})
    assert kb.configs.describe("brokers", 1)["log.cleaner.delete.retention.ms"] == "1000"
    assert isinstance(kb.groups.list().names, list)
    assert topic in kb.topics.list()


def test_no_leader_and_a_dead_cluster_are_one_line(private_cluster, unique):
    topic = unique("alone")
    kb.topics.create(topic, partitions=1, replication_factor=1)
    [replica] = partition_0(topic).replicas
    kb.broker.kill(replica)
    wait_for(lambda: partition_0(topic).leader == -1, f"partition 0 to lose broker {replica}")
    # Retried (a leader may come back) until the timeout, then the cluster says why.
    with pytest.raises(KafkabookError) as info:
        kb.produce(topic, ["x"], acks=1, timeout=3)
    assert str(info.value) == (
        f"records to {topic} were not acknowledged within 3 s: partition 0 has no leader "
        f"(replicas {replica}): start broker {replica} with %kafka broker start {replica}"
    )
    # The record was dropped with the error, not kept for delivery once the leader is back.
    kb.broker.start(replica)
    wait_for(lambda: partition_0(topic).leader == replica, f"broker {replica} to lead again")
    assert kb.produce(topic, ["y"], acks=1).offsets == [(0, 0)]
    time.sleep(1.0)  # what a producer still retrying the first record would need
    assert kb.consume(topic, from_beginning=True).values == ["y"]

    kb.cluster_down()
    for call in (
        lambda: kb.produce(topic, ["x"]),
        lambda: kb.consume(topic, from_beginning=True),
        lambda: kb.topics.list(),
    ):
        started = time.monotonic()
        with pytest.raises(KafkabookError) as info:
            call()
        assert time.monotonic() - started < 5.0
        assert "%kafka cluster up" in str(info.value) and "\n" not in str(info.value)
