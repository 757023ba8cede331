"""Small durable-file helpers shared by the log's checkpoint files."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import LogCorruptedError

__all__ = ["TMP_SUFFIX", "fsync_directory", "read_offset_file", "write_atomically"]

# Written next to the target and renamed over it; leftovers are swept when a log opens.
TMP_SUFFIX = ".tmp"


def fsync_directory(directory: Path) -> None:
    """Make renames, creations and unlinks inside `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so a crash leaves either the old or the new content.

    >>> import tempfile; p = Path(tempfile.mkdtemp()) / "x"
    >>> write_atomically(p, "7\\n"); p.read_text()
    '7\\n'
    """
    tmp = path.with_name(path.name + TMP_SUFFIX)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_directory(path.parent)


def read_offset_file(path: Path) -> int | None:
    """Read a file holding one decimal offset; None when the file does not exist.

    >>> read_offset_file(Path("/nonexistent/offset")) is None
    True
    """
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise LogCorruptedError(f"{path} should hold one offset, found {text!r}") from exc
