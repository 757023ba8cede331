"""The broker's network shell: accept connections, read frames, dispatch, write responses.

This is the only code that touches client sockets. Each connection handles one request at a
time, in order, as Kafka does (it mutes a channel while a request is in flight), so responses
always leave in the order the requests arrived.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import struct
from typing import TYPE_CHECKING

from ..protocol.encode import encode_response_fields
from ..protocol.errors import ErrorCode
from ..protocol.framing import (
    FrameError,
    UnsupportedVersion,
    decode_request,
    response_class,
)
from .handlers import REGISTRY, load_all

if TYPE_CHECKING:
    from .broker import Broker

log = logging.getLogger("kafkabook.broker.server")

_SIZE = struct.Struct(">i")
API_VERSIONS_KEY = 18
# The (host, port) of the client whose request is being handled: handlers that report client
# hosts (DescribeGroups) read it. Each request runs in a task of its own, so it is per request.
CLIENT_ADDRESS: contextvars.ContextVar[tuple | None] = contextvars.ContextVar(
    "client_address", default=None
)
# Requests of one connection being handled at once; clients rarely have more than 5 in flight.
MAX_IN_FLIGHT = 100


class Server:
    """The Kafka listener of one broker."""

    def __init__(self, broker: Broker, host: str, port: int, max_request_bytes: int) -> None:
        self.broker = broker
        self.host = host
        self.port = port
        self.max_request_bytes = max_request_bytes
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()
        load_all()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=1 << 20)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read requests and start handling each at once; answer them strictly in order.

        Kafka mutes a connection while a request is in flight. We keep reading instead, so an
        acks=all Produce waiting for replication does not hold back the next one (the
        replicas fetch both at once), while responses still leave in request order, which is
        all a client can observe. Handlers start in arrival order and append before their
        first await, so records keep their order too.
        """
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        in_flight: asyncio.Queue[asyncio.Task[bytes | bool | None] | None] = asyncio.Queue(
            MAX_IN_FLIGHT
        )
        responder = asyncio.create_task(self._respond(in_flight, writer, peer))
        try:
            while not responder.done():
                frame = await self._read_frame(reader, peer)
                if frame is None:
                    break
                await in_flight.put(asyncio.create_task(self._handle(frame, peer)))
            if not responder.done():
                await in_flight.put(None)
                await responder
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("connection from %s failed", peer)
        finally:
            responder.cancel()
            while not in_flight.empty():
                pending = in_flight.get_nowait()
                if pending is not None:
                    pending.cancel()
            self._connections.discard(task)
            writer.close()

    async def _read_frame(self, reader: asyncio.StreamReader, peer: object) -> bytes | None:
        """The next request frame, or None when the connection ends or breaks the rules."""
        try:
            size_bytes = await reader.readexactly(4)
            (size,) = _SIZE.unpack(size_bytes)
            if size < 0 or size > self.max_request_bytes:
                log.warning(
                    "closing connection from %s: request size %d is outside 0..%d "
                    "(socket.request.max.bytes)",
                    peer,
                    size,
                    self.max_request_bytes,
                )
                return None
            return await reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    async def _respond(
        self,
        in_flight: asyncio.Queue[asyncio.Task[bytes | bool | None] | None],
        writer: asyncio.StreamWriter,
        peer: object,
    ) -> None:
        """Write each request's response in arrival order; stop at a request that closes."""
        while (pending := await in_flight.get()) is not None:
            response = await pending
            if response is False:
                writer.close()
                return
            if response:
                writer.write(response)
                await writer.drain()

    async def _handle(self, frame: bytes, peer: object) -> bytes | bool | None:
        """The encoded response, None when none is due, False to close the connection."""
        try:
            request = decode_request(frame)
        except UnsupportedVersion as exc:
            if exc.api_key == API_VERSIONS_KEY and exc.correlation_id is not None:
                # KIP-511: answer an unknown ApiVersions version at v0 with our ranges.
                return api_versions_error_v0(exc.correlation_id)
            log.warning("closing connection from %s: %s", peer, exc)
            return False
        except FrameError as exc:
            log.warning("closing connection from %s: malformed request: %s", peer, exc)
            return False
        api = REGISTRY.get(request.api_key)
        if api is None or not api.min_version <= request.api_version <= api.max_version:
            if request.api_key == API_VERSIONS_KEY:
                return api_versions_error_v0(request.correlation_id)
            log.warning(
                "closing connection from %s: unsupported api key %d version %d",
                peer,
                request.api_key,
                request.api_version,
            )
            return False
        try:
            CLIENT_ADDRESS.set(peer if isinstance(peer, tuple) else None)
            fields = await api.handle(self.broker, request)
        except Exception:
            log.exception(
                "handler for %s v%d failed; closing the connection", api.name, request.api_version
            )
            return False
        if fields is None:
            return None
        cls = response_class(request.api_key, request.api_version)
        return encode_response_fields(cls, request.correlation_id, fields)


def supported_ranges() -> list[dict[str, int]]:
    """ApiVersions' api_keys list: every registered API with its version range."""
    load_all()
    return [
        {"api_key": a.key, "min_version": a.min_version, "max_version": a.max_version}
        for a in sorted(REGISTRY.values(), key=lambda a: a.key)
    ]


def api_versions_error_v0(correlation_id: int) -> bytes:
    """KIP-511's answer to an ApiVersions version we lack: v0, with the ranges we support."""
    return encode_response_fields(
        response_class(API_VERSIONS_KEY, 0),
        correlation_id,
        {"error_code": ErrorCode.unsupported_version, "api_keys": supported_ranges()},
    )
