"""RPC framing and the client's behaviour on a misbehaving or vanishing controller."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest

from kafkabook.broker.controller.rpc import (
    FrameError,
    encode_frame,
    read_frame,
    write_frame,
)
from kafkabook.broker.controller_client import ControllerClient, ControllerError


def feed(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def test_frames_round_trip() -> None:
    async def scenario() -> None:
        reader = feed(encode_frame({"id": 1, "op": "x", "é": [1, None]}) + encode_frame({"id": 2}))
        assert await read_frame(reader) == {"id": 1, "op": "x", "é": [1, None]}
        assert await read_frame(reader) == {"id": 2}
        assert await read_frame(reader) is None  # clean end between frames

    asyncio.run(scenario())


def test_frame_limits_and_damage() -> None:
    async def scenario() -> None:
        with pytest.raises(FrameError):
            await read_frame(feed(struct.pack(">I", 1 << 30)), max_bytes=1 << 20)
        with pytest.raises(FrameError):
            await read_frame(feed(struct.pack(">I", 3) + b"[1]"))
        with pytest.raises(FrameError):
            await read_frame(feed(struct.pack(">I", 2) + b"\xff\xfe"))
        with pytest.raises(asyncio.IncompleteReadError):
            await read_frame(feed(struct.pack(">I", 10) + b"{}"))
        with pytest.raises(FrameError):
            encode_frame({"big": "x" * 100}, max_bytes=50)

    asyncio.run(scenario())


class FlakyController:
    """Answers describe_quorum; drops the connection on the first request of each other op."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await read_frame(reader)) is not None:
                op = request["op"]
                first = op not in self.seen
                self.seen.append(op)
                if first:
                    break  # the request arrived, then the controller "died"
                answer: dict[str, Any] = {"id": request["id"], "error": None, "op_was": op}
                if op == "create_topics":
                    answer.update(error="TOPIC_ALREADY_EXISTS", message="exists")
                await write_frame(writer, answer)
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def test_client_retries_only_safe_ops_after_a_lost_connection() -> None:
    async def scenario() -> None:
        fake = FlakyController()
        port = await fake.start()
        client = ControllerClient("127.0.0.1", port)
        try:
            # Read-only: sent again on a new connection, transparently.
            assert (await client.call("describe_quorum", timeout=5))["op_was"] == "describe_quorum"
            assert fake.seen == ["describe_quorum", "describe_quorum"]
            # A mutation may have been applied: the caller must be told, not a silent resend.
            with pytest.raises(ControllerError) as info:
                await client.call("create_topics", topics=[], validate_only=False, timeout=5)
            assert info.value.error == "NETWORK_EXCEPTION"
            assert fake.seen.count("create_topics") == 1
            # Errors from the controller carry their Kafka name, message and whole answer.
            with pytest.raises(ControllerError) as info:
                await client.call("create_topics", topics=[], validate_only=False, timeout=5)
            assert (info.value.error, info.value.message) == ("TOPIC_ALREADY_EXISTS", "exists")
            assert (
                info.value.response is not None and info.value.response["op_was"] == "create_topics"
            )
        finally:
            await client.close()
            await fake.stop()

    asyncio.run(scenario())


def test_client_waits_for_a_controller_that_starts_late() -> None:
    async def scenario() -> None:
        fake = FlakyController()
        fake.seen.append("describe_quorum")  # answer at once
        # Find a free port, then start listening on it only after the client began trying.
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = int(probe.sockets[0].getsockname()[1])
        probe.close()
        await probe.wait_closed()
        client = ControllerClient("127.0.0.1", port, backoff_max=0.1)
        try:
            with pytest.raises(ControllerError) as info:
                await client.call("describe_quorum", timeout=0.3)
            assert info.value.error == "REQUEST_TIMED_OUT"
            pending = asyncio.create_task(client.call("describe_quorum", timeout=5))
            await asyncio.sleep(0.3)
            fake.server = await asyncio.start_server(fake.serve, "127.0.0.1", port)
            assert (await pending)["op_was"] == "describe_quorum"
        finally:
            await client.close()
            await fake.stop()

    asyncio.run(scenario())
