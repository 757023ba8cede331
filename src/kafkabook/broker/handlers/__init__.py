"""The dispatch table: one module per Kafka API, each registering its key and version range.

A handler is `async def handle(broker, request) -> dict | None`: it reads the kio request body
and the broker's state and returns the response's fields as plain values (nested dicts and lists
allowed). The server builds the version's kio response from them with `protocol.build`, so one
handler serves every version. Returning None sends nothing (Produce with acks=0).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...protocol.framing import RequestFrame
    from ..broker import Broker

Handler = Callable[["Broker", "RequestFrame"], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Api:
    """A supported Kafka API: its key, name, version range and handler."""

    key: int
    name: str
    min_version: int
    max_version: int
    handle: Handler


REGISTRY: dict[int, Api] = {}


def api(key: int, name: str, min_version: int, max_version: int) -> Callable[[Handler], Handler]:
    """Register the decorated coroutine as the handler of API `key` for a version range."""

    def register(handler: Handler) -> Handler:
        REGISTRY[key] = Api(key, name, min_version, max_version, handler)
        return handler

    return register


def leader_hint(broker: Broker, topic: str, index: int) -> dict[str, int] | None:
    """The partition's leader as this broker knows it, for KIP-951's current_leader field of
    Produce (v10+) and Fetch (v16+) errors; None for a partition it does not know."""
    known = broker.image.topics.get(topic)
    state = known.partitions.get(index) if known is not None else None
    if state is None:
        return None
    return {"leader_id": state.leader, "leader_epoch": state.leader_epoch}


def node_endpoints(broker: Broker, leader_ids: Iterable[int]) -> list[dict[str, Any]]:
    """KIP-951's node_endpoints: where the live brokers among `leader_ids` listen, so a client
    can go to a new leader named in current_leader without a Metadata round trip."""
    endpoints = []
    for node_id in sorted(set(leader_ids)):
        info = broker.image.brokers.get(node_id)
        if info is not None and not info.fenced:
            endpoints.append(
                {"node_id": node_id, "host": info.host, "port": info.port, "rack": None}
            )
    return endpoints


def load_all() -> dict[int, Api]:
    """Import every handler module so that each registers itself; returns the table."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return REGISTRY
