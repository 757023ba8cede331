"""The controller's metadata log: an append-only file of JSON lines, one entry per record.

Each line is ``{"offset": n, "epoch": e, "record": {...}}``. Offsets start at 0 and have no gaps;
``epoch`` is the controller epoch that wrote the record. A batch of records is written with one
``write`` and one ``flush`` so that a controller killed mid-batch leaves at most one torn line at
the end of the file; :meth:`MetadataLog.open` drops that line (a batch is only acknowledged to
anyone after it has been flushed, so nothing acknowledged is lost). A damaged line anywhere else
is real corruption and is reported, never skipped.

The whole log is also kept in memory: metadata is small, and ``fetch_metadata`` needs to serve
any offset.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> log = MetadataLog.open(d)
>>> [e.offset for e in log.append(1, [{"type": "controller", "controller_id": 0, "epoch": 1}])]
[0]
>>> log.close()
>>> MetadataLog.open(d).end_offset
1
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from kafkabook.broker.state import MetadataImage

log = logging.getLogger(__name__)

#: File name of the log inside the controller's data directory.
LOG_FILE_NAME = "metadata.log"


class MetadataLogCorrupt(Exception):
    """A line before the end of the log is unreadable or out of sequence."""


@dataclass(frozen=True)
class LogEntry:
    """One record of the metadata log, at its offset, written under a controller epoch."""

    offset: int
    epoch: int
    record: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored on disk and sent in ``fetch_metadata`` responses."""
        return {"offset": self.offset, "epoch": self.epoch, "record": self.record}


class MetadataLog:
    """Append-only metadata log persisted as JSON lines in ``data_dir/metadata.log``.

    Use :meth:`open`; the constructor does no I/O.
    """

    def __init__(self, path: Path, entries: list[LogEntry], file: BinaryIO | None) -> None:
        self.path = path
        self._entries = entries
        self._file = file

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str]) -> MetadataLog:
        """Open (creating if needed) the log in ``data_dir`` and replay it into memory.

        A torn or unparsable *last* line is cut off the file; any other bad line raises
        :class:`MetadataLogCorrupt`.
        """
        directory = Path(data_dir)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / LOG_FILE_NAME
        raw = path.read_bytes() if path.exists() else b""
        entries: list[LogEntry] = []
        good_end = 0  # byte position just after the last good line
        lines = raw.split(b"\n")
        # After the final newline split() yields b"" - or the bytes of a line torn mid-write.
        for index, line in enumerate(lines):
            last = index == len(lines) - 1
            if last and line == b"":
                break
            try:
                if last:
                    raise ValueError("no newline: the write was torn")
                entry = _parse(line, expected_offset=len(entries))
            except (ValueError, KeyError, TypeError) as exc:
                # Only the final line can be the victim of a kill during append; the same
                # damage earlier means the file was changed behind our back.
                is_tail = last or (index == len(lines) - 2 and lines[-1] == b"")
                if not is_tail:
                    raise MetadataLogCorrupt(f"{path}: line {index + 1}: {exc}") from exc
                log.warning("dropping torn last line of %s (%d bytes): %s", path, len(line), exc)
                break
            entries.append(entry)
            good_end += len(line) + 1
        if good_end != len(raw):
            with path.open("r+b") as f:
                f.truncate(good_end)
        file = path.open("ab")
        return cls(path, entries, file)

    @property
    def end_offset(self) -> int:
        """The offset the next record will get (the number of records in the log)."""
        return len(self._entries)

    @property
    def last_epoch(self) -> int:
        """The epoch of the last record, 0 for an empty log."""
        return self._entries[-1].epoch if self._entries else 0

    def append(self, epoch: int, records: Iterable[Mapping[str, Any]]) -> list[LogEntry]:
        """Append a batch of records under ``epoch``: one write, one flush. Returns the entries.

        The in-memory entries are updated only after the flush succeeded, so a failed write
        leaves memory and the (possibly torn) file in agreement after the next :meth:`open`.
        """
        if self._file is None:
            raise ValueError("metadata log is closed")
        new = [
            LogEntry(offset=self.end_offset + i, epoch=epoch, record=dict(record))
            for i, record in enumerate(records)
        ]
        if not new:
            return []
        payload = b"".join(
            json.dumps(e.to_json(), separators=(",", ":"), sort_keys=True).encode() + b"\n"
            for e in new
        )
        self._file.write(payload)
        self._file.flush()
        self._entries.extend(new)
        return new

    def read(self, from_offset: int, max_records: int = 1000) -> list[LogEntry]:
        """Entries from ``from_offset`` on, at most ``max_records`` of them.

        >>> import tempfile
        >>> log = MetadataLog.open(tempfile.mkdtemp())
        >>> _ = log.append(1, [{"type": "topic", "name": "a", "topic_id": "x"}] * 3)
        >>> [e.offset for e in log.read(1, max_records=1)]
        [1]
        """
        if from_offset < 0:
            raise ValueError("from_offset must be >= 0")
        return self._entries[from_offset : from_offset + max_records]

    def replay(self, image: MetadataImage | None = None) -> MetadataImage:
        """Fold every entry into ``image`` (a new one by default) and return it."""
        image = image if image is not None else MetadataImage()
        for entry in self._entries:
            image.apply(entry.record, offset=entry.offset)
        return image

    def close(self) -> None:
        """Close the file; appends fail afterwards. Safe to call twice."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _parse(line: bytes, *, expected_offset: int) -> LogEntry:
    obj = json.loads(line)
    if not isinstance(obj, dict) or not isinstance(obj.get("record"), dict):
        raise ValueError("not a log entry object")
    offset = obj["offset"]
    if offset != expected_offset:
        raise ValueError(f"offset {offset} where {expected_offset} was expected")
    return LogEntry(offset=int(offset), epoch=int(obj["epoch"]), record=obj["record"])
