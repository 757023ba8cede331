"""One partition replica hosted by this broker: its log, its role, its high watermark.

The broker owns one `Replica` per partition it hosts. Everything here runs on the broker's event
loop. Leaders track their followers' progress (fed by the followers' Fetch requests) and derive
the high watermark and ISR changes through the pure rules in `isr.py`; followers get their high
watermark from the leader's Fetch responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import records
from .isr import (
    FollowerProgress,
    caught_up_after_fetch,
    high_watermark,
    lagging_replicas,
    may_join_isr,
)
from .log import PartitionLog
from .txn.producer_state import ProducerStateManager
from .wakeup import Signal


class ProduceRejected(Exception):
    """The batch is refused; `error` is the Kafka error name (for example
    OUT_OF_ORDER_SEQUENCE_NUMBER)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True, slots=True)
class PartitionView:
    """The controller's view of a partition, as the broker last applied it from metadata."""

    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int
    partition_epoch: int


@dataclass(eq=False)
class Replica:
    """A partition's replica on this broker."""

    topic: str
    topic_id: str
    partition: int
    node_id: int
    log: PartitionLog
    view: PartitionView
    high_watermark: int = 0
    followers: dict[int, FollowerProgress] = field(default_factory=dict)
    # Leader LEO as of each follower's previous fetch, for Kafka's caught-up rule.
    leo_at_last_fetch: dict[int, int] = field(default_factory=dict)
    # Set while an ISR change is with the controller; no second one is sent meanwhile.
    isr_change_pending: bool = False
    # Fired when the log end offset moves: what a follower's parked fetch waits for.
    grew: Signal = field(default_factory=Signal)
    # Fired when the high watermark moves: what consumers' fetches and acks=all wait for.
    # Two signals, because at one record per request most wake-ups on a shared one found
    # nothing for the waiter (a consumer woken by an append it may not read yet).
    committed: Signal = field(default_factory=Signal)
    # Idempotent producers' sequence state, folded lazily from the log's batch headers.
    producers: ProducerStateManager = field(default_factory=ProducerStateManager)

    @property
    def is_leader(self) -> bool:
        return self.view.leader == self.node_id

    @property
    def leader_epoch(self) -> int:
        return self.view.leader_epoch

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def log_start_offset(self) -> int:
        return self.log.log_start_offset

    def apply_view(self, view: PartitionView, now_ms: int) -> None:
        """Take a new partition state from metadata; a leader (re)starts tracking its followers."""
        became_leader = view.leader == self.node_id and (
            self.view.leader != self.node_id or view.leader_epoch != self.view.leader_epoch
        )
        self.view = view
        self.isr_change_pending = False
        if became_leader:
            # New leader: give every ISR follower a full lag window before judging it.
            self.followers = {
                r: FollowerProgress(log_end_offset=0, last_caught_up_ms=now_ms)
                for r in view.replicas
                if r != self.node_id
            }
            self.leo_at_last_fetch = {}
        self._advance_high_watermark()
        self.state_changed()

    def state_changed(self) -> None:
        """Wake every waiter: leadership, truncation or the log start moved."""
        self.grew.notify()
        self.committed.notify()

    # -- leader side -------------------------------------------------------------------------

    def append_as_leader(self, batch: bytes) -> tuple[int, int]:
        """Append one validated batch, assigning its offsets; returns (base, last) offsets.

        A retry of one of an idempotent producer's last five batches is not appended again:
        its original offsets come back. A fenced epoch or a sequence gap raises ProduceRejected.
        """
        header = records.parse_header(batch)
        idempotent = header.producer_id >= 0
        if idempotent:
            self._catch_up_producer_state()
            first_seq = header.base_sequence
            last_seq = (first_seq + header.last_offset_delta) % (2**31)
            decision = self.producers.check(
                header.producer_id, header.producer_epoch, first_seq, last_seq
            )
            if decision.action == "reject":
                raise ProduceRejected(decision.error or "UNKNOWN_SERVER_ERROR")
            if decision.action == "duplicate":
                return decision.base_offset, decision.base_offset + header.last_offset_delta
        base, last = self.log.append_as_leader(batch, self.view.leader_epoch)
        if idempotent:
            self.producers.record(
                header.producer_id, header.producer_epoch, first_seq, last_seq, base, last
            )
        if self._advance_high_watermark():
            self.committed.notify()
        self.grew.notify()
        return base, last

    def _catch_up_producer_state(self) -> None:
        """Fold batches written since the last look (as follower, or before a restart)."""
        position = max(self.producers.scanned_to, self.log.log_start_offset)
        end = self.log.log_end_offset
        while position < end:
            chunk = self.log.read(position, 1 << 20)
            if not chunk:
                break
            for _, h in records.iter_batches(chunk):
                if h.producer_id >= 0 and not h.is_control:
                    first = h.base_sequence
                    self.producers.record(
                        h.producer_id,
                        h.producer_epoch,
                        first,
                        (first + h.last_offset_delta) % (2**31),
                        h.base_offset,
                        h.last_offset,
                    )
                position = h.last_offset + 1
        self.producers.scanned_to = max(self.producers.scanned_to, position)

    def record_follower_fetch(self, follower: int, fetch_offset: int, now_ms: int) -> None:
        """A follower fetched from `fetch_offset`: it holds everything below it."""
        progress = self.followers.setdefault(follower, FollowerProgress())
        leo = self.log.log_end_offset
        progress.log_end_offset = fetch_offset
        progress.last_fetch_ms = now_ms
        if caught_up_after_fetch(fetch_offset, leo, self.leo_at_last_fetch.get(follower, leo + 1)):
            progress.last_caught_up_ms = now_ms
        self.leo_at_last_fetch[follower] = leo
        if self._advance_high_watermark():
            self.committed.notify()

    def isr_to_add(self) -> list[int]:
        """Followers out of the ISR that have caught up to the high watermark."""
        outside = [r for r in self.followers if r not in self.view.isr and r in self.view.replicas]
        if not outside:  # the usual case, on every follower fetch: skip the epoch lookup
            return []
        epoch_start = self.log.end_offset_for_epoch(self.view.leader_epoch - 1)[1]
        return [
            r
            for r in outside
            if may_join_isr(
                self.followers[r].log_end_offset, self.high_watermark, max(epoch_start, 0)
            )
        ]

    def isr_to_remove(self, now_ms: int, max_lag_ms: int) -> list[int]:
        """ISR members that fell behind for longer than replica.lag.time.max.ms."""
        return lagging_replicas(
            list(self.view.isr), self.node_id, self.followers, now_ms, max_lag_ms
        )

    def _advance_high_watermark(self) -> bool:
        if not self.is_leader:
            return False
        hw = high_watermark(
            self.node_id, self.log.log_end_offset, list(self.view.isr), self.followers
        )
        if hw > self.high_watermark:
            self.high_watermark = hw
            return True
        return False

    # -- follower side -----------------------------------------------------------------------

    def append_as_follower(self, batches: bytes, leader_high_watermark: int) -> None:
        """Append batches fetched from the leader and follow its high watermark."""
        if batches:
            self.log.append_as_follower(batches)
            self.grew.notify()
        high_watermark = max(
            self.high_watermark, min(leader_high_watermark, self.log.log_end_offset)
        )
        if high_watermark != self.high_watermark:
            self.high_watermark = high_watermark
            self.committed.notify()

    def start_over_at(self, offset: int) -> None:
        """Empty the log and continue at `offset` (the leader deleted all we have)."""
        self.log.truncate_fully_and_start_at(offset)
        self.producers.reset(offset)
        self.high_watermark = offset
        self.state_changed()

    def truncate_to(self, offset: int) -> None:
        """Drop a divergent tail found through OffsetForLeaderEpoch."""
        if offset < self.log.log_end_offset:
            self.log.truncate_to(offset)
            self.producers.reset(self.log.log_start_offset)
            self.high_watermark = min(self.high_watermark, offset)
            self.state_changed()
