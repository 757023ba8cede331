"""Topics: list, create, describe, delete and add partitions, as kafka-topics does.

Everything is read and changed with Kafka requests (Metadata, CreateTopics, DeleteTopics,
CreatePartitions, DescribeConfigs), so it works the same on every backend.

>>> import kafkabook as kb
>>> kb.topics.create("orders", partitions=3, replication_factor=2)     # doctest: +SKIP
Created topic orders.
>>> print(kb.topics.describe("orders"))                                # doctest: +SKIP
Topic: orders	TopicId: 4oV8...	PartitionCount: 3	ReplicationFactor: 2	Configs:
        Topic: orders	Partition: 0	Leader: 1	Replicas: 1,2	Isr: 1,2
...
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafkabook.api.configs import DEFAULT_CONFIG, SOURCE_IDS, TOPIC, describe_entries
from kafkabook.api.display import Message, Table
from kafkabook.api.errors import KafkabookError, check, error_name, one_line
from kafkabook.api.requests import Admin
from kafkabook.api.session import current, run_api

LEGAL_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")
# How long create/delete wait for every broker's metadata to catch up, so that the next cell
# can use (or re-create) the topic at once.
SETTLE_TIMEOUT = 15.0


@dataclass(frozen=True)
class PartitionInfo:
    """One partition as Metadata reports it."""

    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    offline: tuple[int, ...] = ()
    leader_epoch: int = -1


@dataclass(frozen=True)
class TopicInfo:
    """A topic: id, partitions, and the configs that differ from the defaults."""

    name: str
    topic_id: str
    partitions: tuple[PartitionInfo, ...]
    configs: Mapping[str, str | None] = field(default_factory=dict)
    internal: bool = False

    @property
    def replication_factor(self) -> int:
        return len(self.partitions[0].replicas) if self.partitions else 0


def _topic_infos(response: Any) -> dict[str, TopicInfo]:
    out = {}
    for t in response.topics:
        if int(t.error_code) != 0:
            continue
        partitions = tuple(
            sorted(
                (
                    PartitionInfo(
                        partition=p.partition_index,
                        leader=p.leader_id,
                        replicas=tuple(p.replica_nodes),
                        isr=tuple(p.isr_nodes),
                        offline=tuple(getattr(p, "offline_replicas", ())),
                        leader_epoch=getattr(p, "leader_epoch", -1),
                    )
                    for p in t.partitions
                ),
                key=lambda p: p.partition,
            )
        )
        topic_id = getattr(t, "topic_id", None)
        out[t.name] = TopicInfo(
            name=t.name,
            topic_id=_kafka_uuid(topic_id),
            partitions=partitions,
            internal=bool(t.is_internal),
        )
    return out


def _kafka_uuid(value: Any) -> str:
    """Kafka prints topic ids as URL-safe base64 without padding (22 characters)."""
    import base64
    import uuid

    if not isinstance(value, uuid.UUID) or value.int == 0:
        return ""
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def no_such_topic(name: str) -> KafkabookError:
    """The error for a topic that does not exist, with the way out."""
    return KafkabookError(
        f"topic '{name}' does not exist: %kafka topics --list shows the topics, "
        f"%kafka topics --create --topic {name} creates it"
    )


class TopicList(Table):
    """Topic names with their partition counts; text is one name per line (kafka-topics --list).

    Iterating gives the names; ``"orders" in topics`` works.
    """

    def __init__(self, topics: Sequence[TopicInfo]) -> None:
        self.topics = list(topics)
        super().__init__(
            ["topic", "partitions", "replication_factor"],
            [(t.name, len(t.partitions), t.replication_factor) for t in self.topics],
        )

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.topics]

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __repr__(self) -> str:
        return "\n".join(self.names) if self.names else "(no topics)"


class TopicDescription(Table):
    """Topics with their partitions; text in kafka-topics' ``--describe`` layout."""

    def __init__(self, topics: Sequence[TopicInfo]) -> None:
        self.topics = list(topics)
        rows = [
            (t.name, p.partition, p.leader if p.leader >= 0 else None, p.replicas, p.isr, p.offline)
            for t in self.topics
            for p in t.partitions
        ]
        super().__init__(["topic", "partition", "leader", "replicas", "isr", "offline"], rows)

    def __getitem__(self, name: Any) -> Any:
        if isinstance(name, str):
            for t in self.topics:
                if t.name == name:
                    return t
            raise KeyError(name)
        return super().__getitem__(name)

    def _repr_html_(self) -> str:
        from kafkabook.api.display import html_table

        parts = []
        for t in self.topics:
            configs = ",".join(f"{k}={v}" for k, v in t.configs.items())
            title = (
                f"Topic: {t.name}  TopicId: {t.topic_id}  PartitionCount: {len(t.partitions)}  "
                f"ReplicationFactor: {t.replication_factor}  Configs: {configs}"
            )
            rows = [
                (p.partition, p.leader if p.leader >= 0 else "none", p.replicas, p.isr, p.offline)
                for p in t.partitions
            ]
            parts.append(
                html_table(["partition", "leader", "replicas", "isr", "offline"], rows, title)
            )
        return "".join(parts)

    def __repr__(self) -> str:
        lines = []
        for t in self.topics:
            configs = ",".join(f"{k}={v}" for k, v in t.configs.items())
            head = f"Topic: {t.name}"
            if t.topic_id:
                head += f"\tTopicId: {t.topic_id}"
            head += (
                f"\tPartitionCount: {len(t.partitions)}"
                f"\tReplicationFactor: {t.replication_factor}\tConfigs: {configs}"
            )
            lines.append(head)
            for p in t.partitions:
                line = (
                    f"\tTopic: {t.name}\tPartition: {p.partition}"
                    f"\tLeader: {p.leader if p.leader >= 0 else 'none'}"
                    f"\tReplicas: {','.join(map(str, p.replicas))}"
                    f"\tIsr: {','.join(map(str, p.isr))}"
                )
                if p.offline:
                    line += f"\tOffline: {','.join(map(str, p.offline))}"
                lines.append(line)
        return "\n".join(lines) if lines else "(no topics)"


async def _wait_metadata(admin: Admin, name: str, *, present: bool) -> None:
    """Wait until a broker's Metadata shows ``name`` with every leader (or no longer shows it)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        response = await admin.metadata([name])
        infos = _topic_infos(response)
        info = infos.get(name)
        if present and info and info.partitions and all(p.leader >= 0 for p in info.partitions):
            return
        if not present and info is None:
            return
        await asyncio.sleep(0.05)


def _live_and_stopped_brokers() -> tuple[int | None, list[int]]:
    """(number of running brokers, ids of brokers that are not running) per the backend."""
    cluster = current().cluster
    if cluster is None or cluster.backend.name == "external":
        return None, []
    try:
        status = cluster.status()
    except Exception:
        return None, []
    running = [b.node_id for b in status.brokers if b.state == "running"]
    down = [b.node_id for b in status.brokers if b.state != "running"]
    return len(running), down


def _create_error(
    name: str, code: Any, message: str | None, replication: int | None, live: int
) -> KafkabookError | None:
    kind = error_name(code)
    if kind == "NONE":
        return None
    if kind == "TOPIC_ALREADY_EXISTS":
        return KafkabookError(
            f"topic '{name}' already exists: %kafka topics --describe --topic {name} shows it "
            "(--if-not-exists makes this a no-op)"
        )
    if kind == "INVALID_REPLICATION_FACTOR":
        _, down = _live_and_stopped_brokers()
        asked = f"replication factor {replication}" if replication else "the replication factor"
        if down:
            return KafkabookError(
                f"{asked} is more than the {live} live brokers: start one with "
                f"%kafka broker start {down[0]}, or use --replication-factor {max(live, 1)}"
            )
        return KafkabookError(
            f"{asked} is more than the {live} brokers of this cluster: "
            f"use --replication-factor {max(live, 1)} or less"
        )
    if kind == "INVALID_PARTITIONS":
        return KafkabookError(
            f"{message or 'invalid number of partitions'}: use --partitions 1 or more"
        )
    if kind == "INVALID_TOPIC":
        return KafkabookError(
            f"'{name}' is not a valid topic name ({message or kind}): use letters, digits, "
            "'.', '_' and '-', at most 249 characters"
        )
    if kind in ("INVALID_CONFIG", "INVALID_REQUEST", "POLICY_VIOLATION"):
        return KafkabookError(
            f"cannot create topic '{name}': {message or kind} "
            "(%kafka configs --describe --entity-type brokers shows the defaults)"
        )
    try:
        check(code, f"cannot create topic '{name}'", message)
    except KafkabookError as exc:
        return exc
    return None


class Topics:
    """``kb.topics``: list, create, describe, delete and alter topics."""

    def __repr__(self) -> str:
        return (
            "kb.topics: list(), create(name, ...), describe(name), delete(name), alter(name, ...)"
        )

    @one_line
    def list(self, *, exclude_internal: bool = False) -> TopicList:
        """Every topic, sorted by name.

        >>> list(kb.topics.list())                 # doctest: +SKIP
        ['orders', 'payments']
        """

        async def call(admin: Admin) -> dict[str, TopicInfo]:
            return _topic_infos(await admin.metadata(None))

        infos = run_api(call)
        topics = [infos[n] for n in sorted(infos)]
        if exclude_internal:
            topics = [t for t in topics if not t.internal]
        return TopicList(topics)

    @one_line
    def create(
        self,
        name: str,
        partitions: int | None = None,
        replication_factor: int | None = None,
        config: Mapping[str, Any] | None = None,
        *,
        if_not_exists: bool = False,
    ) -> Message:
        """Create a topic; ``partitions``/``replication_factor`` default to the brokers' settings.

        Returns once every broker knows the topic and each partition has a leader.

        >>> kb.topics.create("orders", partitions=3, replication_factor=2,
        ...                  config={"retention.ms": 60000})                # doctest: +SKIP
        Created topic orders.
        """
        if not isinstance(name, str) or not LEGAL_NAME.fullmatch(name) or name in (".", ".."):
            raise KafkabookError(
                f"{name!r} is not a valid topic name: use letters, digits, '.', '_' and '-', "
                "at most 249 characters"
            )
        if partitions is not None and partitions < 1:
            raise KafkabookError(f"--partitions must be 1 or more, not {partitions}")
        if replication_factor is not None and replication_factor < 1:
            raise KafkabookError(
                f"--replication-factor must be 1 or more, not {replication_factor}"
            )
        configs = [{"name": str(k), "value": str(v)} for k, v in (config or {}).items()]

        async def call(admin: Admin) -> Message:
            node = await admin.controller()
            response = await admin.send(
                node,
                19,
                max_version=7,
                topics=[
                    {
                        "name": name,
                        "num_partitions": -1 if partitions is None else partitions,
                        "replication_factor": -1
                        if replication_factor is None
                        else replication_factor,
                        "assignments": [],
                        "configs": configs,
                    }
                ],
                timeout=30_000,
                validate_only=False,
            )
            [result] = response.topics
            if if_not_exists and error_name(result.error_code) == "TOPIC_ALREADY_EXISTS":
                return Message(f"Topic {name} already exists.", topic=name, created=False)
            metadata = await admin.metadata([])
            error = _create_error(
                name,
                result.error_code,
                result.error_message,
                replication_factor,
                len(metadata.brokers),
            )
            if error is not None:
                raise error
            await _wait_metadata(admin, name, present=True)
            return Message(
                f"Created topic {name}.",
                topic=name,
                created=True,
                topic_id=_kafka_uuid(getattr(result, "topic_id", None)),
                partitions=getattr(result, "num_partitions", partitions),
                replication_factor=getattr(result, "replication_factor", replication_factor),
            )

        return run_api(call)

    @one_line
    def describe(
        self, name: str | Sequence[str] | None = None, *, if_exists: bool = False
    ) -> TopicDescription:
        """Partitions (leader, replicas, ISR) and non-default configs of one, some or all topics.

        ``if_exists=True`` leaves out topics that do not exist instead of failing.

        >>> kb.topics.describe("orders")["orders"].partitions[0].leader     # doctest: +SKIP
        1
        """
        wanted = None if name is None else ([name] if isinstance(name, str) else list(name))

        async def call(admin: Admin) -> list[TopicInfo]:
            response = await admin.metadata(wanted)
            for t in response.topics:
                kind = error_name(t.error_code)
                if kind == "UNKNOWN_TOPIC_OR_PARTITION":
                    if if_exists:
                        continue
                    raise no_such_topic(t.name)
                check(t.error_code, f"topic {t.name}")
            infos = _topic_infos(response)
            names = wanted if wanted is not None else sorted(infos)
            if if_exists:
                names = [n for n in names if n in infos]
            for n in names:
                if n not in infos:
                    raise no_such_topic(n)
            if not names:
                return []
            entries = await describe_entries(admin, [(TOPIC, n) for n in names])
            out = []
            for n, configs in zip(names, entries, strict=True):
                non_default = {
                    e.name: (None if e.sensitive else e.value)
                    for e in configs
                    if SOURCE_IDS.get(e.source) != DEFAULT_CONFIG
                }
                info = infos[n]
                out.append(
                    TopicInfo(info.name, info.topic_id, info.partitions, non_default, info.internal)
                )
            return out

        return TopicDescription(run_api(call))

    @one_line
    def delete(self, name: str, *, if_exists: bool = False) -> Message:
        """Delete a topic and its data; returns once the brokers no longer list it.

        ``if_exists=True`` makes a missing topic a no-op instead of an error (kafka-topics'
        ``--if-exists``), so a notebook can start with a clean slate.

        >>> kb.topics.delete("orders")        # doctest: +SKIP
        Deleted topic orders.
        >>> kb.topics.delete("orders", if_exists=True)        # doctest: +SKIP
        Topic orders does not exist.
        """

        async def call(admin: Admin) -> bool:
            node = await admin.controller()
            response = await admin.send(
                node,
                20,
                max_version=6,
                topics=[{"name": name, "topic_id": ""}],
                topic_names=[name],
                timeout=30_000,
            )
            [result] = response.responses
            if error_name(result.error_code) == "UNKNOWN_TOPIC_OR_PARTITION":
                if if_exists:
                    return False
                raise no_such_topic(name)
            check(
                result.error_code,
                f"cannot delete topic '{name}'",
                getattr(result, "error_message", None),
            )
            await _wait_metadata(admin, name, present=False)
            return True

        if not run_api(call):
            return Message(f"Topic {name} does not exist.", topic=name, deleted=False)
        return Message(f"Deleted topic {name}.", topic=name, deleted=True)

    @one_line
    def alter(self, name: str, *, partitions: int, if_exists: bool = False) -> Message:
        """Add partitions to a topic (Kafka never removes them); ``if_exists=True`` makes a
        missing topic a no-op.

        >>> kb.topics.alter("orders", partitions=6)      # doctest: +SKIP
        Topic orders now has 6 partitions.
        """
        if partitions < 1:
            raise KafkabookError(f"--partitions must be 1 or more, not {partitions}")

        async def call(admin: Admin) -> bool:
            current_infos = _topic_infos(await admin.metadata([name]))
            if name not in current_infos:
                if if_exists:
                    return False
                raise no_such_topic(name)
            have = len(current_infos[name].partitions)
            if partitions <= have:
                raise KafkabookError(
                    f"topic '{name}' has {have} partitions: Kafka only adds partitions, "
                    f"use --partitions {have + 1} or more"
                )
            node = await admin.controller()
            response = await admin.send(
                node,
                37,
                max_version=3,
                topics=[{"name": name, "count": partitions, "assignments": None}],
                timeout=30_000,
                validate_only=False,
            )
            [result] = response.results
            check(result.error_code, f"cannot add partitions to '{name}'", result.error_message)
            deadline = time.monotonic() + SETTLE_TIMEOUT
            while time.monotonic() < deadline:
                info = _topic_infos(await admin.metadata([name])).get(name)
                if (
                    info
                    and len(info.partitions) >= partitions
                    and all(p.leader >= 0 for p in info.partitions)
                ):
                    break
                await asyncio.sleep(0.05)
            return True

        if not run_api(call):
            return Message(f"Topic {name} does not exist.", topic=name, altered=False)
        return Message(
            f"Topic {name} now has {partitions} partitions.",
            topic=name,
            partitions=partitions,
            altered=True,
        )


topics = Topics()
