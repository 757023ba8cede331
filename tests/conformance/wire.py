"""A small blocking Kafka protocol client: exact requests in, decoded answers out.

The conformance scenarios send the same request, at the same version, to the bundled cluster
and to real Kafka, so what differs is the broker and nothing else. Requests are built from plain
values with ``kafkabook.protocol.build`` and answers are kio entities; `plain` turns an answer
into dicts, lists and ints that compare and print well.

>>> with Wire.to("127.0.0.1:9092") as wire:                       # doctest: +SKIP
...     md = wire.call(3, 12, topics=None, allow_auto_topic_creation=False,
...                    include_topic_authorized_operations=False)
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import itertools
import socket
import struct
import uuid
from typing import Any

from kafkabook.protocol.build import build
from kafkabook.protocol.framing import decode_response, encode_request, request_class

_SIZE = struct.Struct(">i")

#: The API versions every scenario uses, on both backends (test_versions checks both offer them).
#: Fetch and Produce stay below the versions that name topics by id only.
VERSIONS = {
    "Produce": (0, 9),
    "Fetch": (1, 12),
    "ListOffsets": (2, 8),
    "Metadata": (3, 12),
    "ApiVersions": (18, 3),
    "CreateTopics": (19, 7),
    "DeleteTopics": (20, 6),
    "DeleteRecords": (21, 2),
    "InitProducerId": (22, 4),
    "DescribeConfigs": (32, 4),
    "AlterConfigs": (33, 2),
    "CreatePartitions": (37, 3),
    "IncrementalAlterConfigs": (44, 1),
    "DescribeCluster": (60, 1),
}


class Wire:
    """One connection to one broker; one request in flight at a time."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.address = (host, port)
        self.sock = socket.create_connection(self.address, timeout=timeout)
        self._ids = itertools.count(1)

    @classmethod
    def to(cls, address: str, timeout: float = 30.0) -> Wire:
        host, port = address.rsplit(":", 1)
        return cls(host, int(port), timeout=timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = self.sock.recv(n)
            if not chunk:
                raise ConnectionError(f"{self.address} closed the connection")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def send(self, api: str | tuple[int, int], **fields: Any) -> tuple[int, int, int]:
        """Send one request without reading an answer (Produce with acks=0 gets none):
        (api key, version, correlation id)."""
        key, version = VERSIONS[api] if isinstance(api, str) else api
        body = build(request_class(key, version), **fields)
        correlation = next(self._ids)
        self.sock.sendall(encode_request(body, correlation, "kafkabook-conformance"))
        return key, version, correlation

    def call(self, api: str | tuple[int, int], **fields: Any) -> Any:
        """Send one request (`api` is a name from VERSIONS or (key, version)) and decode its
        answer."""
        key, version, correlation = self.send(api, **fields)
        (size,) = _SIZE.unpack(self._read(4))
        got, response = decode_response(key, version, self._read(size))
        if got != correlation:
            raise AssertionError(f"correlation id {got}, expected {correlation}")
        return response


def plain(value: Any) -> Any:
    """A kio entity as plain data: dataclasses to dicts, tuples to lists, error codes and
    enums to ints, timedeltas to milliseconds, UUIDs and datetimes to strings/ms."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return int(value.value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, datetime.timedelta):
        return int(value / datetime.timedelta(milliseconds=1))
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
