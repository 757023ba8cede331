"""Per-partition storage settings (the subset of topic configs the log itself obeys)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["LogConfig"]

# Kafka's own lower bound for segment.bytes: a segment must hold at least a batch header.
_MIN_SEGMENT_BYTES = 14


@dataclass(frozen=True, slots=True)
class LogConfig:
    """How a `PartitionLog` lays out its files.

    `segment_bytes` bounds a segment's .log file (a single larger batch still gets a segment of
    its own); `index_interval_bytes` is how many log bytes pass between sparse index entries.

    >>> LogConfig.from_configs({"segment.bytes": "1048576"}).segment_bytes
    1048576
    """

    segment_bytes: int = 1024 * 1024 * 1024
    index_interval_bytes: int = 4096

    def __post_init__(self) -> None:
        if self.segment_bytes < _MIN_SEGMENT_BYTES:
            raise ValueError(
                f"segment_bytes must be >= {_MIN_SEGMENT_BYTES}, got {self.segment_bytes}"
            )
        if self.index_interval_bytes < 0:
            raise ValueError(f"index_interval_bytes must be >= 0, got {self.index_interval_bytes}")

    @classmethod
    def from_configs(cls, configs: Mapping[str, object]) -> LogConfig:
        """Build from Kafka topic config names; missing keys keep the defaults.

        >>> LogConfig.from_configs({"index.interval.bytes": 128}).index_interval_bytes
        128
        """
        defaults = cls()
        return cls(
            segment_bytes=int(str(configs.get("segment.bytes", defaults.segment_bytes))),
            index_interval_bytes=int(
                str(configs.get("index.interval.bytes", defaults.index_interval_bytes))
            ),
        )
