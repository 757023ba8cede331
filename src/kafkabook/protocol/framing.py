"""Kafka frames to kio entities and back, for requests and responses. No I/O here.

A frame is what follows the 4-byte size prefix on the wire: the request header (v1, or v2 for
flexible versions) and the body. Responses carry header v0, or v1 for flexible versions, except
ApiVersions, whose response header is always v0 so that any client can read it.

>>> from kio.schema.metadata.v12.request import MetadataRequest
>>> wire = encode_request(MetadataRequest(topics=None, allow_auto_topic_creation=False,
...                                        include_topic_authorized_operations=False), 7, "doc")
>>> decode_request(wire[4:]).correlation_id
7
"""

from __future__ import annotations

import functools
import io
import struct
from dataclasses import dataclass
from typing import Any

from kio.index import UnknownAPIKey, UnknownEntity, load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

_KEY_VERSION_CORRELATION = struct.Struct(">hhi")
_SIZE = struct.Struct(">i")


class FrameError(Exception):
    """The frame cannot be decoded; `correlation_id` is set when the header was readable."""

    def __init__(
        self,
        message: str,
        api_key: int = -1,
        api_version: int = -1,
        correlation_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.api_key = api_key
        self.api_version = api_version
        self.correlation_id = correlation_id


class UnsupportedVersion(FrameError):
    """kio has no schema for this (api key, version)."""


@dataclass(frozen=True, slots=True)
class RequestFrame:
    """A decoded request: header fields and the kio request body."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body: Any


@functools.cache
def request_class(api_key: int, version: int) -> type:
    return load_request_schema(api_key, version)


@functools.cache
def response_class(api_key: int, version: int) -> type:
    return load_response_schema(api_key, version)


@functools.cache
def _reader(cls: type) -> Any:
    return entity_reader(cls)


@functools.cache
def _writer(cls: type) -> Any:
    return entity_writer(cls)


def peek_header(frame: bytes) -> tuple[int, int, int]:
    """(api_key, api_version, correlation_id) of a request frame, without decoding the rest."""
    if len(frame) < _KEY_VERSION_CORRELATION.size:
        raise FrameError(f"frame of {len(frame)} bytes is shorter than a request header")
    return _KEY_VERSION_CORRELATION.unpack_from(frame)


def decode_request(frame: bytes) -> RequestFrame:
    """Decode a request frame (without its size prefix) into header fields and a kio body."""
    api_key, api_version, correlation_id = peek_header(frame)
    try:
        cls = request_class(api_key, api_version)
    except (UnknownAPIKey, UnknownEntity):
        raise UnsupportedVersion(
            f"unsupported api key {api_key} version {api_version}",
            api_key,
            api_version,
            correlation_id,
        ) from None
    try:
        header, offset = _reader(cls.__header_schema__)(frame, 0)
        body, _ = _reader(cls)(frame, offset)
    except Exception as exc:  # kio raises several types for truncated or garbled input
        raise FrameError(
            f"cannot decode api key {api_key} v{api_version}: {exc}",
            api_key,
            api_version,
            correlation_id,
        ) from None
    # Bytes after the body are ignored, as Kafka's request parser ignores them (librdkafka sends
    # a few after some Metadata versions).
    return RequestFrame(api_key, api_version, correlation_id, header.client_id, body)


def encode_response(api_key: int, api_version: int, correlation_id: int, body: Any) -> bytes:
    """Encode a response body with its header and size prefix, ready for the socket."""
    cls = type(body)
    header_cls = cls.__header_schema__
    buf = io.BytesIO()
    buf.write(b"\0\0\0\0")
    _writer(header_cls)(buf, header_cls(correlation_id=correlation_id))
    _writer(cls)(buf, body)
    out = buf.getbuffer()
    _SIZE.pack_into(out, 0, len(out) - 4)
    return bytes(out)


def encode_request(body: Any, correlation_id: int, client_id: str | None) -> bytes:
    """Encode a request (for the broker's own replica fetcher and readiness probes)."""
    cls = type(body)
    header_cls = cls.__header_schema__
    buf = io.BytesIO()
    buf.write(b"\0\0\0\0")
    _writer(header_cls)(
        buf,
        header_cls(
            request_api_key=cls.__api_key__,
            request_api_version=cls.__version__,
            correlation_id=correlation_id,
            client_id=client_id,
        ),
    )
    _writer(cls)(buf, body)
    out = buf.getbuffer()
    _SIZE.pack_into(out, 0, len(out) - 4)
    return bytes(out)


def decode_response(api_key: int, api_version: int, frame: bytes) -> tuple[int, Any]:
    """Decode a response frame (without size prefix): (correlation_id, body)."""
    cls = response_class(api_key, api_version)
    header, offset = _reader(cls.__header_schema__)(frame, 0)
    body, _ = _reader(cls)(frame, offset)
    return header.correlation_id, body
