"""Idempotent-producer bookkeeping of one partition: which sequence numbers each producer sent.

Pure state, fed with record-batch headers. The leader asks `check()` before appending: a batch
is appended, recognised as a retry of one of the producer's last five batches (answered with the
original offset, not appended twice), or refused (fenced epoch, sequence gap). Followers and
restarted brokers rebuild the same state from the batches in their log, so a new leader dedupes
retries exactly as the old one did.

>>> state = ProducerStateManager()
>>> state.check(pid=7, epoch=0, first_seq=0, last_seq=4)
Decision(action='append', base_offset=-1, error=None)
>>> state.record(pid=7, epoch=0, first_seq=0, last_seq=4, first_offset=0, last_offset=4)
>>> state.check(pid=7, epoch=0, first_seq=0, last_seq=4)
Decision(action='duplicate', base_offset=0, error=None)
>>> state.check(pid=7, epoch=0, first_seq=9, last_seq=9).error
'OUT_OF_ORDER_SEQUENCE_NUMBER'
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# Kafka keeps the metadata of the last five batches per producer: a producer never has more
# than five requests in flight when idempotence is on.
CACHED_BATCHES = 5
INT32_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a batch: 'append', 'duplicate' (of base_offset) or 'reject' (error)."""

    action: str
    base_offset: int = -1
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BatchRange:
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int


@dataclass(slots=True)
class ProducerEntry:
    epoch: int
    batches: deque[BatchRange] = field(default_factory=lambda: deque(maxlen=CACHED_BATCHES))

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1


def next_sequence(seq: int) -> int:
    """Sequences wrap from 2^31-1 to 0, as Kafka's do."""
    return 0 if seq == INT32_MAX else seq + 1


@dataclass
class ProducerStateManager:
    """Producer id -> its epoch and last batches, for one partition."""

    producers: dict[int, ProducerEntry] = field(default_factory=dict)
    # The log offset up to which batches have been folded into this state.
    scanned_to: int = 0

    def check(self, pid: int, epoch: int, first_seq: int, last_seq: int) -> Decision:
        """Decide about a batch from an idempotent producer before the leader appends it."""
        entry = self.producers.get(pid)
        if entry is None:
            # Unknown producer (new, or its state expired with the log): start from this batch.
            return Decision("append")
        if epoch < entry.epoch:
            return Decision("reject", error="INVALID_PRODUCER_EPOCH")
        if epoch > entry.epoch:
            if first_seq != 0:
                return Decision("reject", error="OUT_OF_ORDER_SEQUENCE_NUMBER")
            return Decision("append")
        for batch in entry.batches:
            if batch.first_seq == first_seq and batch.last_seq == last_seq:
                return Decision("duplicate", base_offset=batch.first_offset)
        if first_seq != next_sequence(entry.last_seq):
            return Decision("reject", error="OUT_OF_ORDER_SEQUENCE_NUMBER")
        return Decision("append")

    def record(
        self,
        pid: int,
        epoch: int,
        first_seq: int,
        last_seq: int,
        first_offset: int,
        last_offset: int,
    ) -> None:
        """Fold an appended batch (leader or follower) into the state."""
        entry = self.producers.get(pid)
        if entry is None or epoch != entry.epoch:
            entry = self.producers[pid] = ProducerEntry(epoch)
        entry.batches.append(BatchRange(first_seq, last_seq, first_offset, last_offset))
        self.scanned_to = max(self.scanned_to, last_offset + 1)

    def reset(self, offset: int) -> None:
        """Forget everything; the state will be rebuilt by scanning the log from `offset`."""
        self.producers.clear()
        self.scanned_to = offset
