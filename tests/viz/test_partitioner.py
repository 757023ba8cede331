"""Key placement: Kafka's murmur2 partitioner and librdkafka's consistent_random.

The numbers are checked against Kafka's own published murmur2 vectors, against independent
implementations (kafka-python's murmur2, aiokafka's and kafka-python's default partitioners),
against where real producers put records on a running cluster (kafka-python for the Java
rule, confluent-kafka for librdkafka's default), and, when Java and the oracle jars are here,
against Kafka's Java client itself.
"""

from __future__ import annotations

import os
import struct
import subprocess
import time
import uuid
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkabook.viz.partitioner import (
    EMPTY_KEY,
    NULL_KEY,
    crc32,
    distribution,
    java_partition,
    librdkafka_partition,
    moved,
    murmur2,
    place,
    serialize_key,
    to_positive,
    to_signed32,
)

# org.apache.kafka.common.utils.UtilsTest#testMurmur2: key (UTF-8) -> Utils.murmur2 (a Java int).
KAFKA_MURMUR2_VECTORS = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}


@pytest.mark.parametrize(("text", "expected"), sorted(KAFKA_MURMUR2_VECTORS.items()))
def test_murmur2_matches_kafkas_published_vectors(text: str, expected: int) -> None:
    assert murmur2(text.encode()) == expected


def test_to_positive_clears_the_sign_bit_rather_than_negating() -> None:
    # abs(Integer.MIN_VALUE) overflows in Java; toPositive maps it to 0.
    assert to_positive(-(2**31)) == 0
    assert to_positive(-1) == 2**31 - 1
    assert to_positive(12345) == 12345
    assert to_signed32(2**31) == -(2**31)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_murmur2_agrees_with_kafka_python(key: bytes) -> None:
    from kafka.partitioner.default import murmur2 as kafka_python_murmur2

    assert murmur2(key) == to_signed32(kafka_python_murmur2(key))


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=40), st.integers(min_value=1, max_value=500))
def test_java_partition_is_what_the_default_partitioners_pick(key: bytes, n: int) -> None:
    from aiokafka.partitioner import DefaultPartitioner

    partitions = list(range(n))
    expected = java_partition(key, n)
    assert 0 <= expected < n
    assert DefaultPartitioner()(key, partitions, partitions) == expected
    assert expected == (murmur2(key) & 0x7FFFFFFF) % n


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=40), st.integers(min_value=1, max_value=500))
def test_librdkafka_partition_is_crc32_modulo(key: bytes, n: int) -> None:
    assert librdkafka_partition(key, n) == (zlib.crc32(key) & 0xFFFFFFFF) % n == crc32(key) % n


def test_null_and_empty_keys() -> None:
    null = place(None, 6)
    assert null.null and null.partition is None and null.librdkafka is None
    assert place(NULL_KEY, 6).null
    empty = place(EMPTY_KEY, 6)
    assert empty.key == b"" and not empty.null
    assert empty.partition == java_partition(b"", 6)  # Java hashes the empty key
    assert empty.librdkafka is None  # librdkafka: random for empty keys too


def test_serializers_write_what_kafkas_serializers_write() -> None:
    assert serialize_key("héllo") == "héllo".encode()
    assert serialize_key("-2", "int") == struct.pack(">i", -2)
    assert serialize_key("0x10", "long") == struct.pack(">q", 16)
    assert serialize_key("de ad be ef", "hex") == b"\xde\xad\xbe\xef"
    for text, kind in (("2147483648", "int"), ("x", "long"), ("zz", "hex")):
        with pytest.raises(ValueError):
            serialize_key(text, kind)
    assert place("nope", 3, "int").error is not None


def test_place_shows_every_step() -> None:
    p = place("order-42", 12)
    assert p.key == b"order-42"
    assert p.murmur2 == murmur2(b"order-42")
    assert p.positive == to_positive(p.murmur2)
    assert p.partition == p.positive % 12
    assert p.crc32 == zlib.crc32(b"order-42")
    assert p.librdkafka == p.crc32 % 12


def test_distribution_and_moved_keys() -> None:
    keys = [f"k{i}".encode() for i in range(3000)]
    counts = distribution(keys, 6)
    assert sum(counts["java"]) == sum(counts["librdkafka"]) == 3000
    assert min(counts["java"]) > 3000 / 6 * 0.8  # murmur2 spreads evenly
    assert moved(keys, 6, 6) == 0
    going_to_12 = moved(keys, 6, 12)
    # From 6 to 12 partitions a key stays only when hash % 12 == hash % 6: about half move.
    assert 0.4 * 3000 < going_to_12 < 0.6 * 3000
    assert going_to_12 == sum(java_partition(k, 6) != java_partition(k, 12) for k in keys)
    with pytest.raises(ValueError):
        distribution(keys, 0)


# -- against real producers on a running cluster --------------------------------------------------


def _create_topic(bootstrap: str, partitions: int) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"viz-hash-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, 1)])
    futures[name].result(30)
    return name


KEYS = [f"user-{i}" for i in range(60)] + ["foobar", "abc", "21", "é-ü-☃"]


def test_confluent_kafka_default_partitioner_is_crc32(bundled_cluster) -> None:
    """librdkafka's consistent_random, seen from where confluent-kafka's records land."""
    from confluent_kafka import Producer

    partitions = 7
    topic = _create_topic(bundled_cluster.bootstrap, partitions)
    landed: dict[bytes, int] = {}
    empty: list[int] = []

    def delivered(err, msg) -> None:
        assert err is None, err
        if msg.key():
            landed[msg.key()] = msg.partition()
        else:
            empty.append(msg.partition())

    producer = Producer({"bootstrap.servers": bundled_cluster.bootstrap, "linger.ms": 5})
    for key in KEYS:
        producer.produce(topic, value=b"v", key=key.encode(), on_delivery=delivered)
    assert producer.flush(30) == 0
    # Empty keys are not hashed: librdkafka picks a random partition and sticks to it for
    # sticky.partitioning.linger.ms (10 ms), so bursts far apart land on random partitions.
    for _ in range(10):
        for _ in range(5):
            producer.produce(topic, value=b"v", key=b"", on_delivery=delivered)
        assert producer.flush(30) == 0
        time.sleep(0.05)
    assert len(landed) == len(KEYS)
    for key in KEYS:
        assert landed[key.encode()] == librdkafka_partition(key.encode(), partitions), key
        assert place(key, partitions).librdkafka == landed[key.encode()]
    assert len(empty) == 50
    assert len(set(empty)) > 1
    # And the two clients disagree for most keys: the point of the widget's toggle.
    differ = sum(landed[k.encode()] != java_partition(k.encode(), partitions) for k in KEYS)
    assert differ > len(KEYS) // 2


def test_kafka_python_producer_places_keys_as_java_partition(bundled_cluster) -> None:
    from kafka import KafkaProducer

    partitions = 5
    topic = _create_topic(bundled_cluster.bootstrap, partitions)
    producer = KafkaProducer(bootstrap_servers=bundled_cluster.bootstrap)
    try:
        futures = {key: producer.send(topic, key=key.encode(), value=b"v") for key in KEYS}
        landed = {key: f.get(timeout=30).partition for key, f in futures.items()}
    finally:
        producer.close(5)
    for key in KEYS:
        assert landed[key] == java_partition(key.encode(), partitions) == place(key, 5).partition


# -- against Kafka's Java client ------------------------------------------------------------------

JAVA_PROGRAM = """
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.utils.Utils;

public class Placement {
    public static void main(String[] args) throws Exception {
        int partitions = Integer.parseInt(args[1]);
        for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
            byte[] key = line.getBytes(StandardCharsets.UTF_8);
            System.out.println(Utils.murmur2(key) + " "
                + BuiltInPartitioner.partitionForKey(key, partitions));
        }
    }
}
"""


@pytest.fixture(scope="module")
def kafka_jars():
    from kafkabook.backends.base import BackendError
    from kafkabook.backends.jvm import default_jars_dir, find_java, find_kafka_jar

    try:
        java = find_java()
        jars = default_jars_dir()
        find_kafka_jar(jars)
    except BackendError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"oracle unavailable under CI: {exc}")
        pytest.skip(str(exc))
    return java, jars


@pytest.mark.oracle
@pytest.mark.parametrize("partitions", [1, 7, 48])
def test_java_client_agrees(kafka_jars, tmp_path, partitions: int) -> None:
    java, jars = kafka_jars
    keys = [*KAFKA_MURMUR2_VECTORS, *KEYS, *(f"order-{i}" for i in range(300))]
    (tmp_path / "keys.txt").write_text("\n".join(keys) + "\n", encoding="utf-8")
    program = tmp_path / "Placement.java"
    program.write_text(JAVA_PROGRAM, encoding="utf-8")
    run = subprocess.run(
        [java, "-cp", f"{jars}/*", str(program), str(tmp_path / "keys.txt"), str(partitions)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.split()
    answers = list(zip(lines[0::2], lines[1::2], strict=True))
    assert len(answers) == len(keys)
    for key, (hashed, partition) in zip(keys, answers, strict=True):
        p = place(key, partitions)
        assert (p.murmur2, p.partition) == (int(hashed), int(partition)), key
