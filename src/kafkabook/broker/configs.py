"""The catalogue of broker and topic configs the bundled cluster knows: names, types, defaults.

Names and defaults follow Apache Kafka. Where the bundled cluster picks a different default so
that lessons show things quickly, the entry says so in `bundled_note` and docs/differences.md
lists it.

>>> TOPIC_CONFIGS["retention.ms"].default
'604800000'
>>> effective_topic_config("min.insync.replicas", topic={}, broker={"min.insync.replicas": "2"})
('2', 'STATIC_BROKER_CONFIG')
>>> effective_topic_config("retention.ms", topic={}, broker={"log.retention.hours": "100"})
('360000000', 'STATIC_BROKER_CONFIG')
>>> broker_default("log.retention.ms", {}), BROKER_CONFIGS["log.retention.ms"].default
('604800000', None)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    maximum: float | None = None
    also: str | None = None  # one more allowed value outside [minimum, maximum] (gzip's -1)
    refused_true: str | None = None  # why true is refused: a feature the cluster lacks
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
            if self.refused_true and value.lower() == "true":
                return self.refused_true
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
        if self.also is not None and number == float(self.also):
            return None
        low = self.minimum is not None and number < self.minimum
        high = self.maximum is not None and number > self.maximum
        if (low or high) and self.also is not None:
            return (
                f"{invalid}: Value must be between {_number(self.minimum)} and "
                f"{_number(self.maximum)} or equal to {self.also}"
            )
        if low:
            return f"{invalid}: Value must be at least {_number(self.minimum)}"
        if high:
            return f"{invalid}: Value must be no more than {_number(self.maximum)}"
        return None


def _number(bound: float | None) -> str:
    """A range bound as Kafka's messages print it: 1 and 2147483639, not 1.0 or 2.1e+09."""
    return str(int(bound)) if bound is not None and float(bound).is_integer() else str(bound)


def _defs(*defs: ConfigDef) -> dict[str, ConfigDef]:
    return {d.name: d for d in defs}


T = ConfigType
COMPRESSION = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
INT_MAX = 2_147_483_647
#: Kafka's refusal of tiered storage on a cluster without it (the bundled cluster has none).
NO_TIERED_STORAGE = (
    "Tiered Storage functionality is disabled in the broker. "
    "Topic cannot be configured with remote log storage."
)

TOPIC_CONFIGS: dict[str, ConfigDef] = _defs(
    ConfigDef("cleanup.policy", T.LIST, "delete", "log.cleanup.policy", ("compact", "delete")),
    ConfigDef(
        "compression.gzip.level",
        T.INT,
        "-1",
        "compression.gzip.level",
        minimum=1,
        maximum=9,
        also="-1",
    ),
    ConfigDef("compression.lz4.level", T.INT, "9", "compression.lz4.level", minimum=1, maximum=17),
    ConfigDef("compression.type", T.STRING, "producer", "compression.type", COMPRESSION),
    ConfigDef(
        "compression.zstd.level",
        T.INT,
        "3",
        "compression.zstd.level",
        minimum=-131072,
        maximum=22,
    ),
    ConfigDef(
        "delete.retention.ms", T.LONG, "86400000", "log.cleaner.delete.retention.ms", minimum=0
    ),
    ConfigDef("errors.deadletterqueue.group.enable", T.BOOLEAN, "false"),
    ConfigDef("file.delete.delay.ms", T.LONG, "60000", "log.segment.delete.delay.ms", minimum=0),
    ConfigDef("flush.messages", T.LONG, LONG_MAX, "log.flush.interval.messages", minimum=1),
    ConfigDef("flush.ms", T.LONG, LONG_MAX, "log.flush.interval.ms", minimum=0),
    ConfigDef("follower.replication.throttled.replicas", T.LIST, ""),
    ConfigDef("index.interval.bytes", T.INT, "4096", "log.index.interval.bytes", minimum=0),
    ConfigDef("leader.replication.throttled.replicas", T.LIST, ""),
    ConfigDef("local.retention.bytes", T.LONG, "-2", "log.local.retention.bytes", minimum=-2),
    ConfigDef("local.retention.ms", T.LONG, "-2", "log.local.retention.ms", minimum=-2),
    ConfigDef(
        "max.compaction.lag.ms", T.LONG, LONG_MAX, "log.cleaner.max.compaction.lag.ms", minimum=1
    ),
    ConfigDef(
        "max.decompressed.message.bytes",
        T.INT,
        str(INT_MAX - 8),
        "max.decompressed.message.bytes",
        minimum=1,
        maximum=INT_MAX - 8,
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
        "min.cleanable.dirty.ratio",
        T.DOUBLE,
        "0.5",
        "log.cleaner.min.cleanable.ratio",
        minimum=0,
        maximum=1,
    ),
    ConfigDef("min.compaction.lag.ms", T.LONG, "0", "log.cleaner.min.compaction.lag.ms", minimum=0),
    ConfigDef("min.insync.replicas", T.INT, "1", "min.insync.replicas", minimum=1),
    ConfigDef("preallocate", T.BOOLEAN, "false", "log.preallocate"),
    ConfigDef("remote.copy.lag.bytes", T.LONG, "-1", "log.remote.copy.lag.bytes", minimum=-1),
    ConfigDef("remote.copy.lag.ms", T.LONG, "0", "log.remote.copy.lag.ms", minimum=-1),
    ConfigDef("remote.log.copy.disable", T.BOOLEAN, "false"),
    ConfigDef("remote.log.delete.on.disable", T.BOOLEAN, "false"),
    ConfigDef("remote.storage.enable", T.BOOLEAN, "false", refused_true=NO_TIERED_STORAGE),
    ConfigDef("retention.bytes", T.LONG, "-1", "log.retention.bytes"),
    ConfigDef("retention.ms", T.LONG, "604800000", "log.retention.ms", minimum=-1),
    ConfigDef("segment.bytes", T.INT, "1073741824", "log.segment.bytes", minimum=1 << 20),
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
    ConfigDef("compression.gzip.level", T.INT, "-1", minimum=1, maximum=9, also="-1"),
    ConfigDef("compression.lz4.level", T.INT, "9", minimum=1, maximum=17),
    ConfigDef("compression.type", T.STRING, "producer", valid=COMPRESSION),
    ConfigDef("compression.zstd.level", T.INT, "3", minimum=-131072, maximum=22),
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
    ConfigDef("log.flush.scheduler.interval.ms", T.LONG, LONG_MAX, read_only=True),
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
    ConfigDef("log.remote.copy.lag.bytes", T.LONG, "-1", minimum=-1),
    ConfigDef("log.remote.copy.lag.ms", T.LONG, "0", minimum=-1),
    ConfigDef("log.retention.bytes", T.LONG, "-1"),
    ConfigDef("log.retention.hours", T.INT, "168", read_only=True),
    ConfigDef("log.retention.minutes", T.INT, None, read_only=True),
    ConfigDef("log.retention.ms", T.LONG, None),
    ConfigDef("log.roll.hours", T.INT, "168", read_only=True, minimum=1),
    ConfigDef("log.roll.jitter.hours", T.INT, "0", read_only=True, minimum=0),
    ConfigDef("log.roll.jitter.ms", T.LONG, None),
    ConfigDef("log.roll.ms", T.LONG, None),
    ConfigDef("log.segment.bytes", T.INT, "1073741824"),
    ConfigDef("log.segment.delete.delay.ms", T.LONG, "60000"),
    ConfigDef(
        "max.decompressed.message.bytes", T.INT, str(INT_MAX - 8), minimum=1, maximum=INT_MAX - 8
    ),
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

#: Broker configs that are one setting under several names (Kafka's broker config synonyms):
#: the first one set wins, converted to the first one's unit (log.retention.hours=100 means
#: log.retention.ms=360000000). Kafka describes the derived config as unset (value null).
BROKER_SYNONYMS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        retention := ("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
        retention,
    ),
    **dict.fromkeys(roll := ("log.roll.ms", "log.roll.hours"), roll),
    **dict.fromkeys(jitter := ("log.roll.jitter.ms", "log.roll.jitter.hours"), jitter),
    # Only one way round: log.flush.scheduler.interval.ms is log.flush.interval.ms's default.
    "log.flush.interval.ms": ("log.flush.interval.ms", "log.flush.scheduler.interval.ms"),
}
_MS_PER_UNIT = {
    "log.retention.minutes": 60_000,
    "log.retention.hours": 3_600_000,
    "log.roll.hours": 3_600_000,
    "log.roll.jitter.hours": 3_600_000,
}

#: One level of configs, most specific first: where its values came from, and the values.
Layer = tuple[ConfigSource, Mapping[str, str]]


def broker_synonyms(name: str) -> tuple[str, ...]:
    """The broker configs that set `name`, highest precedence first (`name` when alone)."""
    return BROKER_SYNONYMS.get(name, (name,))


def _derivation(name: str) -> tuple[str, ...]:
    """The configs `name`'s value is derived from, in order: itself, then its lower synonyms."""
    chain = broker_synonyms(name)
    return chain if chain[0] == name else (name,)


def _converted(synonym: str, value: str, name: str) -> str:
    """`value` of config `synonym`, in the unit of config `name` (hours to ms, say)."""
    factor = _MS_PER_UNIT.get(synonym) if synonym != name else None
    return value if factor is None else str(int(value) * factor)


def broker_default(name: str, static: Mapping[str, str]) -> str | None:
    """The value of broker config `name` the broker works with, from the static configs then
    Kafka's defaults, derived from its synonyms when unset (log.retention.ms from
    log.retention.hours), as Kafka's broker derives it."""
    for synonym in _derivation(name):
        if synonym in static:
            return _converted(synonym, static[synonym], name)
        definition = BROKER_CONFIGS.get(synonym)
        if definition is not None and definition.default is not None:
            return _converted(synonym, definition.default, name)
    return None


def broker_props(
    static: Mapping[str, str], cluster: Mapping[str, str], node: Mapping[str, str]
) -> dict[str, str]:
    """A broker's configs as set, the dynamic ones over the static ones. As in Kafka, a config
    set dynamically removes its synonyms set at a lower level (a dynamic log.retention.ms hides
    a static log.retention.hours, which then reads as its default)."""
    props = dict(static)
    for level in (cluster, node):
        for name, value in level.items():
            for synonym in broker_synonyms(name):
                props.pop(synonym, None)
            props[name] = value
    return props


def config_synonyms(name: str, layers: Iterable[Layer]) -> list[dict]:
    """DescribeConfigs' synonyms of broker config `name`: every level setting it or one of its
    synonyms, most specific first, starting at the first that sets `name` itself (Kafka lists
    none for log.retention.ms when only log.retention.hours is set)."""
    names = broker_synonyms(name)
    found = [
        {"name": synonym, "value": values[synonym], "source": int(source)}
        for source, values in layers
        for synonym in names
        if synonym in values
    ]
    while found and found[0]["name"] != name:
        found.pop(0)
    return found


def resolve_topic_config(
    name: str, topic: Mapping[str, str], layers: Sequence[Layer]
) -> tuple[str | None, ConfigSource]:
    """A topic config's effective value and where it came from: the topic's override, else the
    most specific level setting one of its broker synonyms (converted to the topic config's
    unit), else the topic config's default."""
    if name in topic:
        return topic[name], ConfigSource.DYNAMIC_TOPIC_CONFIG
    definition = TOPIC_CONFIGS[name]
    chain = _derivation(definition.synonym) if definition.synonym else ()
    for source, values in layers:
        for synonym in chain:
            if synonym in values:
                return _converted(synonym, values[synonym], chain[0]), source
    return definition.default, ConfigSource.DEFAULT_CONFIG


def effective_topic_config(
    name: str, topic: Mapping[str, str], broker: Mapping[str, str]
) -> tuple[str | None, str]:
    """A topic config's value and its source name: topic override, broker config, or default."""
    value, source = resolve_topic_config(name, topic, [(ConfigSource.STATIC_BROKER_CONFIG, broker)])
    return value, source.name


def validate_topic_configs(configs: Mapping[str, str | None]) -> str | None:
    """Why a set of topic configs is invalid (unknown name or bad value), or None."""
    for name, value in configs.items():
        definition = TOPIC_CONFIGS.get(name)
        if definition is None:
            return f"Unknown topic config name: {name}"
        problem = definition.validate(value)
        if problem:
            return problem
    return None
