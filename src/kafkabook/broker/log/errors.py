"""Exceptions raised by the partition log; handlers map them to Kafka error codes."""

from __future__ import annotations

__all__ = [
    "CorruptBatchError",
    "InvalidAppendOffset",
    "LogClosedError",
    "LogCorruptedError",
    "LogError",
    "OffsetOutOfRange",
]


class LogError(Exception):
    """Base class for partition log failures."""


class OffsetOutOfRange(LogError):
    """A read or delete asked for an offset outside [log_start_offset, log_end_offset].

    Maps to OFFSET_OUT_OF_RANGE.
    """

    def __init__(
        self, offset: int, log_start_offset: int | None = None, log_end_offset: int | None = None
    ) -> None:
        # Handlers may raise it with just the offset when they detect the case themselves.
        if log_start_offset is None or log_end_offset is None:
            message = f"offset {offset} is out of range"
        else:
            message = (
                f"offset {offset} is outside the log range [{log_start_offset}, {log_end_offset}]"
            )
        super().__init__(message)
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset


class InvalidAppendOffset(LogError):
    """Follower batches start below the log end offset (Kafka's UnexpectedAppendOffset)."""

    def __init__(self, first_offset: int, log_end_offset: int) -> None:
        super().__init__(
            f"replicated batches start at offset {first_offset}, "
            f"below the log end offset {log_end_offset}"
        )
        self.first_offset = first_offset
        self.log_end_offset = log_end_offset


class CorruptBatchError(LogError):
    """A replicated batch failed its length, magic, offset-order or CRC check.

    Maps to CORRUPT_MESSAGE.
    """


class LogCorruptedError(LogError):
    """A checkpoint file in the partition directory cannot be parsed."""


class LogClosedError(LogError):
    """The log was used after close() or delete()."""
