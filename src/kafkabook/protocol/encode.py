"""Encode messages straight from plain values, with kio's schema classes as the layout.

Handlers answer with keyword arguments and nested dicts (see `build`). Turning those into kio's
frozen dataclasses and letting kio write them costs a dataclass per nested entity and a range
check per integer: at one record per request (acks=all, linger.ms=0) that was a third of a
broker's CPU. Here each kio class is compiled once into a list of field writers that read the
dict and append to a bytearray. The bytes are kio's own: a property test compares the two for
every message class the broker sends.

Fields a version lacks are ignored and missing fields take the schema's default, as with
`build`. Tagged fields, rare and small, are converted with `build` and written by kio; so are
nested values that already are kio entities.

>>> from kio.schema.heartbeat.v4.response import HeartbeatResponse
>>> encode_response_fields(HeartbeatResponse, 7, {"throttle_time": 0, "error_code": 0}).hex()
'0000000b00000007000000000000000000'
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import io
import struct
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any

from kio.serial import entity_writer

from .build import convert

Writer = Callable[[bytearray, Any], None]

_SIZE = struct.Struct(">i")
_ZERO_UUID = bytes(16)
# Kafka's fixed-width types as struct format characters (big-endian on the wire).
_STRUCT_CODE = {
    "int8": "b",
    "int16": "h",
    "int32": "i",
    "int64": "q",
    "uint8": "B",
    "uint16": "H",
    "uint32": "I",
    "uint64": "Q",
    "float64": "d",
    "bool": "?",
    "error_code": "h",
}
_INT = {kafka_type: struct.Struct(">" + code).pack for kafka_type, code in _STRUCT_CODE.items()}
_PACK_I16 = _INT["int16"]
_PACK_I32 = _INT["int32"]
_PACK_I64 = _INT["int64"]


def _uvarint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


# -- primitive writers ------------------------------------------------------------------------


def _int_writer(pack: Callable[[Any], bytes]) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        out += pack(value)

    return write


def _millis_writer(pack: Callable[[Any], bytes]) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if isinstance(value, datetime.timedelta):
            value = round(value.total_seconds() * 1000)
        out += pack(value)

    return write


def _datetime_writer(nullable: bool) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if value is None and nullable:
            value = -1
        elif isinstance(value, datetime.datetime):
            value = round(value.timestamp() * 1000)
        out += _PACK_I64(value)

    return write


def _write_uuid(out: bytearray, value: Any) -> None:
    if not value:
        out += _ZERO_UUID
    elif isinstance(value, uuid.UUID):
        out += value.bytes
    else:
        out += uuid.UUID(value).bytes


def _as_bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _compact_bytes_writer(nullable: bool, what: str) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if value is None:
            if not nullable:
                raise TypeError(f"{what} is not nullable")
            out.append(0)
            return
        value = _as_bytes(value)
        _uvarint(out, len(value) + 1)
        out += value

    return write


def _legacy_bytes_writer(nullable: bool, width: Callable[[Any], bytes], what: str) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if value is None:
            if not nullable:
                raise TypeError(f"{what} is not nullable")
            out += width(-1)
            return
        value = _as_bytes(value)
        out += width(len(value))
        out += value

    return write


def _primitive_writer(kafka_type: str, flexible: bool, nullable: bool, what: str) -> Writer:
    if kafka_type in ("timedelta_i32", "timedelta_i64"):
        return _millis_writer(_PACK_I32 if kafka_type == "timedelta_i32" else _PACK_I64)
    if kafka_type == "datetime_i64":
        return _datetime_writer(nullable)
    if kafka_type == "uuid":
        return _write_uuid
    if kafka_type in _INT:
        return _int_writer(_INT[kafka_type])
    if kafka_type in ("string", "bytes", "records"):
        if flexible:
            return _compact_bytes_writer(nullable, what)
        # Strings carry an int16 length, bytes and records an int32 one.
        width = _PACK_I16 if kafka_type == "string" else _PACK_I32
        return _legacy_bytes_writer(nullable, width, what)
    raise NotImplementedError(f"{what}: no writer for kafka type {kafka_type!r}")


# -- composite writers ------------------------------------------------------------------------


def _array_writer(item: Writer, flexible: bool, nullable: bool, what: str) -> Writer:
    def write(out: bytearray, values: Any) -> None:
        if values is None:
            if not nullable:
                raise TypeError(f"{what} is not nullable")
            if flexible:
                out.append(0)
            else:
                out += _PACK_I32(-1)
            return
        if flexible:
            _uvarint(out, len(values) + 1)
        else:
            out += _PACK_I32(len(values))
        for value in values:
            item(out, value)

    return write


def _nullable_entity_writer(inner: Writer) -> Writer:
    # KIP-893: a nullable struct is a one-byte marker (-1 null, 1 present) before the struct.
    def write(out: bytearray, value: Any) -> None:
        if value is None:
            out.append(0xFF)
        else:
            out.append(1)
            inner(out, value)

    return write


@dataclasses.dataclass(frozen=True)
class _Tagged:
    tag: int
    name: str
    write: Writer
    default: Any


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if type(None) in args:
            rest = [a for a in args if a is not type(None)]
            return rest[0], True
    return hint, False


def _field_writer(cls: type, f: dataclasses.Field[Any], hint: Any) -> Writer:
    flexible = cls.__flexible__
    what = f"{cls.__name__}.{f.name}"
    hint, nullable = _unwrap_optional(hint)
    is_array = typing.get_origin(hint) is tuple
    inner = typing.get_args(hint)[0] if is_array else hint
    if dataclasses.is_dataclass(inner):
        item = entity_encoder(inner)
        if not is_array and nullable:
            item = _nullable_entity_writer(item)
    else:
        kafka_type = f.metadata["kafka_type"]
        item = _primitive_writer(kafka_type, flexible, nullable and not is_array, what)
    return _array_writer(item, flexible, nullable, what) if is_array else item


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _value_step(cls: type, name: str, write: Writer, default: Any) -> Writer:
    """Write one field, taken from the dict or else from the schema's default."""
    missing = dataclasses.MISSING

    def step(out: bytearray, value: dict) -> None:
        v = value.get(name, missing)
        if v is missing:
            v = default
            if v is missing:
                raise TypeError(f"{cls.__name__} needs a value for {name!r}")
        write(out, v)

    return step


def _run_step(cls: type, run: list[tuple[str, str, Any]]) -> Writer:
    """Write consecutive fixed-width numbers with one struct pack (most of a Fetch partition)."""
    pack = struct.Struct(">" + "".join(code for _, code, _ in run)).pack
    names_defaults = [(name, default) for name, _, default in run]
    missing = dataclasses.MISSING

    def step(out: bytearray, value: dict) -> None:
        values = [value.get(name, default) for name, default in names_defaults]
        if missing in values:
            name = names_defaults[values.index(missing)][0]
            raise TypeError(f"{cls.__name__} needs a value for {name!r}")
        out += pack(*values)

    return step


def _plain_steps(cls: type, hints: dict[str, Any], fields: list[dataclasses.Field[Any]]) -> list:
    steps: list[Writer] = []
    run: list[tuple[str, str, Any]] = []
    for f in fields:
        code = _STRUCT_CODE.get(f.metadata.get("kafka_type", ""))
        if code is not None and typing.get_origin(hints[f.name]) is None:
            run.append((f.name, code, _default(f)))
            continue
        if run:
            steps.append(_run_step(cls, run))
            run = []
        steps.append(_value_step(cls, f.name, _field_writer(cls, f, hints[f.name]), _default(f)))
    if run:
        steps.append(_run_step(cls, run))
    return steps


@functools.cache
def entity_encoder(cls: type) -> Writer:
    """A writer appending one `cls` entity, given as a dict of plain values (or a kio entity)."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    steps = _plain_steps(cls, hints, [f for f in fields if f.metadata.get("tag") is None])
    tagged = sorted(
        (
            # kio writes tagged fields as non-nullable values and leaves out default ones.
            _Tagged(
                f.metadata["tag"],
                f.name,
                _field_writer(cls, f, _unwrap_optional(hints[f.name])[0]),
                _tag_default(f),
            )
            for f in fields
            if f.metadata.get("tag") is not None
        ),
        key=lambda t: t.tag,
    )
    tag_names = tuple(t.name for t in tagged)
    flexible = cls.__flexible__
    kio_writer = entity_writer(cls)

    def write(out: bytearray, value: Any) -> None:
        if not isinstance(value, dict):
            buf = io.BytesIO()
            kio_writer(buf, value)
            out += buf.getvalue()
            return
        for step in steps:
            step(out, value)
        if not flexible:
            return
        for name in tag_names:
            if value.get(name) is not None:
                break
        else:
            out.append(0)  # no tagged fields: the common case
            return
        section = bytearray()
        count = 0
        for t in tagged:
            v = value.get(t.name)
            if v is None:
                continue
            v = convert(cls, t.name, v)
            if v == t.default:
                continue
            encoded = bytearray()
            t.write(encoded, v)
            _uvarint(section, t.tag)
            _uvarint(section, len(encoded))
            section += encoded
            count += 1
        _uvarint(out, count)
        out += section

    return write


def _tag_default(f: dataclasses.Field[Any]) -> Any:
    default = _default(f)
    if default is dataclasses.MISSING:
        # Every tagged field of Kafka's schemas has a default; kio derives one otherwise.
        from kio.serial._implicit_defaults import get_tagged_field_default

        default = get_tagged_field_default(f)
    return default


# -- whole frames ----------------------------------------------------------------------------


def encode_response_fields(cls: type, correlation_id: int, fields: dict[str, Any]) -> bytes:
    """A response frame with its size prefix: header (v0, or v1 when flexible) and body.

    ``fields`` are what a handler returns; `cls` is the response class of the request's version
    (ApiVersions' header is v0 in every version, as kio's header schema says).
    """
    out = bytearray(b"\0\0\0\0")
    out += _PACK_I32(correlation_id)
    if cls.__header_schema__.__flexible__:
        out.append(0)
    entity_encoder(cls)(out, fields)
    _SIZE.pack_into(out, 0, len(out) - 4)
    return bytes(out)


def encode_request_fields(
    cls: type, correlation_id: int, client_id: str | None, fields: dict[str, Any]
) -> bytes:
    """A request frame with its size prefix, for the broker's own requests to its peers."""
    out = bytearray(b"\0\0\0\0")
    out += struct.pack(">hhi", cls.__api_key__, cls.__version__, correlation_id)
    _legacy_bytes_writer(True, _PACK_I16, "client_id")(out, client_id)
    if cls.__header_schema__.__flexible__:
        out.append(0)
    entity_encoder(cls)(out, fields)
    _SIZE.pack_into(out, 0, len(out) - 4)
    return bytes(out)
