"""The admin APIs, exercised with confluent-kafka's and kafka-python's admin clients."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
)
from kafka.admin import KafkaAdminClient

from .drivers import ConfluentDriver, Rec


@pytest.fixture(scope="module")
def admin(bundled_cluster):
    return AdminClient({"bootstrap.servers": bundled_cluster.bootstrap})


@pytest.fixture(scope="module")
def kp_admin(bundled_cluster):
    client = KafkaAdminClient(bootstrap_servers=bundled_cluster.bootstrap)
    yield client
    client.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create(admin, topic: str, partitions: int = 1, rf: int = 3, **kwargs) -> None:
    admin.create_topics([NewTopic(topic, partitions, rf, **kwargs)])[topic].result(15)


def test_explicit_assignment_and_validate_only(admin, kp_admin):
    dry = unique("dry")
    admin.create_topics([NewTopic(dry, 2, 3)], validate_only=True)[dry].result(15)
    assert dry not in admin.list_topics(timeout=10).topics
    topic = unique("assigned")
    # kafka-python: confluent-kafka's wrapper refuses an assignment without a partition count.
    from kafka.admin import NewTopic as KpNewTopic

    kp_admin.create_topics([KpNewTopic(topic, -1, -1, replica_assignments={0: [3, 1], 1: [2, 3]})])
    parts = admin.list_topics(topic, timeout=10).topics[topic].partitions
    assert [list(parts[i].replicas) for i in (0, 1)] == [[3, 1], [2, 3]]
    assert [parts[i].leader for i in (0, 1)] == [3, 2]


def test_create_partitions_grows_and_refuses_shrinking(admin):
    topic = unique("grow")
    create(admin, topic, 2)
    admin.create_partitions([NewPartitions(topic, 5)])[topic].result(15)
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 5
    with pytest.raises(Exception, match=r"INVALID_PARTITIONS|partition"):
        admin.create_partitions([NewPartitions(topic, 3)])[topic].result(15)


def test_topic_configs_describe_and_alter(admin):
    topic = unique("cfg")
    create(admin, topic, config={"retention.ms": "60000"})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(15)
    assert configs["retention.ms"].value == "60000"
    assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert configs["cleanup.policy"].value == "delete"
    assert configs["cleanup.policy"].is_default
    change = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry("min.insync.replicas", "2", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
        ],
    )
    admin.incremental_alter_configs([change])[change].result(15)
    configs = admin.describe_configs([resource])[resource].result(15)
    assert configs["min.insync.replicas"].value == "2"
    assert configs["retention.ms"].value == "604800000"
    bad = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry("no.such.config", "1", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    with pytest.raises(Exception, match=r"no\.such\.config"):
        admin.incremental_alter_configs([bad])[bad].result(15)


def test_broker_configs_describe(admin):
    resource = ConfigResource(ConfigResource.Type.BROKER, "1")
    configs = admin.describe_configs([resource])[resource].result(15)
    assert configs["replica.lag.time.max.ms"].value == "5000"
    assert configs["min.insync.replicas"].value == "1"


def test_list_offsets_earliest_latest_timestamp_max(admin, bundled_cluster):
    topic = unique("offsets")
    create(admin, topic)
    driver = ConfluentDriver(bundled_cluster.bootstrap)
    driver.produce(topic, [Rec(None, b"a")])
    time.sleep(0.05)
    middle = int(time.time() * 1000)
    time.sleep(0.05)
    driver.produce(topic, [Rec(None, b"b"), Rec(None, b"c")])
    tp = TopicPartition(topic, 0)

    def offset(spec):
        return admin.list_offsets({tp: spec})[tp].result(15).offset

    assert offset(OffsetSpec.earliest()) == 0
    assert offset(OffsetSpec.latest()) == 3
    assert offset(OffsetSpec.for_timestamp(middle)) == 1
    assert offset(OffsetSpec.for_timestamp(int(time.time() * 1000) + 60_000)) == -1
    assert offset(OffsetSpec.max_timestamp()) in (1, 2)


def test_delete_records_moves_the_log_start(admin, bundled_cluster):
    topic = unique("trim")
    create(admin, topic)
    ConfluentDriver(bundled_cluster.bootstrap).produce(
        topic, [Rec(None, f"{i}".encode()) for i in range(10)]
    )
    tp = TopicPartition(topic, 0, 4)
    result = admin.delete_records([tp])[tp].result(15)
    assert result.low_watermark == 4
    earliest = admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.earliest()})
    assert earliest[TopicPartition(topic, 0)].result(15).offset == 4


def test_describe_cluster_log_dirs_and_quorum(admin, kp_admin):
    cluster = admin.describe_cluster().result(15)
    assert sorted(n.id for n in cluster.nodes) == [1, 2, 3]
    assert cluster.controller.id in (1, 2, 3)
    topic = unique("dirs")
    create(admin, topic)
    dirs = kp_admin.describe_log_dirs()
    assert dirs  # every broker reports its one log dir with the replicas it hosts
    quorum = kp_admin.describe_metadata_quorum()
    assert quorum is not None


def test_preferred_leader_election_not_needed_on_a_balanced_topic(admin):
    from confluent_kafka import ElectionType

    topic = unique("elect")
    create(admin, topic)
    result = admin.elect_leaders(ElectionType.PREFERRED, [TopicPartition(topic, 0)]).result(15)
    error = result[TopicPartition(topic, 0)]
    assert error is not None and error.name() == "ELECTION_NOT_NEEDED"
