"""The records of ``__consumer_offsets``, byte for byte as Apache Kafka writes them.

Every record's key and value start with an int16 *version*. For keys the version says which
record this is: 0 and 1 are offset commits (0 is the legacy spelling of the same layout), 2 is
group metadata; higher key versions belong to KIP-848 consumer groups, share groups and streams
groups, which the classic coordinator does not use (:func:`decode_key` reports them as
:class:`UnknownKey` so a loader can skip them). A null value is a tombstone: the offset, or the
group, is deleted.

Layouts (non-flexible versions; strings are int16 length + UTF-8, -1 for null; bytes are int32
length; arrays are int32 count)::

    OffsetCommitKey     v0/v1  group string, topic string, partition int32
    GroupMetadataKey    v2     group string
    OffsetCommitValue   v0     offset int64, metadata string, commit_timestamp int64
                        v1     ... + expire_timestamp int64 (written only when a v2-4 commit
                               carried a retention time)
                        v2     as v0
                        v3     offset int64, leader_epoch int32, metadata string,
                               commit_timestamp int64
                        v4     v3's fields, flexible (compact string), and tagged
                               field 0: topic_id uuid          <- what Kafka 4.4 writes
    GroupMetadataValue  v0     protocol_type string, generation int32, protocol string?,
                               leader string?, members [member_id, client_id, client_host,
                               session_timeout int32, subscription bytes, assignment bytes]
                        v1     members gain rebalance_timeout int32 (after client_host)
                        v2     current_state_timestamp int64 (after leader)
                        v3     members gain group_instance_id string? (after member_id)
                               <- what Kafka writes

Version 4 of both values is the first *flexible* one (compact strings, bytes and arrays, and a
tagged-field section after every struct). Kafka 4.4 writes OffsetCommitValue v4 (v1 when a
commit carries an expire timestamp), with the committed topic's id as tagged field 0, and
GroupMetadataValue v3; older versions are read too (a log may hold them).

>>> key = encode_key(OffsetCommitKey("g", "t", 0))
>>> key.hex()
'000100016700017400000000'
>>> decode_key(key)
OffsetCommitKey(group='g', topic='t', partition=0)
>>> partition_for("my-group", 50)
12
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

__all__ = [
    "GROUP_METADATA_KEY_VERSION",
    "OFFSET_COMMIT_KEY_VERSION",
    "CodecError",
    "GroupMetadataKey",
    "GroupMetadataValue",
    "MemberMetadata",
    "OffsetCommitKey",
    "OffsetCommitValue",
    "UnknownKey",
    "decode_group_value",
    "decode_key",
    "decode_offset_value",
    "encode_key",
    "encode_value",
    "java_string_hash",
    "partition_for",
]

LEGACY_OFFSET_COMMIT_KEY_VERSION = 0
OFFSET_COMMIT_KEY_VERSION = 1
GROUP_METADATA_KEY_VERSION = 2

#: The value versions this module reads and writes.
OFFSET_VALUE_VERSIONS = range(0, 5)
GROUP_VALUE_VERSIONS = range(0, 5)
FLEXIBLE_VERSION = 4
#: The tag of OffsetCommitValue's topicId (v4+).
TOPIC_ID_TAG = 0

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


class CodecError(ValueError):
    """Bytes that are not a valid record of the requested kind (truncated, bad version)."""


# ---------------------------------------------------------------------------------------------
# the coordinator partition of a group


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode()``: ``h = 31*h + c`` over UTF-16 code units, as a signed int32.

    >>> java_string_hash(""), java_string_hash("a"), java_string_hash("😀")
    (0, 97, 1772899)
    """
    units = text.encode("utf-16-be", "surrogatepass")
    h = 0
    for i in range(0, len(units), 2):
        h = (31 * h + ((units[i] << 8) | units[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(group_id: str, num_partitions: int) -> int:
    """The ``__consumer_offsets`` partition of a group: ``Utils.abs(hashCode) % partitions``.

    Kafka's ``Utils.abs`` maps ``Integer.MIN_VALUE`` to 0 (not to itself, as ``Math.abs``).

    >>> partition_for("polygenelubricants", 50)   # hashCode is Integer.MIN_VALUE
    0
    """
    h = java_string_hash(group_id)
    return (0 if h == -(1 << 31) else abs(h)) % num_partitions


# ---------------------------------------------------------------------------------------------
# the records


@dataclass(frozen=True, slots=True)
class OffsetCommitKey:
    group: str
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class GroupMetadataKey:
    group: str


@dataclass(frozen=True, slots=True)
class UnknownKey:
    """A key of a record type the classic coordinator ignores (KIP-848, share, streams)."""

    version: int


@dataclass(frozen=True, slots=True)
class OffsetCommitValue:
    offset: int
    metadata: str
    commit_timestamp: int
    leader_epoch: int = -1
    expire_timestamp: int = -1
    #: v4's tagged field 0: the id of the committed topic (None: not written).
    topic_id: uuid.UUID | None = None

    @property
    def default_version(self) -> int:
        """Kafka 4.4 writes v1 only to keep an explicit expire timestamp, v4 otherwise."""
        return 1 if self.expire_timestamp != -1 else 4


@dataclass(frozen=True, slots=True)
class MemberMetadata:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout: int
    session_timeout: int
    subscription: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class GroupMetadataValue:
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str | None
    current_state_timestamp: int = -1
    members: tuple[MemberMetadata, ...] = ()

    @property
    def default_version(self) -> int:
        return 3


# ---------------------------------------------------------------------------------------------
# primitive writer and reader (both the classic and the flexible encodings)


class _Writer:
    def __init__(self, flexible: bool) -> None:
        self.flexible = flexible
        self.out = bytearray()

    def int16(self, v: int) -> None:
        self.out += _I16.pack(v)

    def int32(self, v: int) -> None:
        self.out += _I32.pack(v)

    def int64(self, v: int) -> None:
        self.out += _I64.pack(v)

    def uvarint(self, v: int) -> None:
        while v >= 0x80:
            self.out.append((v & 0x7F) | 0x80)
            v >>= 7
        self.out.append(v)

    def _blob(self, raw: bytes | None, classic_len: struct.Struct) -> None:
        if self.flexible:
            if raw is None:
                self.uvarint(0)
            else:
                self.uvarint(len(raw) + 1)
                self.out += raw
        elif raw is None:
            self.out += classic_len.pack(-1)
        else:
            self.out += classic_len.pack(len(raw))
            self.out += raw

    def string(self, v: str | None) -> None:
        raw = None if v is None else v.encode("utf-8")
        if raw is not None and len(raw) > 0x7FFF:
            raise CodecError(f"string of {len(raw)} bytes is longer than 32767")
        self._blob(raw, _I16)

    def bytes_(self, v: bytes | None) -> None:
        self._blob(v, _I32)

    def array_len(self, n: int) -> None:
        if self.flexible:
            self.uvarint(n + 1)
        else:
            self.int32(n)

    def tags(self, tagged: dict[int, bytes] | None = None) -> None:
        """The tagged-field section: (tag, size, bytes) in ascending tag order."""
        if self.flexible:
            tagged = tagged or {}
            self.uvarint(len(tagged))
            for tag in sorted(tagged):
                self.uvarint(tag)
                self.uvarint(len(tagged[tag]))
                self.out += tagged[tag]


class _Reader:
    def __init__(self, data: bytes | bytearray | memoryview, pos: int, flexible: bool) -> None:
        self.data = memoryview(data)
        self.pos = pos
        self.flexible = flexible

    def _take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise CodecError(
                f"record ends at byte {len(self.data)}, needed {n} bytes at {self.pos}"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return _I16.unpack(self._take(2))[0]

    def int32(self) -> int:
        return _I32.unpack(self._take(4))[0]

    def int64(self) -> int:
        return _I64.unpack(self._take(8))[0]

    def uvarint(self) -> int:
        value = shift = 0
        while True:
            byte = self._take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 35:
                raise CodecError("unsigned varint longer than 5 bytes")

    def _blob(self, classic_len: int) -> bytes | None:
        n = self.uvarint() - 1 if self.flexible else classic_len
        return None if n < 0 else bytes(self._take(n))

    def string(self) -> str | None:
        raw = self._blob(0 if self.flexible else self.int16())
        try:
            return None if raw is None else raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CodecError(f"string is not UTF-8: {exc}") from exc

    def required_string(self, what: str) -> str:
        value = self.string()
        if value is None:
            raise CodecError(f"{what} is null")
        return value

    def bytes_(self) -> bytes | None:
        return self._blob(0 if self.flexible else self.int32())

    def array_len(self) -> int:
        n = self.uvarint() - 1 if self.flexible else self.int32()
        if n < 0:
            raise CodecError("array is null")
        return n

    def tags(self) -> dict[int, bytes]:
        """The tagged fields by tag; callers pick the ones they know and ignore the rest."""
        found: dict[int, bytes] = {}
        if self.flexible:
            for _ in range(self.uvarint()):
                tag = self.uvarint()
                found[tag] = bytes(self._take(self.uvarint()))
        return found


# ---------------------------------------------------------------------------------------------
# keys


def encode_key(key: OffsetCommitKey | GroupMetadataKey) -> bytes:
    """A record key: the record-type version, then the key struct (never flexible)."""
    w = _Writer(flexible=False)
    if isinstance(key, OffsetCommitKey):
        w.int16(OFFSET_COMMIT_KEY_VERSION)
        w.string(key.group)
        w.string(key.topic)
        w.int32(key.partition)
    else:
        w.int16(GROUP_METADATA_KEY_VERSION)
        w.string(key.group)
    return bytes(w.out)


def decode_key(
    data: bytes | bytearray | memoryview,
) -> OffsetCommitKey | GroupMetadataKey | UnknownKey:
    r = _Reader(data, 0, flexible=False)
    version = r.int16()
    if version in (LEGACY_OFFSET_COMMIT_KEY_VERSION, OFFSET_COMMIT_KEY_VERSION):
        return OffsetCommitKey(r.required_string("group"), r.required_string("topic"), r.int32())
    if version == GROUP_METADATA_KEY_VERSION:
        return GroupMetadataKey(r.required_string("group"))
    if version < 0:
        raise CodecError(f"negative key version {version}")
    return UnknownKey(version)


# ---------------------------------------------------------------------------------------------
# values


def encode_value(
    value: OffsetCommitValue | GroupMetadataValue, version: int | None = None
) -> bytes:
    """A record value: its version, then the value struct in that version's layout."""
    if version is None:
        version = value.default_version
    w = _Writer(flexible=version >= FLEXIBLE_VERSION)
    if isinstance(value, OffsetCommitValue):
        if version not in OFFSET_VALUE_VERSIONS:
            raise CodecError(f"OffsetCommitValue has no version {version}")
        w.int16(version)
        w.int64(value.offset)
        if version >= 3:
            w.int32(value.leader_epoch)
        w.string(value.metadata)
        w.int64(value.commit_timestamp)
        if version == 1:
            w.int64(value.expire_timestamp)
        # Kafka leaves a default (null, or all-zero) topic id out of the tagged fields.
        has_id = value.topic_id is not None and value.topic_id.int != 0
        w.tags({TOPIC_ID_TAG: value.topic_id.bytes} if has_id else None)
        return bytes(w.out)
    if version not in GROUP_VALUE_VERSIONS:
        raise CodecError(f"GroupMetadataValue has no version {version}")
    w.int16(version)
    w.string(value.protocol_type)
    w.int32(value.generation)
    w.string(value.protocol)
    w.string(value.leader)
    if version >= 2:
        w.int64(value.current_state_timestamp)
    w.array_len(len(value.members))
    for m in value.members:
        w.string(m.member_id)
        if version >= 3:
            w.string(m.group_instance_id)
        w.string(m.client_id)
        w.string(m.client_host)
        if version >= 1:
            w.int32(m.rebalance_timeout)
        w.int32(m.session_timeout)
        w.bytes_(m.subscription)
        w.bytes_(m.assignment)
        w.tags()
    w.tags()
    return bytes(w.out)


def _value_reader(
    data: bytes | bytearray | memoryview, versions: range, what: str
) -> tuple[int, _Reader]:
    version = _Reader(data, 0, flexible=False).int16()
    if version not in versions:
        raise CodecError(
            f"{what} version {version} is not one of {versions.start}..{versions.stop - 1}"
        )
    return version, _Reader(data, 2, flexible=version >= FLEXIBLE_VERSION)


def decode_offset_value(data: bytes | bytearray | memoryview) -> OffsetCommitValue:
    version, r = _value_reader(data, OFFSET_VALUE_VERSIONS, "OffsetCommitValue")
    offset = r.int64()
    leader_epoch = r.int32() if version >= 3 else -1
    metadata = r.required_string("metadata")
    commit_timestamp = r.int64()
    expire_timestamp = r.int64() if version == 1 else -1
    raw_id = r.tags().get(TOPIC_ID_TAG)
    if raw_id is not None and len(raw_id) != 16:
        raise CodecError(f"topic id tagged field has {len(raw_id)} bytes, not 16")
    topic_id = uuid.UUID(bytes=raw_id) if raw_id is not None else None
    return OffsetCommitValue(
        offset, metadata, commit_timestamp, leader_epoch, expire_timestamp, topic_id
    )


def decode_group_value(data: bytes | bytearray | memoryview) -> GroupMetadataValue:
    version, r = _value_reader(data, GROUP_VALUE_VERSIONS, "GroupMetadataValue")
    protocol_type = r.required_string("protocol_type")
    generation = r.int32()
    protocol = r.string()
    leader = r.string()
    state_ts = r.int64() if version >= 2 else -1
    members = []
    for _ in range(r.array_len()):
        member_id = r.required_string("member_id")
        instance_id = r.string() if version >= 3 else None
        client_id = r.required_string("client_id")
        client_host = r.required_string("client_host")
        rebalance_timeout = r.int32() if version >= 1 else -1  # the field's default before v1
        session_timeout = r.int32()
        subscription = r.bytes_() or b""
        assignment = r.bytes_() or b""
        r.tags()
        members.append(
            MemberMetadata(
                member_id,
                instance_id,
                client_id,
                client_host,
                rebalance_timeout,
                session_timeout,
                subscription,
                assignment,
            )
        )
    r.tags()
    return GroupMetadataValue(protocol_type, generation, protocol, leader, state_ts, tuple(members))
