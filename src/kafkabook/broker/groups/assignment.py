"""The consumer protocol carried opaquely inside JoinGroup and SyncGroup.

A classic group's coordinator never needs to understand member metadata, except in one place:
for a group of protocol type ``consumer`` it reads which topics the members subscribe to, so
that OffsetDelete can refuse to delete the offsets of a topic the group still consumes
(GROUP_SUBSCRIBED_TO_TOPIC). Kafka parses every subscription with the v0 layout, which is a
prefix of all later versions; so does :func:`subscription_topics`.

``ConsumerProtocolSubscription`` (v0 prefix)::

    version int16, topics [string], user_data bytes?, (v1+) owned_partitions ..., ...

``ConsumerProtocolAssignment`` (v0 prefix)::

    version int16, assigned_partitions [topic string, partitions [int32]], user_data bytes?

:func:`encode_subscription` and :func:`encode_assignment` write the v0 layouts (tests use them to
play a group leader with raw requests).

>>> subscription_topics(encode_subscription(["a", "b"]))
['a', 'b']
>>> assignment_partitions(encode_assignment({"a": [0, 2]}))
{'a': [0, 2]}
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping

PROTOCOL_TYPE = "consumer"

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(
                f"consumer protocol data ends at {len(self.data)}, needed {n} at {self.pos}"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return _I16.unpack(self.take(2))[0]

    def int32(self) -> int:
        return _I32.unpack(self.take(4))[0]

    def string(self) -> str:
        n = self.int16()
        if n < 0:
            raise ValueError("null string in consumer protocol data")
        return self.take(n).decode("utf-8")

    def count(self) -> int:
        n = self.int32()
        if n < 0:
            raise ValueError("null array in consumer protocol data")
        return n


def subscription_topics(metadata: bytes) -> list[str]:
    """The topics of a consumer's JoinGroup metadata; ValueError if it is not one."""
    cur = _Cursor(bytes(metadata))
    if cur.int16() < 0:
        raise ValueError("negative consumer protocol version")
    return [cur.string() for _ in range(cur.count())]


def assignment_partitions(assignment: bytes) -> dict[str, list[int]]:
    """The partitions a SyncGroup assignment gives, by topic (empty bytes: none)."""
    if not assignment:
        return {}
    cur = _Cursor(bytes(assignment))
    if cur.int16() < 0:
        raise ValueError("negative consumer protocol version")
    out: dict[str, list[int]] = {}
    for _ in range(cur.count()):
        topic = cur.string()
        out.setdefault(topic, []).extend(cur.int32() for _ in range(cur.count()))
    return out


def _string(value: str) -> bytes:
    raw = value.encode("utf-8")
    return _I16.pack(len(raw)) + raw


def encode_subscription(topics: Iterable[str], user_data: bytes | None = None) -> bytes:
    topics = list(topics)
    parts = [_I16.pack(0), _I32.pack(len(topics)), *(_string(t) for t in topics)]
    parts.append(_I32.pack(-1) if user_data is None else _I32.pack(len(user_data)) + user_data)
    return b"".join(parts)


def encode_assignment(
    partitions: Mapping[str, Iterable[int]], user_data: bytes | None = None
) -> bytes:
    parts = [_I16.pack(0), _I32.pack(len(partitions))]
    for topic, indexes in partitions.items():
        indexes = list(indexes)
        parts += [_string(topic), _I32.pack(len(indexes)), *(_I32.pack(i) for i in indexes)]
    parts.append(_I32.pack(-1) if user_data is None else _I32.pack(len(user_data)) + user_data)
    return b"".join(parts)
