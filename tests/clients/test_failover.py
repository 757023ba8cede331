"""Durability and availability when brokers die: what the seed's failover lessons rely on.

Each test breaks a private 3-broker cluster. Observations go through real clients only:
Metadata via confluent-kafka's admin client, produce errors via kafka-python, and records
read back with a fresh consumer.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from confluent_kafka import Producer
from kafka import KafkaProducer
from kafka.errors import NotEnoughReplicasError

from .drivers import ConfluentDriver, Rec


def wait_until(predicate, timeout: float, interval: float = 0.1):
    """Poll `predicate` until true; a request that fails meanwhile (a client that asked the
    dead or paused broker) counts as "not yet"."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # any client error while the cluster heals
            value = None
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture
def cluster(bundled_cluster_factory):
    return bundled_cluster_factory(brokers=3, fresh=True)


def test_not_enough_replicas_then_recovery(cluster):
    admin = ConfluentDriver(cluster.bootstrap)
    topic = f"durable-{uuid.uuid4().hex[:6]}"
    admin.create_topic(topic, 1, 3, {"min.insync.replicas": "2"})
    leader = admin.describe(topic)[0]["leader"]
    others = [b for b in (1, 2, 3) if b != leader]
    for broker in others:
        cluster.kill(broker)
    # The controller fences them after the 2 s session timeout and shrinks the ISR.
    assert wait_until(lambda: admin.describe(topic)[0]["isr"] == [leader], 10)

    producer = KafkaProducer(
        bootstrap_servers=f"127.0.0.1:{cluster.status().brokers[leader - 1].port}",
        acks="all",
        retries=0,
        enable_idempotence=False,
        request_timeout_ms=5000,
    )
    try:
        with pytest.raises(NotEnoughReplicasError):
            producer.send(topic, b"refused").get(10)
        # acks=1 still works: availability over durability is the producer's choice.
        KafkaProducer(bootstrap_servers=cluster.bootstrap, acks=1).send(topic, b"acks1").get(10)

        cluster.start(others[0])
        assert wait_until(lambda: len(admin.describe(topic)[0]["isr"]) == 2, 15)
        meta = producer.send(topic, b"accepted").get(10)
        assert meta.offset >= 1
    finally:
        producer.close(1)


def test_leader_sigkill_during_acks_all_loses_no_acked_record(cluster):
    admin = ConfluentDriver(cluster.bootstrap)
    topic = f"failover-{uuid.uuid4().hex[:6]}"
    admin.create_topic(topic, 1, 3, {"min.insync.replicas": "2"})
    leader = admin.describe(topic)[0]["leader"]

    acked: list[bytes] = []
    errors: list[str] = []
    stop = threading.Event()

    def produce():
        p = Producer(
            {
                "bootstrap.servers": cluster.bootstrap,
                "acks": "all",
                "linger.ms": 1,
                "message.timeout.ms": 30000,
                "retry.backoff.ms": 50,
            }
        )

        def report(err, msg):
            if err is None:
                acked.append(msg.value())
            else:
                errors.append(str(err))

        i = 0
        while not stop.is_set():
            p.produce(topic, f"m{i}".encode(), on_delivery=report)
            p.poll(0.002)
            i += 1
        assert p.flush(30) == 0

    thread = threading.Thread(target=produce)
    thread.start()
    assert wait_until(lambda: len(acked) > 200, 15)
    killed_at = time.monotonic()
    cluster.kill(leader)
    acked_at_kill = len(acked)
    # The producer carries on: new acks arrive from the new leader.
    assert wait_until(lambda: len(acked) > acked_at_kill + 200, 20)
    failover_s = time.monotonic() - killed_at
    stop.set()
    thread.join(60)
    assert not errors

    state = admin.describe(topic)[0]
    assert state["leader"] != leader
    assert leader not in state["isr"]
    assert failover_s < 10

    # Read to the end: retries without idempotence may have written duplicates, as in Kafka.
    got = {r.value for r in admin.consume_all(topic)}
    missing = [v for v in acked if v not in got]
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {missing[:5]}"

    # The killed broker returns, catches up, rejoins the ISR and leads again (preferred leader).
    cluster.start(leader)
    assert wait_until(lambda: leader in admin.describe(topic)[0]["isr"], 20)
    assert wait_until(lambda: admin.describe(topic)[0]["leader"] == leader, 20)


def test_full_restart_keeps_every_record(cluster):
    admin = ConfluentDriver(cluster.bootstrap)
    topic = f"restart-{uuid.uuid4().hex[:6]}"
    admin.create_topic(topic, 3, 3)
    sent = [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(300)]
    admin.produce(topic, sent)
    cluster.down()
    cluster.up()
    got = ConfluentDriver(cluster.bootstrap).consume(topic, len(sent), timeout=30)
    assert sorted(r.value for r in got) == sorted(r.value for r in sent)


def isr_from(cluster, broker_id: int, topic: str) -> list[int]:
    """Partition 0's ISR as one given broker answers Metadata (a raw request, so no client
    can wander off to the paused broker, which accepts connections but never answers)."""
    import socket
    import struct

    from kio.schema.metadata.v12.request import MetadataRequest

    from kafkabook.protocol.build import build
    from kafkabook.protocol.framing import decode_response, encode_request

    port = next(b.port for b in cluster.status().brokers if b.node_id == broker_id)
    request = build(
        MetadataRequest,
        topics=[{"name": topic, "topic_id": None}],
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=False,
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(encode_request(request, 1, "isr-probe"))
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
    _, response = decode_response(3, 12, data[4:])
    return list(response.topics[0].partitions[0].isr_nodes)


def test_paused_follower_leaves_the_isr_and_returns(cluster):
    admin = ConfluentDriver(cluster.bootstrap)
    topic = f"paused-{uuid.uuid4().hex[:6]}"
    admin.create_topic(topic, 1, 3)
    state = admin.describe(topic)[0]
    leader = state["leader"]
    follower = next(r for r in state["replicas"] if r != leader)
    cluster.pause(follower)
    try:
        # A hung broker also misses its heartbeats, so the controller fences it after 2 s;
        # either way it must leave the ISR within the 5 s replica.lag.time.max.ms (+ slack).
        assert wait_until(lambda: follower not in isr_from(cluster, leader, topic), 20)
    finally:
        cluster.resume(follower)
    assert wait_until(lambda: follower in isr_from(cluster, leader, topic), 30)
    admin.produce(topic, [Rec(None, b"after-resume")])


def test_controlled_shutdown_moves_leadership_first(cluster):
    admin = ConfluentDriver(cluster.bootstrap)
    topic = f"stop-{uuid.uuid4().hex[:6]}"
    admin.create_topic(topic, 3, 3)
    leaders = {p: s["leader"] for p, s in admin.describe(topic).items()}
    victim = leaders[0]
    started = time.monotonic()
    cluster.stop(victim)
    stopped_in = time.monotonic() - started
    after = admin.describe(topic)
    assert all(s["leader"] != victim for s in after.values())
    assert all(victim not in s["isr"] for s in after.values())
    assert stopped_in < 10
    admin.produce(topic, [Rec(b"k", b"after-stop")])
    cluster.start(victim)
    assert wait_until(lambda: all(victim in s["isr"] for s in admin.describe(topic).values()), 15)
