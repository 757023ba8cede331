"""The cluster metadata image: what the controller's metadata log says, folded into plain state.

The controller writes metadata records (see docs/architecture.md, "Metadata records") and every
broker applies the same records, in offset order, to its own :class:`MetadataImage`. Applying is
a fold where the last record for a key wins: a ``partition`` record always carries the whole
partition state, a ``register_broker`` record the whole registration, and so on. The same class is
used on both sides, so a broker's view and the controller's view can never disagree about what a
record means.

>>> image = MetadataImage()
>>> image.apply({"type": "register_broker", "broker_id": 1, "host": "127.0.0.1", "port": 9092,
...              "broker_epoch": 0, "incarnation": "a"}, offset=0)
>>> image.apply({"type": "broker_state", "broker_id": 1, "fenced": False,
...              "shutting_down": False}, offset=1)
>>> image.apply({"type": "topic", "name": "t", "topic_id": "7b0c..."}, offset=2)
>>> image.apply({"type": "partition", "topic_id": "7b0c...", "partition": 0, "replicas": [1],
...              "isr": [1], "leader": 1, "leader_epoch": 0, "partition_epoch": 0}, offset=3)
>>> image.topics["t"].partitions[0].leader, image.live_broker_ids(), image.offset
(1, [1], 3)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: ``leader`` value of a partition that has no leader (Kafka's ``NO_LEADER``).
NO_LEADER = -1

#: Resource types a ``config`` record can carry.
TOPIC_RESOURCE = "topic"
BROKER_RESOURCE = "broker"


@dataclass(frozen=True)
class BrokerInfo:
    """One broker registration, plus its fencing state.

    A broker is *live* (may lead partitions and be in an ISR) only when it is registered, not
    fenced and not in controlled shutdown.
    """

    broker_id: int
    host: str
    port: int
    broker_epoch: int
    incarnation: str
    fenced: bool = True
    shutting_down: bool = False

    @property
    def live(self) -> bool:
        """True when the broker may lead partitions and be a member of an ISR."""
        return not self.fenced and not self.shutting_down


@dataclass(frozen=True)
class PartitionState:
    """The whole state of one partition, as carried by a ``partition`` record.

    Lists given to the constructor are stored as tuples, so a state can be shared freely and
    compared with ``==``.

    >>> PartitionState(replicas=[1, 2], isr=[2, 1], leader=2).isr
    (2, 1)
    """

    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int = NO_LEADER
    leader_epoch: int = 0
    partition_epoch: int = 0

    def __post_init__(self) -> None:
        # Accept any iterable (lists from JSON, typically) but store immutable tuples.
        object.__setattr__(self, "replicas", tuple(int(r) for r in self.replicas))
        object.__setattr__(self, "isr", tuple(int(r) for r in self.isr))

    def to_record(self, topic_id: str, partition: int) -> dict[str, Any]:
        """The ``partition`` metadata record carrying this state.

        >>> PartitionState((1,), (1,), 1).to_record("id", 0)["replicas"]
        [1]
        """
        return {
            "type": "partition",
            "topic_id": topic_id,
            "partition": partition,
            "replicas": list(self.replicas),
            "isr": list(self.isr),
            "leader": self.leader,
            "leader_epoch": self.leader_epoch,
            "partition_epoch": self.partition_epoch,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PartitionState:
        """Read the partition fields of a ``partition`` record (or an RPC ``partition`` field)."""
        return cls(
            replicas=record["replicas"],
            isr=record["isr"],
            leader=int(record["leader"]),
            leader_epoch=int(record["leader_epoch"]),
            partition_epoch=int(record["partition_epoch"]),
        )


@dataclass
class TopicImage:
    """A topic: its name, its id and its partitions by index."""

    name: str
    topic_id: str
    partitions: dict[int, PartitionState] = field(default_factory=dict)


@dataclass
class MetadataImage:
    """Cluster metadata folded from the controller's metadata log.

    ``offset`` is the offset of the last applied record (-1 before any): the value a broker
    reports as ``metadata_offset`` in its heartbeats.
    """

    brokers: dict[int, BrokerInfo] = field(default_factory=dict)
    topics: dict[str, TopicImage] = field(default_factory=dict)
    topics_by_id: dict[str, TopicImage] = field(default_factory=dict)
    configs: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    controller_id: int = -1
    controller_epoch: int = 0
    offset: int = -1
    #: The first producer id not yet handed to a broker (``producer_ids`` records).
    next_producer_id: int = 0
    #: Bumped whenever :attr:`configs` changes, so readers may cache what they derive from it.
    configs_version: int = field(default=0, compare=False, repr=False)

    def apply(self, record: Mapping[str, Any], offset: int | None = None) -> None:
        """Apply one metadata record; ``offset``, when given, becomes :attr:`offset`.

        Raises ``ValueError`` for an unknown record type or a partition of an unknown topic:
        both mean the log and this code disagree, which must not be papered over.

        >>> image = MetadataImage()
        >>> image.apply({"type": "controller", "controller_id": 0, "epoch": 3}, offset=0)
        >>> image.controller_epoch
        3
        """
        kind = record.get("type")
        if kind == "controller":
            self.controller_id = int(record["controller_id"])
            self.controller_epoch = int(record["epoch"])
        elif kind == "register_broker":
            # A (re-)registration starts fenced: the broker must first catch up with the log.
            broker_id = int(record["broker_id"])
            self.brokers[broker_id] = BrokerInfo(
                broker_id=broker_id,
                host=str(record["host"]),
                port=int(record["port"]),
                broker_epoch=int(record["broker_epoch"]),
                incarnation=str(record["incarnation"]),
            )
        elif kind == "broker_state":
            broker_id = int(record["broker_id"])
            old = self.brokers.get(broker_id)
            if old is None:
                raise ValueError(f"broker_state for unregistered broker {broker_id}")
            self.brokers[broker_id] = BrokerInfo(
                broker_id=old.broker_id,
                host=old.host,
                port=old.port,
                broker_epoch=old.broker_epoch,
                incarnation=old.incarnation,
                fenced=bool(record["fenced"]),
                shutting_down=bool(record.get("shutting_down", False)),
            )
        elif kind == "topic":
            topic = TopicImage(name=str(record["name"]), topic_id=str(record["topic_id"]))
            self.topics[topic.name] = topic
            self.topics_by_id[topic.topic_id] = topic
        elif kind == "partition":
            found = self.topics_by_id.get(str(record["topic_id"]))
            if found is None:
                raise ValueError(f"partition record for unknown topic id {record['topic_id']}")
            found.partitions[int(record["partition"])] = PartitionState.from_record(record)
        elif kind == "remove_topic":
            gone = self.topics_by_id.pop(str(record["topic_id"]), None)
            if gone is not None:
                self.topics.pop(gone.name, None)
                # Kafka drops a deleted topic's config overrides with it; a topic re-created
                # under the same name starts from the defaults again.
                self.configs.pop((TOPIC_RESOURCE, gone.name), None)
                self.configs_version += 1
        elif kind == "producer_ids":
            self.next_producer_id = int(record["next_producer_id"])
        elif kind == "config":
            key = (str(record["resource_type"]), str(record["name"]))
            current = dict(self.configs.get(key, {}))
            for name, value in record["configs"].items():
                if value is None:
                    current.pop(name, None)
                else:
                    current[name] = str(value)
            if current:
                self.configs[key] = current
            else:
                self.configs.pop(key, None)
            self.configs_version += 1
        else:
            raise ValueError(f"unknown metadata record type {kind!r}")
        if offset is not None:
            self.offset = offset

    def apply_all(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Apply log entries shaped ``{"offset", "epoch", "record"}`` in order."""
        for entry in entries:
            self.apply(entry["record"], offset=int(entry["offset"]))

    def reset(self) -> None:
        """Forget everything, as before the first record (used to re-fetch from offset 0)."""
        self.brokers.clear()
        self.topics.clear()
        self.topics_by_id.clear()
        self.configs.clear()
        self.configs_version += 1
        self.controller_id = -1
        self.controller_epoch = 0
        self.offset = -1
        self.next_producer_id = 0

    # Queries: small helpers both the controller and the brokers need.

    def live_broker_ids(self) -> list[int]:
        """Ids of brokers that are registered, unfenced and not shutting down, sorted."""
        return sorted(b.broker_id for b in self.brokers.values() if b.live)

    def partitions(self) -> Iterator[tuple[TopicImage, int, PartitionState]]:
        """Every partition of every topic as ``(topic, index, state)``, in a stable order."""
        for name in sorted(self.topics):
            topic = self.topics[name]
            for index in sorted(topic.partitions):
                yield topic, index, topic.partitions[index]

    def partitions_led_by(self, broker_id: int) -> list[tuple[TopicImage, int, PartitionState]]:
        """The partitions whose current leader is ``broker_id``."""
        return [p for p in self.partitions() if p[2].leader == broker_id]

    def topic_config(self, topic: str) -> dict[str, str]:
        """The config overrides stored for a topic (not including broker defaults)."""
        return dict(self.configs.get((TOPIC_RESOURCE, topic), {}))
