"""The broker's network shell: accept connections, read frames, dispatch, write responses.

This is the only code that touches client sockets. Responses leave each connection in the order
its requests arrived, as Kafka's do.
"""

from __future__ import annotations

import asyncio
import collections
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
        self.connections: set[Connection] = set()
        load_all()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self), self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        handlers = [t for c in self.connections for t in c.abort()]
        await asyncio.gather(*handlers, return_exceptions=True)

    async def handle(self, frame: bytes, peer: object) -> bytes | bool | None:
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


class Connection(asyncio.Protocol):
    """One client connection: frames in, each handled in a task of its own, answers in order.

    Kafka mutes a connection while a request is in flight. We keep reading instead, so an
    acks=all Produce waiting for replication does not hold back the next one (the replicas
    fetch both at once), while responses still leave in request order, which is all a client
    can observe. Handlers start in arrival order and append before their first await, so
    records keep their order too. A protocol rather than streams: a request costs one task
    and no reader or responder coroutines to wake.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peer: object = None
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        # Requests being handled, oldest first; a response leaves once all before it did.
        self._in_flight: collections.deque[asyncio.Task[bytes | bool | None]] = collections.deque()
        self._reading_paused = False
        self._writing_paused = False
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername")
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.server.connections.discard(self)
        for task in self._in_flight:
            task.cancel()
        self._in_flight.clear()

    def abort(self) -> list[asyncio.Task[bytes | bool | None]]:
        """Drop the connection at once; returns the cancelled handlers, to await."""
        handlers = list(self._in_flight)
        self._close()
        if self._transport is not None:
            self._transport.abort()
        return handlers

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        loop = asyncio.get_running_loop()
        while not self._closing and len(buffer) >= 4:
            (size,) = _SIZE.unpack_from(buffer)
            if size < 0 or size > self.server.max_request_bytes:
                log.warning(
                    "closing connection from %s: request size %d is outside 0..%d "
                    "(socket.request.max.bytes)",
                    self.peer,
                    size,
                    self.server.max_request_bytes,
                )
                self._close()
                return
            if len(buffer) < 4 + size:
                break
            frame = bytes(buffer[4 : 4 + size])
            del buffer[: 4 + size]
            task = loop.create_task(self.server.handle(frame, self.peer))
            self._in_flight.append(task)
            task.add_done_callback(self._answered)
        self._throttle()

    def eof_received(self) -> bool:
        # The client will send nothing more; answer what is in flight, then close.
        self._closing = True
        if not self._in_flight:
            self._close()
        return True

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._throttle()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._throttle()

    def _throttle(self) -> None:
        """Stop reading while many requests are in flight or the client reads no answers."""
        transport = self._transport
        if transport is None or self._closing:
            return
        busy = self._writing_paused or len(self._in_flight) >= MAX_IN_FLIGHT
        if busy and not self._reading_paused:
            transport.pause_reading()
            self._reading_paused = True
        elif not busy and self._reading_paused:
            transport.resume_reading()
            self._reading_paused = False

    def _answered(self, _: asyncio.Task[bytes | bool | None]) -> None:
        """Write every response whose turn has come; stop at a request that closes."""
        in_flight, transport = self._in_flight, self._transport
        while in_flight and in_flight[0].done():
            task = in_flight.popleft()
            if task.cancelled():
                continue
            try:
                response = task.result()
            except Exception:
                log.exception("request from %s failed; closing the connection", self.peer)
                response = False
            if response is False:
                self._close()
                return
            if response and transport is not None and not transport.is_closing():
                transport.write(response)
        if self._closing and not in_flight:
            self._close()
        else:
            self._throttle()

    def _close(self) -> None:
        self._closing = True
        for task in self._in_flight:
            task.cancel()
        self._in_flight.clear()
        if self._transport is not None:
            self._transport.close()


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
