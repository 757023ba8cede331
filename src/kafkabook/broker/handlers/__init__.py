"""The dispatch table: one module per Kafka API, each registering its key and version range.

A handler is `async def handle(broker, request) -> dict | None`: it reads the kio request body
and the broker's state and returns the response's fields as plain values (nested dicts and lists
allowed). The server builds the version's kio response from them with `protocol.build`, so one
handler serves every version. Returning None sends nothing (Produce with acks=0).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
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


def load_all() -> dict[int, Api]:
    """Import every handler module so that each registers itself; returns the table."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return REGISTRY
