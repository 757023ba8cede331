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

        producer = await session.producer(settings)
        try:
            futures = [
                await producer.send(
                    topic,
                    r.value,
                    key=r.key,
                    headers=list(r.headers) or None,
                    partition=r.partition,
                )
                for r in records
            ]
            return list(await asyncio.gather(*futures))
        except AioKafkaError as exc:
            raise _produce_error(topic, exc) from exc
        except (TypeError, AssertionError, ValueError) as exc:
            raise KafkabookError(f"cannot send to {topic}: {exc}") from exc

    try:
        metadata = session.run(call(), timeout)
    except KafkabookError as exc:
        if "no answer within" in str(exc):
            raise KafkabookError(
                f"records to {topic} were not acknowledged within {timeout:g} s: does the topic "
                "exist (%kafka topics --list)? are its leaders up (%kafka topics --describe)?"
            ) from exc
        raise
    return ProduceResult(topic, records, metadata)


def _produce_error(topic: str, exc: Exception) -> KafkabookError:
    from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError

    if isinstance(exc, (UnknownTopicOrPartitionError, KafkaTimeoutError)):
        return KafkabookError(
            f"cannot send to topic '{topic}' ({type(exc).__name__}): does it exist? "
            f"%kafka topics --create --topic {topic} creates it"
        )
    code = getattr(exc, "errno", None)
    name = error_name(code) if isinstance(code, int) else type(exc).__name__
    if name == "NOT_ENOUGH_REPLICAS" or name == "NOT_ENOUGH_REPLICAS_AFTER_APPEND":
        return KafkabookError(
            f"cannot send to {topic}: {name}: fewer in-sync replicas than min.insync.replicas; "
            "start the stopped brokers (%kafka cluster status) or send with --acks 1"
        )
    return KafkabookError(f"cannot send to {topic}: {name} ({exc})")
