"""`encode` writes exactly kio's bytes, for every message class the broker sends.

Hypothesis draws plain values for a kio class (nested dicts, lists, nulls, tagged fields set or
not) and both paths encode them: `build` then kio's writer, and `encode`'s compiled writer.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.schema.consumer_group_heartbeat.v0.response import ConsumerGroupHeartbeatResponse
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v12.request import FetchRequest
from kio.schema.offset_for_leader_epoch.v4.request import OffsetForLeaderEpochRequest

from kafkabook.broker.handlers import load_all
from kafkabook.protocol.build import build
from kafkabook.protocol.encode import encode_request_fields, encode_response_fields
from kafkabook.protocol.framing import encode_request, encode_response, response_class

_INTS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
    "timedelta_i32": (0, 2**31 - 1),
    "timedelta_i64": (0, 2**40),
    "datetime_i64": (0, 2**41),
}


def _unwrap(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if type(None) in args:
            return next(a for a in args if a is not type(None)), True
    return hint, False


def _primitive(kafka_type: str) -> st.SearchStrategy[Any]:
    if kafka_type in _INTS:
        low, high = _INTS[kafka_type]
        return st.integers(low, high)
    return {
        "bool": st.booleans(),
        "float64": st.floats(allow_nan=False),
        "error_code": st.sampled_from([int(code) for code in ErrorCode]),
        "uuid": st.uuids(),
        "string": st.text(max_size=8),
        "bytes": st.binary(max_size=16),
        "records": st.binary(max_size=16),
    }[kafka_type]


def _field(cls: type, f: dataclasses.Field[Any], hint: Any, depth: int) -> st.SearchStrategy:
    hint, nullable = _unwrap(hint)
    tagged = f.metadata.get("tag") is not None
    is_array = typing.get_origin(hint) is tuple
    inner = typing.get_args(hint)[0] if is_array else hint
    if dataclasses.is_dataclass(inner):
        item = values(inner, depth + 1)
    else:
        item = _primitive(f.metadata["kafka_type"])
    strategy = st.lists(item, max_size=2 if depth < 2 else 0) if is_array else item
    return strategy | st.none() if nullable and not tagged else strategy


def values(cls: type, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Plain values for one kio entity: required fields always, defaulted ones sometimes."""
    hints = typing.get_type_hints(cls)
    required, optional = {}, {}
    for f in dataclasses.fields(cls):
        strategy = _field(cls, f, hints[f.name], depth)
        has_default = (
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        )
        (optional if has_default else required)[f.name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


def _response_classes() -> list[tuple[int, int, type]]:
    return [
        (api.key, version, response_class(api.key, version))
        for api in sorted(load_all().values(), key=lambda a: a.key)
        for version in range(api.min_version, api.max_version + 1)
    ]


RESPONSES = _response_classes()


@pytest.mark.parametrize(
    ("api_key", "version", "cls"),
    RESPONSES,
    ids=[f"{cls.__module__.split('.')[2]}-v{v}" for _, v, cls in RESPONSES],
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), correlation_id=st.integers(0, 2**31 - 1))
def test_response_bytes_equal_kio(api_key, version, cls, data, correlation_id):
    fields = data.draw(values(cls))
    expected = encode_response(api_key, version, correlation_id, build(cls, **fields))
    assert encode_response_fields(cls, correlation_id, fields) == expected


@pytest.mark.parametrize("cls", [FetchRequest, OffsetForLeaderEpochRequest])
@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    correlation_id=st.integers(0, 2**31 - 1),
    client_id=st.none() | st.text(max_size=8),
)
def test_replica_request_bytes_equal_kio(cls, data, correlation_id, client_id):
    fields = data.draw(values(cls))
    expected = encode_request(build(cls, **fields), correlation_id, client_id)
    assert encode_request_fields(cls, correlation_id, client_id, fields) == expected


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_nullable_structs_bytes_equal_kio(data):
    # KIP-893's nullable structs: no API the broker serves yet has one; KIP-848's heartbeat does.
    cls = ConsumerGroupHeartbeatResponse
    fields = data.draw(values(cls))
    assert encode_response_fields(cls, 5, fields) == encode_response(68, 0, 5, build(cls, **fields))


def test_values_that_already_are_kio_entities_are_written_by_kio():
    cls = response_class(1, 12)
    partition = build(
        typing.get_args(
            typing.get_type_hints(typing.get_args(typing.get_type_hints(cls)["responses"])[0])[
                "partitions"
            ]
        )[0],
        partition_index=0,
        error_code=0,
        high_watermark=5,
        aborted_transactions=None,
        records=b"abc",
    )
    fields = {
        "throttle_time": 0,
        "error_code": 0,
        "responses": [{"topic": "t", "partitions": [partition]}],
    }
    expected = encode_response(1, 12, 3, build(cls, **fields))
    assert encode_response_fields(cls, 3, fields) == expected


def test_a_missing_required_field_is_named():
    with pytest.raises(TypeError, match="error_code"):
        encode_response_fields(response_class(12, 4), 1, {"throttle_time": 0})
