"""Build kio response entities from plain values, whatever the API version.

Handlers describe a response once, as keyword arguments and nested dicts. `build` keeps the
fields that the requested version has, drops the rest, turns nested dicts into that version's
nested classes and milliseconds into timedeltas. So one handler serves every version, and a field
added in v9 simply disappears from a v3 answer, as in Kafka's generated code.

>>> from kio.schema.heartbeat.v4.response import HeartbeatResponse
>>> build(HeartbeatResponse, error_code=0, throttle_time=0, unused=1).error_code
<ErrorCode.none: 0>
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import typing
import uuid
from typing import Any

from kio.schema.errors import ErrorCode

_ZERO_UUID = uuid.UUID(int=0)

# Field kinds, resolved once per class.
_PLAIN, _ENTITY, _ENTITIES, _MILLIS, _ERROR, _UUID, _DATETIME = range(7)


@functools.cache
def _plan(cls: type) -> tuple[tuple[str, int, type | None], ...]:
    hints = typing.get_type_hints(cls)
    plan = []
    for f in dataclasses.fields(cls):
        kind, sub = _PLAIN, None
        hint = hints[f.name]
        kafka_type = f.metadata.get("kafka_type")
        if type(None) in typing.get_args(hint):  # Optional[X]: plan for X, None passes through
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        args = typing.get_args(hint)
        if kafka_type in ("timedelta_i32", "timedelta_i64"):
            kind = _MILLIS
        elif kafka_type == "datetime_i64":
            kind = _DATETIME
        elif kafka_type == "error_code":
            kind = _ERROR
        elif kafka_type == "uuid":
            kind = _UUID
        elif dataclasses.is_dataclass(hint):
            kind, sub = _ENTITY, hint
        elif args and dataclasses.is_dataclass(args[0]):
            # tuple[Entity, ...] or Entity | None
            kind = _ENTITIES if typing.get_origin(hint) is tuple else _ENTITY
            sub = args[0]
        plan.append((f.name, kind, sub))
    return tuple(plan)


def _convert(kind: int, sub: type | None, value: Any) -> Any:
    if value is None:
        return None
    if kind == _PLAIN:
        return tuple(value) if isinstance(value, list) else value
    if kind == _ERROR:
        return value if isinstance(value, ErrorCode) else ErrorCode(value)
    if kind == _MILLIS:
        return (
            value
            if isinstance(value, datetime.timedelta)
            else datetime.timedelta(milliseconds=value)
        )
    if kind == _UUID:
        return (
            value if isinstance(value, uuid.UUID) else (uuid.UUID(value) if value else _ZERO_UUID)
        )
    if kind == _DATETIME:
        if isinstance(value, datetime.datetime):
            return value
        return datetime.datetime.fromtimestamp(value / 1000, tz=datetime.UTC)
    if kind == _ENTITY:
        return value if dataclasses.is_dataclass(value) else build(sub, **value)
    return tuple(v if dataclasses.is_dataclass(v) else build(sub, **v) for v in value)


def build(cls: type, /, **values: Any) -> Any:
    """Instantiate kio entity `cls` from `values`, ignoring fields this version lacks."""
    kwargs = {}
    for name, kind, sub in _plan(cls):
        if name in values:
            kwargs[name] = _convert(kind, sub, values[name])
    return cls(**kwargs)


def convert(cls: type, name: str, value: Any) -> Any:
    """`value` for field `name` of `cls` as kio holds it (entities built, millis as timedeltas)."""
    for field, kind, sub in _plan(cls):
        if field == name:
            return _convert(kind, sub, value)
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def field_names(cls: type) -> frozenset[str]:
    """The field names of one kio entity version."""
    return frozenset(name for name, _, _ in _plan(cls))
