"""The leader epoch cache: which leader epoch started at which offset.

Persisted as Kafka's `leader-epoch-checkpoint` text file::

    0           <- format version
    2           <- number of entries
    0 0         <- epoch start_offset
    3 120
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from .errors import LogCorruptedError
from .files import write_atomically

__all__ = ["CHECKPOINT_NAME", "EpochEntry", "LeaderEpochCache"]

CHECKPOINT_NAME = "leader-epoch-checkpoint"
_VERSION = 0
UNDEFINED_EPOCH = -1
UNDEFINED_OFFSET = -1


@dataclass(frozen=True, slots=True)
class EpochEntry:
    epoch: int
    start_offset: int


class LeaderEpochCache:
    """Ordered (epoch, start offset) entries with Kafka's update and lookup rules.

    Every change is written through to the checkpoint file; changes are rare (one per
    leadership change or truncation), so the fsync cost does not matter.

    >>> import tempfile; c = LeaderEpochCache.load(Path(tempfile.mkdtemp()) / CHECKPOINT_NAME)
    >>> c.assign(0, 0); c.assign(2, 50)
    True
    True
    >>> c.end_offset_for(0, 80), c.end_offset_for(1, 80), c.end_offset_for(2, 80)
    ((0, 50), (0, 50), (2, 80))
    """

    __slots__ = ("_entries", "path")

    def __init__(self, path: Path, entries: list[EpochEntry]) -> None:
        self.path = path
        self._entries = entries

    @classmethod
    def load(cls, path: Path) -> LeaderEpochCache:
        """Read the checkpoint (a missing file is an empty cache)."""
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            return cls(path, [])
        lines = text.split()
        try:
            version, count = int(lines[0]), int(lines[1])
            pairs = [(int(lines[i]), int(lines[i + 1])) for i in range(2, len(lines), 2)]
        except (IndexError, ValueError) as exc:
            raise LogCorruptedError(f"malformed leader epoch checkpoint {path}") from exc
        if version != _VERSION or count != len(pairs) or len(lines) != 2 + 2 * count:
            raise LogCorruptedError(
                f"leader epoch checkpoint {path}: version {version}, "
                f"{count} entries declared, {len(pairs)} present"
            )
        entries = [EpochEntry(e, o) for e, o in pairs]
        for a, b in pairwise(entries):
            if not (a.epoch < b.epoch and a.start_offset <= b.start_offset):
                raise LogCorruptedError(f"leader epoch checkpoint {path}: {a} before {b}")
        return cls(path, entries)

    def _persist(self) -> None:
        body = "".join(f"{e.epoch} {e.start_offset}\n" for e in self._entries)
        write_atomically(self.path, f"{_VERSION}\n{len(self._entries)}\n{body}")

    @property
    def entries(self) -> tuple[EpochEntry, ...]:
        return tuple(self._entries)

    @property
    def latest_epoch(self) -> int:
        """The newest epoch, or -1 when the cache is empty."""
        return self._entries[-1].epoch if self._entries else UNDEFINED_EPOCH

    def assign(self, epoch: int, start_offset: int) -> bool:
        """Record that `epoch` starts at `start_offset`; returns True if anything changed.

        As in Kafka, a new entry overrides any entry with an epoch >= it or a start offset
        >= its start, so the cache stays monotonic in both columns.
        """
        if epoch < 0 or start_offset < 0:
            return False
        if self._entries:
            latest = self._entries[-1]
            if latest.epoch == epoch and latest.start_offset <= start_offset:
                return False
        while self._entries and (
            self._entries[-1].epoch >= epoch or self._entries[-1].start_offset >= start_offset
        ):
            self._entries.pop()
        self._entries.append(EpochEntry(epoch, start_offset))
        self._persist()
        return True

    def truncate_from_end(self, end_offset: int) -> None:
        """Forget epochs that start at or after `end_offset` (the log was cut there)."""
        changed = False
        while self._entries and self._entries[-1].start_offset >= end_offset:
            self._entries.pop()
            changed = True
        if changed:
            self._persist()

    def truncate_from_start(self, start_offset: int) -> None:
        """Drop epochs wholly below a new log start; the epoch in force there starts there."""
        i = bisect_right([e.start_offset for e in self._entries], start_offset)
        if i == 0:
            return
        carried = self._entries[i - 1]
        if i == 1 and carried.start_offset == start_offset:
            return
        self._entries[:i] = [EpochEntry(carried.epoch, start_offset)]
        self._persist()

    def clear(self) -> None:
        if self._entries:
            self._entries.clear()
            self._persist()

    def end_offset_for(self, epoch: int, log_end_offset: int) -> tuple[int, int]:
        """Kafka's OffsetForLeaderEpoch answer for `epoch`.

        * the latest epoch ends at the log end offset;
        * otherwise the answer is the largest known epoch <= `epoch`, ending where the next
          higher epoch starts (an epoch below every entry reports the first start offset,
          with the requested epoch echoed back, as Kafka does);
        * an epoch above every entry, or an empty cache, gives (-1, -1).
        """
        if epoch == UNDEFINED_EPOCH or not self._entries:
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        if epoch == self._entries[-1].epoch:
            return epoch, log_end_offset
        epochs = [e.epoch for e in self._entries]
        i = bisect_right(epochs, epoch)  # first entry with a higher epoch
        if i == len(self._entries):
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        higher = self._entries[i]
        if i == 0:
            return epoch, higher.start_offset
        return self._entries[i - 1].epoch, higher.start_offset
