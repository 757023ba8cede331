"""A minimal blocking Kafka protocol client for tests that need exact requests and answers.

Requests are built from plain values with ``protocol.build`` for any version kio knows, sent on a
plain socket, and the decoded kio response is returned. One connection carries one request at a
time, as Kafka clients do; parked requests (JoinGroup, SyncGroup) block the calling thread.
"""

from __future__ import annotations

import itertools
import socket
import struct
import time
from typing import Any

from kafkabook.protocol.build import build
from kafkabook.protocol.framing import decode_response, encode_request, request_class

_SIZE = struct.Struct(">i")


class Wire:
    """One connection to one broker."""

    def __init__(self, host: str, port: int, client_id: str = "kwire", timeout: float = 30) -> None:
        self.address = (host, port)
        self.client_id = client_id
        self.sock = socket.create_connection(self.address, timeout=timeout)
        self._ids = itertools.count(1)

    @classmethod
    def to(cls, address: str, **kwargs: Any) -> Wire:
        host, port = address.rsplit(":", 1)
        return cls(host, int(port), **kwargs)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError(f"{self.address} closed the connection")
            data += chunk
        return data

    def call(self, api_key: int, version: int, **fields: Any) -> Any:
        body = build(request_class(api_key, version), **fields)
        correlation = next(self._ids)
        self.sock.sendall(encode_request(body, correlation, self.client_id))
        (size,) = _SIZE.unpack(self._read(4))
        got, response = decode_response(api_key, version, self._read(size))
        assert got == correlation
        return response


def first_broker(bootstrap: str) -> str:
    return bootstrap.split(",")[0]


def find_coordinator(bootstrap: str, group_id: str, timeout: float = 30) -> str:
    """The coordinator's "host:port", once it answers for the group: FindCoordinator answers
    COORDINATOR_NOT_AVAILABLE while __consumer_offsets is created, and the coordinator
    NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS until it has loaded its partition."""
    deadline = time.monotonic() + timeout
    with Wire.to(first_broker(bootstrap)) as wire:
        while True:
            answer = wire.call(10, 3, key=group_id, key_type=0)
            if answer.error_code == 0:
                address = f"{answer.host}:{answer.port}"
                try:
                    with Wire.to(address) as coordinator:
                        fetched = coordinator.call(
                            9,
                            8,
                            groups=[{"group_id": group_id, "topics": None}],
                            require_stable=False,
                        )
                    if fetched.groups[0].error_code == 0:
                        return address
                except OSError:
                    pass  # a coordinator that just died: ask again
            if time.monotonic() > deadline:
                raise TimeoutError(f"no coordinator for {group_id}: {answer.error_code!r}")
            time.sleep(0.2)
