"""Partition storage: segmented logs with sparse indexes, an epoch cache and crash recovery.

Modules, one job each: `config` (LogConfig), `errors`, `files` (atomic checkpoint writes),
`index` (.index / .timeindex), `segment` (one .log and its indexes), `epoch_cache`
(leader-epoch-checkpoint) and `partition_log` (PartitionLog, the API the broker uses).
"""

from .config import LogConfig
from .epoch_cache import EpochEntry, LeaderEpochCache
from .errors import (
    CorruptBatchError,
    InvalidAppendOffset,
    LogClosedError,
    LogCorruptedError,
    LogError,
    OffsetOutOfRange,
)
from .partition_log import PartitionLog

__all__ = [
    "CorruptBatchError",
    "EpochEntry",
    "InvalidAppendOffset",
    "LeaderEpochCache",
    "LogClosedError",
    "LogConfig",
    "LogCorruptedError",
    "LogError",
    "OffsetOutOfRange",
    "PartitionLog",
]
