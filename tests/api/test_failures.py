"""The API when brokers fail, against private bundled clusters (each test breaks its own).

* admin calls right after a broker restart reconnect instead of failing on a client whose
  metadata predates the restart.
"""

from __future__ import annotations

import time

import pytest

import kafkabook as kb
from kafkabook.api.cluster import Cluster
from kafkabook.api.errors import KafkabookError
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
