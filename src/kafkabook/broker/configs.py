"""The catalogue of broker and topic configs the bundled cluster knows: names, types, defaults.

Names and defaults follow Apache Kafka. Where the bundled cluster picks a different default so
that lessons show things quickly, the entry says so in `bundled_note` and docs/differences.md
lists it.

>>> TOPIC_CONFIGS["retention.ms"].default
'604800000'
>>> effective_topic_config("min.insync.replicas", topic={}, broker={"min.insync.replicas": "2"})
('2', 'STATIC_BROKER_CONFIG')
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

LONG_MAX = "9223372036854775807"


class ConfigType(IntEnum):
    """DescribeConfigs' config_type (KIP-569)."""

    UNKNOWN = 0
    BOOLEAN = 1
    STRING = 2
    INT = 3
    SHORT = 4
    LONG = 5
    DOUBLE = 6
    LIST = 7
    CLASS = 8
    PASSWORD = 9


class ConfigSource(IntEnum):
    """DescribeConfigs' config_source."""

    UNKNOWN = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5


@dataclass(frozen=True, slots=True)
class ConfigDef:
    """One config: its Kafka name, type, default (as Kafka renders it) and broker synonym."""

    name: str
    type: ConfigType
    default: str | None
    synonym: str | None = None  # the broker config that supplies a topic config's default
    valid: tuple[str, ...] = ()  # allowed values for enumerations
    minimum: float | None = None
    read_only: bool = False
    bundled_note: str | None = None

    def validate(self, value: str | None) -> str | None:
        """Return why `value` is invalid for this config, or None when it is fine."""
        if value is None:
            return None
        invalid = f"Invalid value {value} for configuration {self.name}"
        if self.type in (ConfigType.INT, ConfigType.LONG, ConfigType.SHORT):
            try:
                number: float = int(value)
            except ValueError:
                return f"{invalid}: Not a number of type {self.type.name}"
        elif self.type == ConfigType.DOUBLE:
            try:
                number = float(value)
            except ValueError:
                return f"{invalid}: Not a number of type DOUBLE"
        elif self.type == ConfigType.BOOLEAN:
            if value.lower() not in ("true", "false"):
                return f"{invalid}: Expected value to be either true or false"
            return None
        else:
            if self.valid:
                items = (
                    [v.strip() for v in value.split(",")]
                    if self.type == ConfigType.LIST
                    else [value]
                )
                for item in items:
                    if item not in self.valid:
                        return (
                            f"Invalid value {value} for configuration {self.name}: "
                            f"String must be one of: {', '.join(self.valid)}"
                        )
            return None
        if self.minimum is not None and number < self.minimum:
            return (
                f"Invalid value {value} for configuration {self.name}: "
                f"Value must be at least {self.minimum:g}"
            )
        return None


def _defs(*defs: ConfigDef) -> dict[str, ConfigDef]:
    return {d.name: d for d in defs}


T = ConfigType
COMPRESSION = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")

TOPIC_CONFIGS: dict[str, ConfigDef] = _defs(
    ConfigDef("cleanup.policy", T.LIST, "delete", "log.cleanup.policy", ("compact", "delete")),
    ConfigDef("compression.type", T.STRING, "producer", "compression.type", COMPRESSION),
    ConfigDef(
        "delete.retention.ms", T.LONG, "86400000", "log.cleaner.delete.retention.ms", minimum=0
    ),
    ConfigDef("file.delete.delay.ms", T.LONG, "60000", "log.segment.delete.delay.ms", minimum=0),
    ConfigDef("flush.messages", T.LONG, LONG_MAX, "log.flush.interval.messages", minimum=1),
    ConfigDef("flush.ms", T.LONG, LONG_MAX, "log.flush.interval.ms", minimum=0),
    ConfigDef(
        "follower.replication.throttled.replicas",
        T.LIST,
        "",
        "follower.replication.throttled.replicas",
    ),
    ConfigDef("index.interval.bytes", T.INT, "4096", "log.index.interval.bytes", minimum=0),
    ConfigDef(
        "leader.replication.throttled.replicas", T.LIST, "", "leader.replication.throttled.replicas"
    ),
    ConfigDef("local.retention.bytes", T.LONG, "-2", "log.local.retention.bytes", minimum=-2),
    ConfigDef("local.retention.ms", T.LONG, "-2", "log.local.retention.ms", minimum=-2),
    ConfigDef(
        "max.compaction.lag.ms", T.LONG, LONG_MAX, "log.cleaner.max.compaction.lag.ms", minimum=1
    ),
    ConfigDef("max.message.bytes", T.INT, "1048588", "message.max.bytes", minimum=0),
    ConfigDef(
        "message.timestamp.after.max.ms",
        T.LONG,
        "3600000",
        "log.message.timestamp.after.max.ms",
        minimum=0,
    ),
    ConfigDef(
        "message.timestamp.before.max.ms",
        T.LONG,
        LONG_MAX,
        "log.message.timestamp.before.max.ms",
        minimum=0,
    ),
    ConfigDef(
        "message.timestamp.type",
        T.STRING,
        "CreateTime",
        "log.message.timestamp.type",
        ("CreateTime", "LogAppendTime"),
    ),
    ConfigDef(
        "min.cleanable.dirty.ratio", T.DOUBLE, "0.5", "log.cleaner.min.cleanable.ratio", minimum=0
    ),
    ConfigDef("min.compaction.lag.ms", T.LONG, "0", "log.cleaner.min.compaction.lag.ms", minimum=0),
    ConfigDef("min.insync.replicas", T.INT, "1", "min.insync.replicas", minimum=1),
    ConfigDef("preallocate", T.BOOLEAN, "false", "log.preallocate"),
    ConfigDef("remote.storage.enable", T.BOOLEAN, "false", None),
    ConfigDef("retention.bytes", T.LONG, "-1", "log.retention.bytes"),
    ConfigDef("retention.ms", T.LONG, "604800000", "log.retention.ms", minimum=-1),
    ConfigDef("segment.bytes", T.INT, "1073741824", "log.segment.bytes", minimum=14),
    ConfigDef("segment.index.bytes", T.INT, "10485760", "log.index.size.max.bytes", minimum=4),
    ConfigDef("segment.jitter.ms", T.LONG, "0", "log.roll.jitter.ms", minimum=0),
    ConfigDef("segment.ms", T.LONG, "604800000", "log.roll.ms", minimum=1),
    ConfigDef(
        "unclean.leader.election.enable", T.BOOLEAN, "false", "unclean.leader.election.enable"
    ),
)

BROKER_CONFIGS: dict[str, ConfigDef] = _defs(
    ConfigDef("auto.create.topics.enable", T.BOOLEAN, "true", read_only=True),
    ConfigDef("auto.leader.rebalance.enable", T.BOOLEAN, "true", read_only=True),
    ConfigDef(
        "broker.session.timeout.ms",
        T.INT,
        "2000",
        read_only=True,
        bundled_note="Kafka's default is 9000; 2 s makes failover visible in a lesson",
    ),
    ConfigDef(
        "broker.heartbeat.interval.ms",
        T.INT,
        "500",
        read_only=True,
        bundled_note="Kafka's default is 2000; shortened with the session timeout",
    ),
    ConfigDef("compression.type", T.STRING, "producer", valid=COMPRESSION),
    ConfigDef(
        "default.replication.factor",
        T.INT,
        None,
        read_only=True,
        bundled_note="Kafka's default is 1; the bundled cluster uses min(3, live brokers)",
    ),
    ConfigDef(
        "group.initial.rebalance.delay.ms",
        T.INT,
        "0",
        read_only=True,
        bundled_note="Kafka's default is 3000; 0 so that lessons don't wait",
    ),
    ConfigDef("group.max.session.timeout.ms", T.INT, "1800000", read_only=True),
    ConfigDef("group.max.size", T.INT, "2147483647", read_only=True, minimum=1),
    ConfigDef("group.min.session.timeout.ms", T.INT, "6000", read_only=True),
    ConfigDef(
        "leader.imbalance.check.interval.seconds",
        T.LONG,
        "5",
        read_only=True,
        bundled_note="Kafka's default is 300; 5 s so the preferred leader returns within a lesson",
    ),
    ConfigDef("log.cleaner.delete.retention.ms", T.LONG, "86400000"),
    ConfigDef("log.cleaner.max.compaction.lag.ms", T.LONG, LONG_MAX),
    ConfigDef("log.cleaner.min.cleanable.ratio", T.DOUBLE, "0.5"),
    ConfigDef("log.cleaner.min.compaction.lag.ms", T.LONG, "0"),
    ConfigDef("log.cleanup.policy", T.LIST, "delete", valid=("compact", "delete")),
    ConfigDef("log.flush.interval.messages", T.LONG, LONG_MAX),
    ConfigDef("log.flush.interval.ms", T.LONG, None),
    ConfigDef("log.index.interval.bytes", T.INT, "4096"),
    ConfigDef("log.index.size.max.bytes", T.INT, "10485760"),
    ConfigDef("log.local.retention.bytes", T.LONG, "-2"),
    ConfigDef("log.local.retention.ms", T.LONG, "-2"),
    ConfigDef("log.message.timestamp.after.max.ms", T.LONG, "3600000"),
    ConfigDef("log.message.timestamp.before.max.ms", T.LONG, LONG_MAX),
    ConfigDef(
        "log.message.timestamp.type", T.STRING, "CreateTime", valid=("CreateTime", "LogAppendTime")
    ),
    ConfigDef("log.preallocate", T.BOOLEAN, "false"),
    ConfigDef("log.retention.bytes", T.LONG, "-1"),
    ConfigDef("log.retention.ms", T.LONG, None),
    ConfigDef("log.retention.hours", T.INT, "168", read_only=True),
    ConfigDef("log.roll.jitter.ms", T.LONG, None),
    ConfigDef("log.roll.ms", T.LONG, None),
    ConfigDef("log.segment.bytes", T.INT, "1073741824"),
    ConfigDef("log.segment.delete.delay.ms", T.LONG, "60000"),
    ConfigDef("message.max.bytes", T.INT, "1048588"),
    ConfigDef("min.insync.replicas", T.INT, "1"),
    ConfigDef("num.partitions", T.INT, "1", read_only=True),
    ConfigDef("offset.metadata.max.bytes", T.INT, "4096", read_only=True),
    ConfigDef("offsets.commit.timeout.ms", T.INT, "5000", read_only=True, minimum=1),
    ConfigDef("offsets.topic.num.partitions", T.INT, "50", read_only=True),
    ConfigDef(
        "offsets.topic.replication.factor",
        T.SHORT,
        "3",
        read_only=True,
        bundled_note="the topic is created with min(this, live brokers) replicas",
    ),
    ConfigDef("offsets.topic.segment.bytes", T.INT, "104857600", read_only=True),
    ConfigDef(
        "replica.lag.time.max.ms",
        T.LONG,
        "5000",
        read_only=True,
        bundled_note="Kafka's default is 30000; 5 s so the ISR visibly shrinks in a lesson",
    ),
    ConfigDef("socket.request.max.bytes", T.INT, "104857600", read_only=True),
    ConfigDef("unclean.leader.election.enable", T.BOOLEAN, "false"),
)

# Broker-side values derived from their siblings when unset, as Kafka does.
_DERIVED = {
    "log.retention.ms": ("log.retention.hours", 3_600_000),
    "log.roll.ms": ("log.roll.hours", 3_600_000),
}
_STATIC_FALLBACK = {
    "log.roll.hours": "168",
    "log.roll.jitter.ms": "0",
    "log.flush.interval.ms": None,
}


def broker_default(name: str, static: dict[str, str]) -> str | None:
    """The value of broker config `name` from the static configs, then Kafka's default."""
    if name in static:
        return static[name]
    if name in _DERIVED:
        base, factor = _DERIVED[name]
        base_value = static.get(
            base, BROKER_CONFIGS.get(base).default if base in BROKER_CONFIGS else "168"
        )
        return str(int(base_value) * factor)
    if name in _STATIC_FALLBACK:
        return _STATIC_FALLBACK[name]
    definition = BROKER_CONFIGS.get(name)
    return definition.default if definition else None


def effective_topic_config(
    name: str, topic: dict[str, str], broker: dict[str, str]
) -> tuple[str | None, str]:
    """A topic config's value and its source name: topic override, broker config, or default."""
    if name in topic:
        return topic[name], "DYNAMIC_TOPIC_CONFIG"
    definition = TOPIC_CONFIGS[name]
    if definition.synonym and definition.synonym in broker:
        return broker[definition.synonym], "STATIC_BROKER_CONFIG"
    if definition.synonym:
        value = synonym_default(definition.synonym, broker)
        if value is not None:
            return value, "DEFAULT_CONFIG"
    return definition.default, "DEFAULT_CONFIG"


def synonym_default(synonym: str, broker: dict[str, str]) -> str | None:
    """The default of a broker config that is not set itself, derived from the configs that
    are (log.retention.ms from log.retention.hours, as Kafka derives it)."""
    return broker_default(synonym, {k: v for k, v in broker.items() if k != synonym})


def validate_topic_configs(configs: dict[str, str | None]) -> str | None:
    """Why a set of topic configs is invalid (unknown name or bad value), or None."""
    for name, value in configs.items():
        definition = TOPIC_CONFIGS.get(name)
        if definition is None:
            return f"Unknown topic config name: {name}"
        problem = definition.validate(value)
        if problem:
            return problem
    return None
