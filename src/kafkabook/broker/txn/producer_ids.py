"""Producer ids for idempotent producers, taken from blocks the controller hands out (KIP-730).

>>> import asyncio
>>> async def demo():
...     async def allocate():
...         return 1000, 2
...     ids = ProducerIdBlocks(allocate)
...     return [await ids.next() for _ in range(3)]
>>> asyncio.run(demo())
[1000, 1001, 1000]
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class ProducerIdBlocks:
    """Hands out producer ids, fetching a new block from the controller when one runs out."""

    def __init__(self, allocate: Callable[[], Awaitable[tuple[int, int]]]) -> None:
        self._allocate = allocate
        self._next = 0
        self._end = 0
        self._lock = asyncio.Lock()

    async def next(self) -> int:
        async with self._lock:
            if self._next >= self._end:
                first, count = await self._allocate()
                self._next, self._end = first, first + count
            pid = self._next
            self._next += 1
            return pid
