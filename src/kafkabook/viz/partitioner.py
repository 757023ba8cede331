"""Where a producer sends a keyed record: Kafka's Java client and librdkafka, as pure functions.

Kafka's Java producer (and aiokafka, kafka-python, franz-go's compatible mode) place a record
with a key by

    partition = toPositive(murmur2(keyBytes)) % numPartitions

where ``murmur2`` is the 32-bit MurmurHash2 of the serialized key with Kafka's seed, read as a
Java ``int`` (so it can be negative), and ``toPositive(n)`` is ``n & 0x7fffffff`` (not
``abs``: ``abs(Integer.MIN_VALUE)`` is still negative). A record without a key (null) is not
hashed: the Java client's built-in partitioner sticks to one partition until a batch is full,
then moves on (KIP-480, KIP-794), and aiokafka picks a random available partition.

librdkafka (confluent-kafka, kcat and the other bindings) defaults to ``consistent_random``:
the CRC-32 of the key modulo the partition count, and a random partition when the key is null
or empty (kept for ``sticky.partitioning.linger.ms``, 10 ms by default). So the same key can
land on different partitions depending on the client.

The murmur2 here is aiokafka's own implementation (the unsigned 32-bit value), turned into the
Java ``int`` that Kafka's ``Utils.murmur2`` returns.

>>> murmur2(b"foobar")
-790332482
>>> to_positive(-790332482)
1357151166
>>> java_partition(b"foobar", 6)
0
>>> librdkafka_partition(b"foobar", 6)
5
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiokafka.partitioner import murmur2 as _aiokafka_murmur2

#: How the text typed into the hashing widget becomes key bytes, as Kafka's serializers do.
SERIALIZERS: dict[str, str] = {
    "string": "string (UTF-8, StringSerializer)",
    "int": "int (4 bytes big-endian, IntegerSerializer)",
    "long": "long (8 bytes big-endian, LongSerializer)",
    "hex": "raw bytes, written in hex",
}


def to_signed32(value: int) -> int:
    """The Java ``int`` with the same 32 bits as ``value``.

    >>> to_signed32(0xFFFFFFFF)
    -1
    """
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2(data)``: the seeded MurmurHash2 as a signed 32-bit int.

    >>> murmur2(b"21")
    -973932308
    """
    return to_signed32(_aiokafka_murmur2(bytes(data)))


def to_positive(value: int) -> int:
    """Kafka's ``Utils.toPositive``: clear the sign bit (``value & 0x7fffffff``).

    >>> to_positive(-1)
    2147483647
    """
    return value & 0x7FFFFFFF


def java_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's Java producer picks for a non-null ``key`` (BuiltInPartitioner).

    >>> java_partition(b"abc", 4)
    3
    """
    _check_count(partitions)
    return to_positive(murmur2(key)) % partitions


def crc32(data: bytes) -> int:
    """The CRC-32 (IEEE, as zlib and librdkafka's rd_crc32 compute it), unsigned.

    >>> crc32(b"abc")
    891568578
    """
    return zlib.crc32(bytes(data)) & 0xFFFFFFFF


def librdkafka_partition(key: bytes | None, partitions: int) -> int | None:
    """The partition librdkafka's default partitioner (consistent_random) picks.

    None means "random": librdkafka picks any available partition for a null or empty key.

    >>> librdkafka_partition(b"abc", 4)
    2
    >>> librdkafka_partition(b"", 4) is None
    True
    """
    _check_count(partitions)
    if not key:
        return None
    return crc32(key) % partitions


def _check_count(partitions: int) -> None:
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")


def serialize_key(text: str, serializer: str = "string") -> bytes:
    """The bytes a Kafka serializer writes for ``text``; ValueError when it cannot.

    >>> serialize_key("42", "int")
    b'\\x00\\x00\\x00*'
    >>> serialize_key("0a ff", "hex")
    b'\\n\\xff'
    """
    if serializer == "string":
        return text.encode("utf-8")
    if serializer in ("int", "long"):
        try:
            number = int(text.strip(), 0)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        fmt, bits = (">i", 32) if serializer == "int" else (">q", 64)
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        if not low <= number <= high:
            raise ValueError(f"{number} does not fit in a {bits}-bit {serializer}")
        return struct.pack(fmt, number)
    if serializer == "hex":
        cleaned = "".join(text.split()).removeprefix("0x")
        try:
            return bytes.fromhex(cleaned)
        except ValueError:
            raise ValueError(f"{text!r} is not hex bytes (like 6b 65 79)") from None
    raise ValueError(f"unknown serializer {serializer!r}: use one of {', '.join(SERIALIZERS)}")


@dataclass(frozen=True, slots=True)
class Placement:
    """One key's way to a partition, every step shown.

    ``librdkafka`` is None for a null or empty key (librdkafka picks at random).
    ``error`` is set (and the numbers are not) when the text does not serialize.
    """

    text: str
    key: bytes | None
    partitions: int
    murmur2: int | None = None
    positive: int | None = None
    partition: int | None = None
    crc32: int | None = None
    librdkafka: int | None = None
    error: str | None = None

    @property
    def key_hex(self) -> str:
        return "" if self.key is None else self.key.hex(" ")

    @property
    def null(self) -> bool:
        """A record without a key: no hashing, the producer spreads such records itself."""
        return self.key is None and self.error is None


#: What the hashing widget reads as "no key at all" (a null key), and as the empty key.
NULL_KEY, EMPTY_KEY = "<null>", "<empty>"


def place(text: str | None, partitions: int, serializer: str = "string") -> Placement:
    """Serialize ``text`` and follow it through both partitioners.

    ``None`` (or the text ``<null>``) is a null key: no partition is computed.

    >>> p = place("foobar", 6)
    >>> (p.murmur2, p.positive, p.partition, p.librdkafka)
    (-790332482, 1357151166, 0, 5)
    >>> place(None, 6).null
    True
    """
    _check_count(partitions)
    if text is None or text == NULL_KEY:
        return Placement(text=NULL_KEY, key=None, partitions=partitions)
    try:
        key = b"" if text == EMPTY_KEY else serialize_key(text, serializer)
    except ValueError as exc:
        return Placement(text=text, key=None, partitions=partitions, error=str(exc))
    hashed = murmur2(key)
    return Placement(
        text=text,
        key=key,
        partitions=partitions,
        murmur2=hashed,
        positive=to_positive(hashed),
        partition=to_positive(hashed) % partitions,
        crc32=crc32(key),
        librdkafka=librdkafka_partition(key, partitions),
    )


def distribution(keys: Iterable[bytes], partitions: int) -> dict[str, tuple[int, ...]]:
    """How many of ``keys`` each partition gets, per partitioner.

    "java" counts murmur2 placements; "librdkafka" counts CRC-32 placements of the non-empty
    keys (empty keys go to a random partition there, so they are left out).

    >>> distribution([b"a", b"b", b"c", b"d"], 3)
    {'java': (0, 2, 2), 'librdkafka': (3, 0, 1)}
    """
    _check_count(partitions)
    java = [0] * partitions
    rdkafka = [0] * partitions
    for key in keys:
        java[java_partition(key, partitions)] += 1
        if key:
            rdkafka[crc32(key) % partitions] += 1
    return {"java": tuple(java), "librdkafka": tuple(rdkafka)}


def moved(keys: Sequence[bytes], before: int, after: int) -> int:
    """How many of ``keys`` change partition (Java partitioner) from ``before`` to ``after``.

    >>> moved([b"k%d" % i for i in range(1000)], 6, 6)
    0
    """
    return sum(java_partition(k, before) != java_partition(k, after) for k in keys)
