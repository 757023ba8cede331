"""Every real client does the basics against the bundled cluster: topics, produce, consume.

Runs once per client (confluent-kafka, kafka-python, aiokafka, kcat) against one shared
3-broker cluster. Topic names are unique per test so tests never see each other's data.
"""

from __future__ import annotations

import time
import uuid

import pytest

from .drivers import DRIVERS, Rec

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


@pytest.fixture(params=DRIVERS, ids=lambda d: d.name)
def driver(request, bundled_cluster):
    return request.param(bundled_cluster.bootstrap)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(predicate, timeout=10.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def test_topic_lifecycle(driver):
    topic = unique("life")
    driver.create_topic(topic, 3, 3)
    assert topic in driver.list_topics()
    described = driver.describe(topic)
    assert sorted(described) == [0, 1, 2]
    for p in described.values():
        assert sorted(p["replicas"]) == [1, 2, 3]
        assert sorted(p["isr"]) == [1, 2, 3]
        assert p["leader"] == p["replicas"][0]  # the preferred replica leads a new topic
    # Rack-unaware placement spreads leaders over the brokers.
    assert sorted(p["leader"] for p in described.values()) == [1, 2, 3]
    driver.delete_topic(topic)
    assert wait_until(lambda: topic not in driver.list_topics())


@pytest.mark.parametrize("codec", CODECS)
def test_keyed_records_with_headers_round_trip(driver, codec):
    topic = unique(f"rt-{codec}")
    driver.create_topic(topic, 3, 3)
    sent = [
        Rec(
            f"key-{i % 5}".encode(),
            f"value {i} ".encode() * 3,
            (("source", b"test"), ("n", str(i).encode())),
        )
        for i in range(40)
    ]
    acked = driver.produce(topic, sent, acks="all", compression=codec)
    assert len(acked) == len(sent)
    got = driver.consume(topic, len(sent))
    assert sorted((r.key, r.value, r.headers) for r in got) == sorted(
        (r.key, r.value, r.headers) for r in sent
    )
    # Same key, same partition; offsets dense per partition.
    by_key = {}
    for r in got:
        by_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(parts) == 1 for parts in by_key.values())
    per_partition = {}
    for r in got:
        per_partition.setdefault(r.partition, []).append(r.offset)
    for offsets in per_partition.values():
        assert sorted(offsets) == list(range(len(offsets)))


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_each_acks_level(driver, acks):
    topic = unique(f"acks{acks}")
    driver.create_topic(topic, 1, 3)
    sent = [Rec(None, f"v{i}".encode()) for i in range(20)]
    driver.produce(topic, sent, acks=acks)
    got = driver.consume(topic, len(sent))
    assert [r.value for r in got] == [r.value for r in sent]
