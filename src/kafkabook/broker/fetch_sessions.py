"""Incremental fetch sessions (KIP-227), as pure bookkeeping over partition keys.

A client opens a session with epoch 0, then sends only the partitions that changed, with the
session's next epoch. The broker answers only partitions with news (records, a moved high
watermark or log start offset, or an error).

>>> cache = FetchSessionCache()
>>> session = cache.open()
>>> session.epoch
1
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

MAX_SESSIONS = 1000
IDLE_EVICT_S = 120


@dataclass(slots=True)
class SessionPartition:
    fetch_offset: int
    max_bytes: int
    current_leader_epoch: int
    # What the client was last told, to decide whether it needs to hear about this partition.
    last_high_watermark: int = -1
    last_log_start: int = -1


@dataclass
class FetchSession:
    session_id: int
    epoch: int = 1
    partitions: dict[tuple[str, int], SessionPartition] = field(default_factory=dict)
    last_used: float = field(default_factory=time.monotonic)


class FetchSessionCache:
    """Sessions of one broker, by id; least recently used ones are evicted past the limit."""

    def __init__(self) -> None:
        self._sessions: dict[int, FetchSession] = {}
        self._ids = itertools.count(1)

    def open(self) -> FetchSession:
        self._evict()
        session = FetchSession(next(self._ids))
        self._sessions[session.session_id] = session
        return session

    def get(self, session_id: int) -> FetchSession | None:
        return self._sessions.get(session_id)

    def close(self, session_id: int) -> None:
        self._sessions.pop(session_id, None)

    def _evict(self) -> None:
        now = time.monotonic()
        for sid, s in list(self._sessions.items()):
            if now - s.last_used > IDLE_EVICT_S:
                del self._sessions[sid]
        while len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda s: s.last_used)
            del self._sessions[oldest.session_id]
