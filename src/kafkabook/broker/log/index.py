"""Sparse segment indexes: `.index` (offset -> position) and `.timeindex` (time -> offset).

Both files are flat arrays of big-endian fixed-size entries, appended as the segment grows,
and both are mirrored in memory (two parallel `array`s) so lookups are a bisect with no I/O.
Keys and values are strictly increasing in both indexes, which is what lets a lookup bisect on
the key and a truncation bisect on the value.
"""

from __future__ import annotations

import os
import struct
from array import array
from bisect import bisect_left, bisect_right
from itertools import pairwise
from pathlib import Path
from typing import ClassVar

__all__ = ["OffsetIndex", "TimeIndex"]


class _SparseIndex:
    __slots__ = ("_fd", "_keys", "_values", "intact", "path")

    _ENTRY: ClassVar[struct.Struct]
    _KEY_TYPE: ClassVar[str]
    _VALUE_TYPE: ClassVar[str]

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        # A missing file is not the same as an empty index: the segment must rebuild it.
        existed = create or path.exists()
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if create else 0)
        self._fd = os.open(path, flags, 0o644)
        self._keys = array(self._KEY_TYPE)
        self._values = array(self._VALUE_TYPE)
        # False when the file on disk could not be fully trusted (missing, torn last entry
        # or out-of-order entries); the segment then rebuilds it from the log.
        self.intact = existed
        if not create:
            self._load()

    def _load(self) -> None:
        size = os.fstat(self._fd).st_size
        data = os.pread(self._fd, size, 0) if size else b""
        whole = len(data) - len(data) % self._ENTRY.size
        if whole != len(data):
            self.intact = False
        for key, value in self._ENTRY.iter_unpack(memoryview(data)[:whole]):
            self._keys.append(key)
            self._values.append(value)
        if not _strictly_increasing(self._keys) or not _strictly_increasing(self._values):
            self.intact = False

    def __len__(self) -> int:
        return len(self._keys)

    def last(self) -> tuple[int, int] | None:
        """The newest entry as (key, value), or None when empty."""
        if not self._keys:
            return None
        return self._keys[-1], self._values[-1]

    def floor(self, key: int) -> tuple[int, int] | None:
        """The entry with the largest key <= `key`, or None."""
        i = bisect_right(self._keys, key) - 1
        if i < 0:
            return None
        return self._keys[i], self._values[i]

    def append(self, key: int, value: int, *, persist: bool = True) -> None:
        """Add an entry; `persist=False` defers the write to `rewrite()` (bulk rebuilds)."""
        self._keys.append(key)
        self._values.append(value)
        if persist:
            os.write(self._fd, self._ENTRY.pack(key, value))

    def truncate_from_value(self, value: int) -> None:
        """Drop every entry whose value is >= `value`."""
        i = bisect_left(self._values, value)
        if i < len(self._values):
            del self._keys[i:]
            del self._values[i:]
            os.ftruncate(self._fd, i * self._ENTRY.size)

    def clear(self) -> None:
        """Forget all entries in memory (the file is replaced by the next `rewrite()`)."""
        del self._keys[:]
        del self._values[:]

    def rewrite(self) -> None:
        """Write the in-memory entries over the file in one go."""
        pack = self._ENTRY.pack
        data = b"".join(pack(k, v) for k, v in zip(self._keys, self._values, strict=True))
        os.ftruncate(self._fd, 0)
        if data:
            os.write(self._fd, data)
        self.intact = True

    def values_below(self, limit: int) -> bool:
        """True when every value is < `limit` (used to check positions against the log size)."""
        return not self._values or self._values[-1] < limit

    def flush(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def _strictly_increasing(values: array) -> bool:
    return all(a < b for a, b in pairwise(values))


class OffsetIndex(_SparseIndex):
    """Maps relative offset (int32) -> file position (int32) of the batch that starts there.

    >>> import tempfile; idx = OffsetIndex(Path(tempfile.mkdtemp()) / "i", create=True)
    >>> idx.append(10, 4100); idx.append(25, 8300)
    >>> idx.lookup(9), idx.lookup(10), idx.lookup(30)
    (0, 4100, 8300)
    """

    __slots__ = ()
    _ENTRY = struct.Struct(">ii")
    _KEY_TYPE = "i"
    _VALUE_TYPE = "i"

    def lookup(self, relative_offset: int) -> int:
        """Position of the nearest indexed batch at or before `relative_offset` (0 if none)."""
        i = bisect_right(self._keys, relative_offset) - 1
        return self._values[i] if i >= 0 else 0


class TimeIndex(_SparseIndex):
    """Maps timestamp (int64) -> relative offset (int32) of the batch that first reached it.

    Entries are only added when the segment's running max timestamp grows, so an entry
    (T, O) says: no batch before O has a timestamp >= T.

    >>> import tempfile; idx = TimeIndex(Path(tempfile.mkdtemp()) / "t", create=True)
    >>> idx.maybe_append(100, 0); idx.maybe_append(90, 5); idx.maybe_append(200, 7)
    >>> idx.lookup(150), idx.lookup(99), len(idx)
    ((100, 0), None, 2)
    """

    __slots__ = ()
    _ENTRY = struct.Struct(">qi")
    _KEY_TYPE = "q"
    _VALUE_TYPE = "i"

    def maybe_append(self, timestamp: int, relative_offset: int, *, persist: bool = True) -> None:
        """Append unless it would not advance both the timestamp and the offset."""
        # -1 is Kafka's "no timestamp"; it never deserves an entry.
        last_ts = self._keys[-1] if self._keys else -1
        if timestamp > last_ts and (not self._values or relative_offset > self._values[-1]):
            self.append(timestamp, relative_offset, persist=persist)

    def lookup(self, timestamp: int) -> tuple[int, int] | None:
        """The entry with the largest timestamp <= `timestamp`, or None."""
        return self.floor(timestamp)
