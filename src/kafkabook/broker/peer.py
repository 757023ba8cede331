"""A minimal Kafka client connection for broker-to-broker requests (replica fetching).

One request in flight at a time, like a follower's fetcher connection. Built on the same sans-io
framing the server uses.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from ..protocol.encode import encode_request_fields
from ..protocol.framing import decode_response

_SIZE = struct.Struct(">i")


class PeerConnection:
    """A connection to another broker: requests as plain values in, kio responses out."""

    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._correlation = 0

    async def request(self, cls: type, fields: dict[str, Any], timeout: float) -> Any:
        """Send a `cls` request made of `fields`; the decoded response, or OSError."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=1 << 20), timeout
            )
        assert self._reader is not None
        self._correlation += 1
        try:
            self._writer.write(
                encode_request_fields(cls, self._correlation, self.client_id, fields)
            )
            await self._writer.drain()
            # One timeout scope, not wait_for around each read: wait_for wraps a coroutine in
            # a task of its own, twice per replica fetch.
            async with asyncio.timeout(timeout):
                (size,) = _SIZE.unpack(await self._reader.readexactly(4))
                frame = await self._reader.readexactly(size)
        except (asyncio.IncompleteReadError, TimeoutError) as exc:
            self.close()
            raise ConnectionError(f"{self.host}:{self.port}: {exc!r}") from None
        except OSError:
            self.close()
            raise
        correlation, response = decode_response(cls.__api_key__, cls.__version__, frame)
        if correlation != self._correlation:
            self.close()
            raise ConnectionError(f"correlation id {correlation} != {self._correlation}")
        return response

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
