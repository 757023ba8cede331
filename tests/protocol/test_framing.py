"""The sans-io protocol glue: framing round trips and version fitting, no sockets."""

from __future__ import annotations

import struct

import pytest
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.metadata.v1.response import MetadataResponse as MetadataV1
from kio.schema.metadata.v12.request import MetadataRequest
from kio.schema.metadata.v12.response import MetadataResponse as MetadataV12

from kafkabook.broker.handlers import load_all
from kafkabook.protocol.build import build
from kafkabook.protocol.framing import (
    FrameError,
    UnsupportedVersion,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    request_class,
    response_class,
)

TOPIC = {
    "error_code": 0,
    "name": "t",
    "topic_id": "7b0c9d2e-4a1f-4a4e-9a51-3c2f8f1e2a10",
    "is_internal": False,
    "partitions": [
        {
            "error_code": 0,
            "partition_index": 0,
            "leader_id": 1,
            "leader_epoch": 3,
            "replica_nodes": [1, 2],
            "isr_nodes": [1],
            "offline_replicas": [2],
        }
    ],
}


def test_request_round_trip_keeps_header_fields():
    wire = encode_request(
        ApiVersionsRequest(client_software_name="kb", client_software_version="1"), 42, "me"
    )
    (size,) = struct.unpack(">i", wire[:4])
    assert size == len(wire) - 4
    frame = decode_request(wire[4:])
    assert (frame.api_key, frame.api_version, frame.correlation_id, frame.client_id) == (
        18,
        3,
        42,
        "me",
    )
    assert frame.body.client_software_name == "kb"


def test_build_fits_one_description_to_old_and_new_versions():
    fields = {
        "throttle_time": 0,
        "brokers": [{"node_id": 1, "host": "h", "port": 1, "rack": None}],
        "cluster_id": "c",
        "controller_id": 1,
        "topics": [TOPIC],
    }
    new = build(MetadataV12, **fields)
    old = build(MetadataV1, **fields)
    assert new.topics[0].partitions[0].leader_epoch == 3
    assert not hasattr(old.topics[0].partitions[0], "leader_epoch")
    for version, body in ((12, new), (1, old)):
        wire = encode_response(3, version, 9, body)
        correlation, decoded = decode_response(3, version, wire[4:])
        assert correlation == 9
        assert decoded == body


def test_unknown_version_is_reported_with_its_correlation_id():
    frame = struct.pack(">hhi", 18, 99, 1234) + b"\x00\x00"
    with pytest.raises(UnsupportedVersion) as info:
        decode_request(frame)
    assert info.value.correlation_id == 1234


@pytest.mark.parametrize(
    "garbage", [b"", b"\x00\x03", struct.pack(">hhi", 3, 12, 5) + b"\xff\xff\xff"]
)
def test_garbled_frames_raise_frame_error(garbage):
    with pytest.raises(FrameError):
        decode_request(garbage)


def test_trailing_bytes_are_ignored_as_kafka_does():
    body = MetadataRequest(
        topics=None, allow_auto_topic_creation=True, include_topic_authorized_operations=False
    )
    wire = encode_request(body, 1, None)
    assert decode_request(wire[4:] + b"\x00\x00\x00").body == body


def test_every_advertised_version_has_kio_types():
    for api in load_all().values():
        for version in range(api.min_version, api.max_version + 1):
            assert request_class(api.key, version) and response_class(api.key, version), (
                api.name,
                version,
            )
