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


# -- the client side ------------------------------------------------------------------------------

#: What a fetcher asks of one partition: (fetch_offset, current_leader_epoch, log_start_offset,
#: partition_max_bytes). A partition is sent again in an incremental request when this changed.
PartitionAsk = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class SessionRequest:
    """What one Fetch request carries under `SessionHandler`."""

    session_id: int
    epoch: int
    partitions: dict[tuple[str, int], PartitionAsk]
    forgotten: list[tuple[str, int]]


@dataclass
class SessionHandler:
    """The fetching side of one session with one broker (Kafka's FetchSessionHandler).

    The first request is a full one with epoch 0, asking for a session. Once the broker gave
    one, each request names only the partitions whose ask changed and the ones to forget, and
    the broker answers only partitions with news. Any failure starts a fresh session.

    >>> h = SessionHandler()
    >>> h.next_request({("t", 0): (5, 1, 0, 100), ("t", 1): (7, 1, 0, 100)}).epoch
    0
    >>> h.succeeded(session_id=42)
    >>> r = h.next_request({("t", 0): (6, 1, 0, 100), ("t", 1): (7, 1, 0, 100)})
    >>> (r.session_id, r.epoch, list(r.partitions))
    (42, 1, [('t', 0)])
    """

    session_id: int = 0
    epoch: int = 0
    # The asks the broker's session holds once the request in flight succeeds.
    _held: dict[tuple[str, int], PartitionAsk] = field(default_factory=dict)
    _pending: dict[tuple[str, int], PartitionAsk] | None = None

    def next_request(self, wanted: dict[tuple[str, int], PartitionAsk]) -> SessionRequest:
        """The request that brings the broker's view of the session to `wanted`."""
        self._pending = dict(wanted)
        if self.epoch == 0:
            # A full request: opens a session (closing ours, if the broker still holds it).
            return SessionRequest(self.session_id, 0, dict(wanted), [])
        changed = {k: ask for k, ask in wanted.items() if self._held.get(k) != ask}
        forgotten = [k for k in self._held if k not in wanted]
        return SessionRequest(self.session_id, self.epoch, changed, forgotten)

    def succeeded(self, session_id: int) -> None:
        """The broker answered the last request without a top-level error."""
        if self.epoch == 0:
            # session_id 0 means the broker keeps no session: every request stays a full one.
            self.session_id = session_id
            self.epoch = 1 if session_id else 0
        else:
            self.epoch = self.epoch + 1 if self.epoch < 2**31 - 1 else 1
        self._held = self._pending or {}
        self._pending = None

    def failed(self) -> None:
        """The request failed (a session error, a lost connection): start a new session."""
        self.epoch = 0
        self._held = {}
        self._pending = None
