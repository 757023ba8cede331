"""Bad input gets Kafka's answer, and never takes the broker down for anyone else."""

from __future__ import annotations

import socket
import struct
import uuid

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import (
    InvalidReplicationFactorError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    TopicAlreadyExistsError,
)
from kio.schema.api_versions.v0.response import ApiVersionsResponse
from kio.schema.produce.v9.request import ProduceRequest
from kio.serial import entity_reader

from kafkabook.broker.records import encode_batch
from kafkabook.protocol.build import build
from kafkabook.protocol.errors import ErrorCode
from kafkabook.protocol.framing import decode_response, encode_request


def first_broker(cluster) -> tuple[str, int]:
    host, port = cluster.bootstrap.split(",")[0].split(":")
    return host, int(port)


def round_trip(address, payload: bytes, timeout: float = 5) -> bytes | None:
    """Send raw bytes; return the response frame, or None when the broker closed the connection."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(payload)
        size = b""
        while len(size) < 4:
            chunk = sock.recv(4 - len(size))
            if not chunk:
                return None
            size += chunk
        (n,) = struct.unpack(">i", size)
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data


def still_serving(address) -> bool:
    # ApiVersions v0: size, key 18, version 0, correlation 1, client id "x".
    request = struct.pack(">hhih", 18, 0, 1, 1) + b"x"
    return round_trip(address, struct.pack(">i", len(request)) + request) is not None


@pytest.mark.parametrize(
    "payload",
    [
        struct.pack(">i", 12)
        + b"\x00\x03\x00\x0c\xff\xff\xff\xff\xff\xff\xff\xff",  # garbled Metadata
        struct.pack(">i", 200 * 1024 * 1024),  # > socket.request.max.bytes
        struct.pack(">i", -5),  # negative size
        struct.pack(">i", 10) + struct.pack(">hhih", 999, 0, 7, 0),  # unknown API key
    ],
    ids=["garbled", "oversized", "negative", "unknown-key"],
)
def test_malformed_requests_close_only_that_connection(bundled_cluster, payload):
    address = first_broker(bundled_cluster)
    assert round_trip(address, payload) is None
    assert still_serving(address)


def test_unknown_api_versions_version_gets_v0_answer_with_ranges(bundled_cluster):
    request = struct.pack(">hhih", 18, 99, 77, 1) + b"x"
    frame = round_trip(first_broker(bundled_cluster), struct.pack(">i", len(request)) + request)
    (correlation,) = struct.unpack(">i", frame[:4])
    body, _ = entity_reader(ApiVersionsResponse)(frame, 4)
    assert correlation == 77
    assert body.error_code == ErrorCode.unsupported_version
    assert {k.api_key for k in body.api_keys} >= {0, 1, 3, 18}


def test_corrupt_crc_is_corrupt_message(bundled_cluster):
    topic = f"crc-{uuid.uuid4().hex[:6]}"
    KafkaAdminClient(bootstrap_servers=bundled_cluster.bootstrap).create_topics(
        [NewTopic(topic, 1, 1)]
    )
    batch = bytearray(encode_batch([(b"k", b"v")]))
    batch[-1] ^= 0xFF
    request = build(
        ProduceRequest,
        transactional_id=None,
        acks=1,
        timeout=5000,
        topic_data=[{"name": topic, "partition_data": [{"index": 0, "records": bytes(batch)}]}],
    )
    # Whichever broker leads the partition answers; ask them all until one is the leader.
    codes = set()
    for address in bundled_cluster.bootstrap.split(","):
        host, port = address.split(":")
        frame = round_trip((host, int(port)), encode_request(request, 5, "test"))
        _, response = decode_response(0, 9, frame)
        codes.add(response.responses[0].partition_responses[0].error_code)
    assert ErrorCode.corrupt_message in codes


def test_admin_errors_match_kafka(bundled_cluster):
    admin = KafkaAdminClient(bootstrap_servers=bundled_cluster.bootstrap)
    try:
        with pytest.raises(InvalidTopicError):
            admin.create_topics([NewTopic("bad name!", 1, 1)])
        with pytest.raises(InvalidTopicError):
            admin.create_topics([NewTopic("x" * 250, 1, 1)])
        with pytest.raises(InvalidReplicationFactorError):
            admin.create_topics([NewTopic(f"rf-{uuid.uuid4().hex[:6]}", 1, 4)])
        name = f"dup-{uuid.uuid4().hex[:6]}"
        admin.create_topics([NewTopic(name, 1, 1)])
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        admin.close()


def test_oversized_record_is_message_too_large(bundled_cluster):
    topic = f"big-{uuid.uuid4().hex[:6]}"
    producer = KafkaProducer(
        bootstrap_servers=bundled_cluster.bootstrap, max_request_size=4 << 20, retries=0, acks=1
    )
    try:
        with pytest.raises(MessageSizeTooLargeError):
            producer.send(topic, b"x" * (2 << 20)).get(15)
        assert producer.send(topic, b"small").get(15).offset >= 0
    finally:
        producer.close(1)


def test_fetch_errors_carry_empty_not_null_records(bundled_cluster):
    """librdkafka rejects a whole Fetch response holding null records (Kafka never sends them)."""
    from kio.schema.fetch.v12.request import FetchRequest

    topic = f"nullrec-{uuid.uuid4().hex[:6]}"
    KafkaAdminClient(bootstrap_servers=bundled_cluster.bootstrap).create_topics(
        [NewTopic(topic, 1, 1)]
    )
    request = build(
        FetchRequest,
        replica_id=-1,
        max_wait=0,
        min_bytes=0,
        max_bytes=1 << 20,
        isolation_level=0,
        session_id=0,
        session_epoch=-1,
        forgotten_topics_data=[],
        rack_id="",
        topics=[
            {
                "topic": topic,
                "partitions": [
                    {
                        "partition": 0,
                        "current_leader_epoch": -1,
                        "fetch_offset": 0,
                        "last_fetched_epoch": -1,
                        "log_start_offset": -1,
                        "partition_max_bytes": 1 << 20,
                    }
                ],
            }
        ],
    )
    errors = []
    for address in bundled_cluster.bootstrap.split(","):
        host, port = address.split(":")
        frame = round_trip((host, int(port)), encode_request(request, 6, "test"))
        _, response = decode_response(1, 12, frame)
        data = response.responses[0].partitions[0]
        errors.append(data.error_code)
        assert data.records is not None
    # One broker leads the partition; the other two answer NOT_LEADER_OR_FOLLOWER.
    assert errors.count(ErrorCode.not_leader_or_follower) == 2


def test_asking_for_the_offsets_topic_creates_it_with_its_own_layout(bundled_cluster):
    """Auto-creating __consumer_offsets by name gives the coordinator's 50 partitions, not the
    one-partition default of ordinary auto-created topics."""
    import time

    from kio.schema.metadata.v12.request import MetadataRequest

    request = build(
        MetadataRequest,
        topics=[{"name": "__consumer_offsets", "topic_id": None}],
        allow_auto_topic_creation=True,
        include_topic_authorized_operations=False,
    )
    address = first_broker(bundled_cluster)
    deadline = time.monotonic() + 20
    while True:
        _, response = decode_response(3, 12, round_trip(address, encode_request(request, 8, "t")))
        topic = response.topics[0]
        if topic.error_code == ErrorCode.none or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert topic.error_code == ErrorCode.none
    assert topic.is_internal
    assert len(topic.partitions) == 50
