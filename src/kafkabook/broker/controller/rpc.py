"""Framing of the controller RPC: a 4-byte big-endian length, then a UTF-8 JSON object.

Shared by the controller server and the broker's client. Frames are bounded
(:data:`MAX_FRAME_BYTES`) so that a confused peer cannot make either side allocate without
limit.

>>> frame = encode_frame({"id": 1, "op": "describe_quorum"})
>>> int.from_bytes(frame[:4], "big") == len(frame) - 4, decode_payload(frame[4:])
(True, {'id': 1, 'op': 'describe_quorum'})
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

#: Largest frame either side accepts or sends. A fetch_metadata answer is bounded by its
#: record count, so this only has to be comfortably above that.
MAX_FRAME_BYTES = 16 * 1024 * 1024

_LENGTH = struct.Struct(">I")


class FrameError(Exception):
    """A frame that is too large, or whose payload is not a JSON object."""


class RequestError(Exception):
    """Raised by a request handler: answered as ``{"error": error, "message": message}``."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def encode_frame(obj: dict[str, Any], max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """Length-prefixed UTF-8 JSON for ``obj``; :class:`FrameError` if it exceeds ``max_bytes``."""
    payload = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    if len(payload) > max_bytes:
        raise FrameError(f"frame of {len(payload)} bytes exceeds the limit of {max_bytes}")
    return _LENGTH.pack(len(payload)) + payload


def decode_payload(payload: bytes) -> dict[str, Any]:
    """Parse a frame's payload, which must be a JSON object.

    >>> decode_payload(b"[1]")
    Traceback (most recent call last):
    ...
    kafkabook.broker.controller.rpc.FrameError: frame payload is not a JSON object
    """
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FrameError(f"frame payload is not UTF-8 JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise FrameError("frame payload is not a JSON object")
    return obj


async def read_frame(
    reader: asyncio.StreamReader, max_bytes: int = MAX_FRAME_BYTES
) -> dict[str, Any] | None:
    """Read one frame. Returns ``None`` on a clean end of stream between frames.

    Raises ``asyncio.IncompleteReadError`` when the stream ends inside a frame, and
    :class:`FrameError` for an oversized or malformed frame (the connection is then unusable:
    the caller should close it, as the stream position is lost).
    """
    try:
        header = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    (length,) = _LENGTH.unpack(header)
    if length > max_bytes:
        raise FrameError(f"frame of {length} bytes exceeds the limit of {max_bytes}")
    return decode_payload(await reader.readexactly(length))


async def write_frame(
    writer: asyncio.StreamWriter, obj: dict[str, Any], max_bytes: int = MAX_FRAME_BYTES
) -> None:
    """Write one frame and wait until the transport has room again."""
    writer.write(encode_frame(obj, max_bytes))
    await writer.drain()
