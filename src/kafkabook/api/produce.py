"""Produce records with aiokafka's producer (one per distinct settings, reused across calls).

>>> import kafkabook as kb
>>> kb.produce("orders", ["a", "b"], key="k")             # doctest: +SKIP
2 records to orders
partition  offset  key  value
1          0       k    a
1          1       k    b
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kafkabook.api.display import Table
from kafkabook.api.errors import KafkabookError, error_name, one_line
from kafkabook.api.lines import ProducerRecord
from kafkabook.api.session import current

COMPRESSION = ("none", "gzip", "snappy", "lz4", "zstd")
# Producer configs (Java names) that `--producer-property` accepts, as aiokafka arguments.
PRODUCER_CONFIGS: dict[str, tuple[str, type]] = {
    "acks": ("acks", str),
    "compression.type": ("compression_type", str),
    "linger.ms": ("linger_ms", int),
    "batch.size": ("max_batch_size", int),
    "max.request.size": ("max_request_size", int),
    "enable.idempotence": ("enable_idempotence", bool),
    "client.id": ("client_id", str),
    "request.timeout.ms": ("request_timeout_ms", int),
    "retry.backoff.ms": ("retry_backoff_ms", int),
    "metadata.max.age.ms": ("metadata_max_age_ms", int),
    "transaction.timeout.ms": ("transaction_timeout_ms", int),
}


def producer_settings(
    config: Mapping[str, Any] | None = None,
    *,
    acks: str | int | None = None,
    compression: str | None = None,
) -> dict[str, Any]:
    """aiokafka producer arguments from Kafka producer configs plus the short forms.

    >>> producer_settings({"linger.ms": "5"}, acks="1", compression="gzip")
    {'linger_ms': 5, 'acks': 1, 'compression_type': 'gzip'}
    """
    settings: dict[str, Any] = {}
    for name, raw in (config or {}).items():
        known = PRODUCER_CONFIGS.get(name)
        if known is None:
            raise KafkabookError(
                f"unknown or unsupported producer config {name!r}: kafkabook passes on "
                + ", ".join(PRODUCER_CONFIGS)
            )
        arg, kind = known
        text = str(raw).strip()
        try:
            if kind is bool:
                if text.lower() not in ("true", "false"):
                    raise ValueError(text)
                settings[arg] = text.lower() == "true"
            else:
                settings[arg] = kind(text)
        except ValueError:
            raise KafkabookError(
                f"producer config {name}={raw!r} is not a {kind.__name__}"
            ) from None
    if acks is not None:
        settings["acks"] = str(acks)
    # Kafka's producers (and its console producer) default to acks=all; aiokafka's to 1. With
    # all, a record is acknowledged once the high watermark covers it, so the next cell's
    # consumer sees it.
    settings.setdefault("acks", "all")
    if "acks" in settings:
        value = str(settings["acks"]).strip().lower()
        if value in ("all", "-1"):
            settings["acks"] = "all"
        elif value in ("0", "1"):
            settings["acks"] = int(value)
        else:
            raise KafkabookError(f"acks must be 0, 1, all or -1, not {settings['acks']!r}")
    if compression is not None:
        settings["compression_type"] = compression
    if "compression_type" in settings:
        kind = str(settings["compression_type"]).lower()
        if kind not in COMPRESSION:
            raise KafkabookError(
                f"compression must be one of {', '.join(COMPRESSION)}, not {kind!r}"
            )
        if kind == "none":
            del settings["compression_type"]
        else:
            settings["compression_type"] = kind
    if settings.get("acks") != "all" and settings.get("enable_idempotence"):
        raise KafkabookError("enable.idempotence=true needs acks=all")
    return settings


def to_bytes(value: Any) -> bytes | None:
    """How a Python value is sent: bytes as they are, str as UTF-8, None as null, else JSON.

    >>> to_bytes({"id": 1}), to_bytes("é"), to_bytes(None)
    (b'{"id": 1}', b'\\xc3\\xa9', None)
    """
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


def _text(value: bytes | None, limit: int = 80) -> str | None:
    if value is None:
        return None
    text = value.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ProduceResult(Table):
    """Where each record went: partition, offset, key, value (offset -1 with acks=0)."""

    def __init__(
        self,
        topic: str,
        records: Sequence[ProducerRecord],
        metadata: Sequence[Any],
        notes: Sequence[str] = (),
    ) -> None:
        self.topic = topic
        self.records = list(records)
        self.metadata = list(metadata)
        rows = [
            (m.partition, m.offset, _text(r.key), _text(r.value))
            for r, m in zip(self.records, self.metadata, strict=True)
        ]
        count = len(rows)
        super().__init__(
            ["partition", "offset", "key", "value"],
            rows,
            title=f"{count} record{'s' if count != 1 else ''} to {topic}",
            notes=notes,
        )

    @property
    def offsets(self) -> list[tuple[int, int]]:
        """``[(partition, offset), ...]`` in send order."""
        return [(m.partition, m.offset) for m in self.metadata]


def _as_records(
    values: Iterable[Any],
    key: Any,
    keys: Sequence[Any] | None,
    headers: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
    partition: int | None,
) -> list[ProducerRecord]:
    values = list(values)
    if keys is not None and len(keys) != len(values):
        raise KafkabookError(f"{len(keys)} keys for {len(values)} values: give one key per value")
    if keys is not None and key is not None:
        raise KafkabookError("give key= (one key for all) or keys= (one per value), not both")
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    common_headers = tuple((str(k), to_bytes(v)) for k, v in items)
    out = []
    for i, value in enumerate(values):
        if isinstance(value, ProducerRecord):
            out.append(
                value
                if partition is None or value.partition is not None
                else ProducerRecord(value.value, value.key, value.headers, partition)
            )
            continue
        out.append(
            ProducerRecord(
                value=to_bytes(value),
                key=to_bytes(keys[i] if keys is not None else key),
                headers=common_headers,
                partition=partition,
            )
        )
    return out


@one_line
def produce(
    topic: str,
    values: Iterable[Any] | str | bytes,
    *,
    key: Any = None,
    keys: Sequence[Any] | None = None,
    headers: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
    partition: int | None = None,
    acks: str | int | None = None,
    compression: str | None = None,
    config: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
) -> ProduceResult:
    """Send ``values`` to ``topic`` and wait for every acknowledgement.

    Values and keys may be str (UTF-8), bytes, None (null) or anything JSON-serialisable; a
    `ProducerRecord` carries its own key, headers and partition. ``key`` is one key for all
    values, ``keys`` one per value. ``acks`` (0, 1, all), ``compression`` (gzip, snappy, lz4,
    zstd) and ``config`` (Kafka producer configs such as ``{"linger.ms": 5}``) pick the producer.

    >>> kb.produce("orders", [{"id": 1}, {"id": 2}], key="customer-7", acks="all")  # doctest: +SKIP
    """
    if isinstance(values, (str, bytes)):
        values = [values]
    records = _as_records(values, key, keys, headers, partition)
    if not records:
        raise KafkabookError("nothing to send: give at least one value")
    settings = producer_settings(config, acks=acks, compression=compression)
    session = current()
    session.require()

    async def call() -> list[Any]:
        from aiokafka.errors import KafkaError as AioKafkaError

        # A cluster that is down would only show as a timeout after `timeout` seconds of the
        # producer's retries; a connection to any broker (usually open already) says it now.
        await (await session.admin()).live_node()
        producer = await session.producer(settings)
        futures = []
        failure: Exception | None = None
        try:
            for r in records:
                futures.append(
                    await producer.send(
                        topic,
                        r.value,
                        key=r.key,
                        headers=list(r.headers) or None,
                        partition=r.partition,
                    )
                )
        except AioKafkaError as exc:
            failure = exc
        except (TypeError, AssertionError, ValueError) as exc:
            failure = KafkabookError(f"cannot send to {topic}: {exc}")
        # Wait for every record already queued, also when another failed: the error then
        # says what was written, and nothing is still being retried behind it.
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if failure is None and not errors:
            return outcomes
        await session.discard_producer(settings)
        if isinstance(failure, KafkabookError):
            raise failure
        cause = failure or errors[0]
        written = len(outcomes) - len(errors)
        raise await _produce_error(session, topic, cause, written, len(records)) from cause

    try:
        metadata = session.run(call(), timeout)
    except KafkabookError as exc:
        if "no answer within" not in str(exc):
            raise
        # The producer kept retrying something retriable (a partition without a leader, a
        # broker that does not answer). Stop it, so that nothing is written after this error,
        # and ask the cluster what it was.
        session.run(session.discard_producer(settings), 15.0)
        try:
            why = session.run(_why_unacknowledged(session, topic), 10.0)
        except KafkabookError as again:
            why = str(again)
        raise KafkabookError(
            f"records to {topic} were not acknowledged within {timeout:g} s: {why}"
        ) from exc
    return ProduceResult(topic, records, metadata)


async def _why_unacknowledged(session: Any, topic: str) -> str:
    """What keeps a topic's records from being acknowledged, per Metadata."""
    from kafkabook.api.topics import _topic_infos, no_such_topic

    admin = await session.admin()
    metadata = await admin.metadata([topic])
    info = _topic_infos(metadata).get(topic)
    if info is None:
        return str(no_such_topic(topic))
    live = {b.node_id for b in metadata.brokers}
    leaderless = [p for p in info.partitions if p.leader < 0 or p.leader not in live]
    if leaderless:
        p = leaderless[0]
        down = [r for r in p.replicas if r not in live]
        way = (
            f"start broker {down[0]} with %kafka broker start {down[0]}"
            if down
            else f"%kafka topics --describe --topic {topic} shows the leaders"
        )
        return f"partition {p.partition} has no leader (replicas {_ids(p.replicas)}): {way}"
    return (
        f"every partition has a leader now, so sending again may work "
        f"(%kafka topics --describe --topic {topic} shows the leaders and ISR)"
    )


def _ids(ids: Sequence[int]) -> str:
    return ",".join(map(str, ids))


async def _produce_error(
    session: Any, topic: str, exc: BaseException, written: int, total: int
) -> KafkabookError:
    from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError

    from kafkabook.api.sender import REFUSALS

    if isinstance(exc, REFUSALS):
        message = await _not_enough_replicas(session, topic, exc)
    elif isinstance(exc, (UnknownTopicOrPartitionError, KafkaTimeoutError)):
        message = (
            f"cannot send to topic '{topic}' ({type(exc).__name__}): does it exist? "
            f"%kafka topics --create --topic {topic} creates it"
        )
    else:
        code = getattr(exc, "errno", None)
        name = error_name(code) if isinstance(code, int) else type(exc).__name__
        message = f"cannot send to {topic}: {name} ({exc})"
    if written:
        message += f" ({written} of {total} records were written)"
    return KafkabookError(message)


def _brokers(ids: Sequence[int]) -> str:
    return f"broker{'s' if len(ids) > 1 else ''} " + " and ".join(map(str, ids))


async def _not_enough_replicas(session: Any, topic: str, exc: BaseException) -> str:
    """Why acks=all cannot be met, from the cluster itself: the partition's ISR (Metadata) and
    the topic's min.insync.replicas (DescribeConfigs), and which brokers would fix it."""
    from kafkabook.api.configs import TOPIC, describe_entries
    from kafkabook.api.topics import _topic_infos

    name = error_name(getattr(exc, "errno", 19))
    partition = getattr(exc, "partition", None)
    after_append = (
        " (the leader wrote the records before the ISR shrank: sending again may duplicate them)"
        if name == "NOT_ENOUGH_REPLICAS_AFTER_APPEND"
        else ""
    )
    where = f"topic '{topic}'" + (f" partition {partition}" if partition is not None else "")
    fallback = (
        f"{name}: {where} has fewer in-sync replicas than min.insync.replicas, so acks=all "
        f"cannot be met{after_append}: %kafka topics --describe --topic {topic} shows the ISR; "
        "start the brokers that are missing from it, or use --acks 1"
    )
    try:
        admin = await session.admin()
        metadata = await admin.metadata([topic])
        [entries] = await describe_entries(admin, [(TOPIC, topic)])
        min_isr = int(next(e.value for e in entries if e.name == "min.insync.replicas"))
    except (KafkabookError, StopIteration, TypeError, ValueError):
        return fallback
    info = _topic_infos(metadata).get(topic)
    parts = {p.partition: p for p in info.partitions} if info else {}
    if partition not in parts:
        short = [p for p in parts.values() if len(p.isr) < min_isr]
        if not short:
            return fallback
        partition = short[0].partition
        where = f"topic '{topic}' partition {partition}"
    p = parts[partition]
    have = len(p.isr)
    replicas = "replica" if have == 1 else "replicas"
    if have >= min_isr:
        return (
            f"{name}: {where} had fewer in-sync replicas than min.insync.replicas={min_isr} "
            f"when it was sent{after_append}; it has {have} now, so sending again should work"
        )
    if len(p.replicas) < min_isr:
        factor = len(p.replicas)
        return (
            f"{name}: {where} has {factor} {'replica' if factor == 1 else 'replicas'} "
            f"but min.insync.replicas={min_isr}, so acks=all can never be met: lower it with "
            f"%kafka configs --alter --entity-type topics --entity-name {topic} "
            f"--add-config min.insync.replicas={factor}, or use --acks 1"
        )
    live = {b.node_id for b in metadata.brokers}
    missing = [r for r in p.replicas if r not in p.isr]
    down = [r for r in missing if r not in live]
    lagging = [r for r in missing if r in live]
    # The brokers that close the gap: stopped ones first, as only starting them helps.
    needed = (down + lagging)[: min_isr - have]
    ways = []
    start = [r for r in needed if r in down]
    catch_up = [r for r in needed if r in lagging]
    if start:
        ways.append(
            f"start {_brokers(start)} with "
            + " and ".join(f"%kafka broker start {r}" for r in start)
        )
    if catch_up:
        ways.append(
            f"wait for {_brokers(catch_up)} to catch up "
            f"(%kafka topics --describe --topic {topic} shows the ISR)"
        )
    return (
        f"{name}: {where} has {have} in-sync {replicas} but min.insync.replicas={min_isr} "
        f"needs {min_isr}, so acks=all cannot be met{after_append}: "
        + " and ".join(ways)
        + ", or use --acks 1"
    )
