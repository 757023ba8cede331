"""Wake-ups without polling: a waiter awaits one future that any of several signals can resolve.

A Fetch request covering many partitions waits for *any* of them to grow; a Produce with acks=all
waits for one partition's high watermark. Both register a future with each `Signal` they care
about; `notify()` resolves every registered future once.

>>> import asyncio
>>> async def demo():
...     s = Signal()
...     waiter = asyncio.get_running_loop().create_future()
...     s.add(waiter)
...     s.notify()
...     return waiter.done()
>>> asyncio.run(demo())
True
"""

from __future__ import annotations

import asyncio
from typing import Any


class Signal:
    """A set of futures resolved together when something changes."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[Any]] = set()

    def add(self, waiter: asyncio.Future[Any]) -> None:
        self._waiters.add(waiter)

    def discard(self, waiter: asyncio.Future[Any]) -> None:
        self._waiters.discard(waiter)

    def notify(self) -> None:
        if not self._waiters:
            return
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def _expire(waiter: asyncio.Future[bool | None]) -> None:
    if not waiter.done():
        waiter.set_result(False)


async def wait_any(signals: list[Signal], timeout: float) -> bool:
    """Wait until one of `signals` fires or `timeout` seconds pass; True when one fired."""
    if timeout <= 0:
        return False
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[bool | None] = loop.create_future()
    for s in signals:
        s.add(waiter)
    # A signal resolves the future with None, the timer with False. Lighter than
    # asyncio.wait_for, which wraps the future again; this runs once or more per Fetch and
    # per acks=all Produce.
    timer = loop.call_later(timeout, _expire, waiter)
    try:
        return await waiter is None
    finally:
        timer.cancel()
        for s in signals:
            s.discard(waiter)
