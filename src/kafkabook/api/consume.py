"""Consume records with aiokafka's consumer, formatted as Kafka's console consumer would.

Without a group the consumer assigns itself the partitions (no group coordinator involved);
with ``group`` it joins that consumer group, subscribes, and commits what it read.

When to stop: after ``max_messages``; or, reading from the beginning or an explicit offset,
once it has caught up with the end of every partition as it was at the start; or after
``timeout`` seconds without a new record (the console consumer's ``--timeout-ms``). Reading
from the end (the default, as in Kafka) waits ``timeout`` seconds for new records. ``follow``
streams into a live output until ``max_messages``, ``timeout`` or an interrupt (Ctrl-C, or
the notebook's stop button), and returns what it got.

>>> import kafkabook as kb
>>> records = kb.consume("orders", from_beginning=True, max_messages=10)   # doctest: +SKIP
>>> print(records)                                                         # doctest: +SKIP
a
b
>>> records.df.columns.tolist()                                            # doctest: +SKIP
['partition', 'offset', 'timestamp', 'key', 'value', 'headers']
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafkabook.api.display import Table, html_table
from kafkabook.api.errors import KafkabookError, one_line
from kafkabook.api.session import Session, current

DEFAULT_TIMEOUT = 5.0
POLL_MS = 200


@dataclass(frozen=True)
class ConsumedRecord:
    """One record as read: bytes for key, value and header values (None for null)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()

    @property
    def key_text(self) -> str | None:
        return None if self.key is None else self.key.decode("utf-8", errors="replace")

    @property
    def value_text(self) -> str | None:
        return None if self.value is None else self.value.decode("utf-8", errors="replace")

    @property
    def datetime(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.timestamp / 1000, tz=datetime.UTC)


_FORMAT_BOOLEANS = (
    "print.timestamp",
    "print.key",
    "print.value",
    "print.partition",
    "print.offset",
    "print.headers",
)
_FORMAT_STRINGS = ("key.separator", "line.separator", "headers.separator", "null.literal")


@dataclass(frozen=True)
class MessageFormatter:
    """The console consumer's default formatter and its ``--property`` settings.

    >>> fmt = MessageFormatter.from_properties({"print.key": "true", "key.separator": "|"})
    >>> fmt.format(ConsumedRecord("t", 0, 5, 0, 0, b"k", b"v"))
    'k|v'
    """

    print_timestamp: bool = False
    print_key: bool = False
    print_value: bool = True
    print_partition: bool = False
    print_offset: bool = False
    print_headers: bool = False
    key_separator: str = "\t"
    line_separator: str = "\n"
    headers_separator: str = ","
    null_literal: str = "null"

    @classmethod
    def from_properties(cls, props: Mapping[str, str] | None) -> MessageFormatter:
        kwargs: dict[str, Any] = {}
        for name, value in (props or {}).items():
            attr = name.replace(".", "_")
            if name in _FORMAT_BOOLEANS:
                kwargs[attr] = str(value).strip().lower() == "true"
            elif name in _FORMAT_STRINGS:
                kwargs[attr] = str(value)
            else:
                raise KafkabookError(
                    f"unknown property {name!r}: the console consumer knows "
                    + ", ".join(_FORMAT_BOOLEANS + _FORMAT_STRINGS)
                )
        return cls(**kwargs)

    def _bytes(self, value: bytes | None) -> str:
        return self.null_literal if value is None else value.decode("utf-8", errors="replace")

    def format(self, record: ConsumedRecord) -> str:
        """The record as one console-consumer line (without the line separator)."""
        fields = []
        if self.print_timestamp:
            kind = {0: "CreateTime", 1: "LogAppendTime"}.get(record.timestamp_type)
            fields.append(f"{kind}:{record.timestamp}" if kind else "NO_TIMESTAMP")
        if self.print_partition:
            fields.append(f"Partition:{record.partition}")
        if self.print_offset:
            fields.append(f"Offset:{record.offset}")
        if self.print_headers:
            fields.append(
                self.headers_separator.join(f"{k}:{self._bytes(v)}" for k, v in record.headers)
                if record.headers
                else "NO_HEADERS"
            )
        if self.print_key:
            fields.append(self._bytes(record.key))
        if self.print_value:
            fields.append(self._bytes(record.value))
        return self.key_separator.join(fields)


class Records(Table):
    """Consumed records: console-consumer text, an HTML table, iterable, ``.df``.

    ``.values`` and ``.keys`` give the decoded strings; iterating gives `ConsumedRecord`s.
    """

    def __init__(
        self,
        topic: str,
        records: Sequence[ConsumedRecord],
        formatter: MessageFormatter | None = None,
        notes: Sequence[str] = (),
        *,
        streamed: bool = False,
    ) -> None:
        self.topic = topic
        self.records = list(records)
        self.formatter = formatter or MessageFormatter()
        self.streamed = streamed
        super().__init__(
            ["partition", "offset", "timestamp", "key", "value", "headers"],
            [
                (
                    r.partition,
                    r.offset,
                    r.datetime.isoformat(timespec="milliseconds"),
                    r.key_text,
                    r.value_text,
                    ",".join(
                        f"{k}:{'null' if v is None else v.decode(errors='replace')}"
                        for k, v in r.headers
                    ),
                )
                for r in self.records
            ],
            notes=notes,
        )

    def __iter__(self) -> Iterator[ConsumedRecord]:  # type: ignore[override]
        return iter(self.records)

    def __getitem__(self, index: int) -> ConsumedRecord:
        return self.records[index]

    @property
    def values(self) -> list[str | None]:
        return [r.value_text for r in self.records]

    @property
    def keys(self) -> list[str | None]:
        return [r.key_text for r in self.records]

    def summary(self) -> str:
        count = len(self.records)
        return f"{count} record{'s' if count != 1 else ''} from {self.topic}"

    def text(self) -> str:
        """The console consumer's output for these records."""
        sep = self.formatter.line_separator
        return "".join(self.formatter.format(r) + sep for r in self.records).rstrip("\n")

    def __repr__(self) -> str:
        if self.streamed:
            return f"{self.summary()} (streamed above)"
        body = self.text()
        lines = [*self.notes, body] if body else [*self.notes, f"({self.summary()})"]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if self.streamed:
            return f"<p>{self.summary()} (streamed above)</p>"
        return "".join(f"<p>{n}</p>" for n in self.notes) + html_table(
            self.columns, self.rows, self.summary()
        )


def _record(message: Any) -> ConsumedRecord:
    return ConsumedRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp=message.timestamp,
        timestamp_type=message.timestamp_type,
        key=message.key,
        value=message.value,
        headers=tuple((k, v) for k, v in (message.headers or ())),
    )


def _parse_offset(offset: int | str | None) -> int | str | None:
    if offset is None or isinstance(offset, int):
        return offset
    text = str(offset).strip().lower()
    if text in ("earliest", "latest"):
        return text
    try:
        value = int(text)
    except ValueError:
        raise KafkabookError(
            f"--offset takes a number, earliest or latest, not {offset!r}"
        ) from None
    return value


class _Consumption:
    """One consume call's consumer, driven step by step from the caller's thread."""

    def __init__(
        self,
        session: Session,
        topic: str,
        group: str | None,
        partition: int | None,
        offset: int | str | None,
        from_beginning: bool,
        isolation_level: str,
    ) -> None:
        self.session = session
        self.topic = topic
        self.group = group
        self.partition = partition
        self.offset = offset
        self.from_beginning = from_beginning
        self.isolation_level = isolation_level
        self.consumer: Any = None
        self.end_offsets: dict[Any, int] | None = None
        self.assigned = False

    @property
    def stops_at_end(self) -> bool:
        """Reading history (beginning or an offset) ends once it has caught up."""
        if self.group is not None:
            return False
        return self.from_beginning or self.offset not in (None, "latest")

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        from kafkabook.api.topics import _topic_infos, no_such_topic

        admin = await self.session.admin()
        info = _topic_infos(await admin.metadata([self.topic])).get(self.topic)
        if info is None:
            raise no_such_topic(self.topic)
        count = len(info.partitions)
        if self.partition is not None and not 0 <= self.partition < count:
            raise KafkabookError(
                f"topic '{self.topic}' has partitions 0-{count - 1}, not {self.partition}"
            )
        kwargs = self.session.connection_kwargs()
        consumer = AIOKafkaConsumer(
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if self.from_beginning else "latest",
            isolation_level=self.isolation_level,
            request_timeout_ms=30_000,
            **kwargs,
        )
        await consumer.start()
        self.consumer = consumer
        if self.group is not None:
            consumer.subscribe([self.topic])
            return
        parts = [self.partition] if self.partition is not None else range(count)
        tps = [TopicPartition(self.topic, p) for p in parts]
        consumer.assign(tps)
        if isinstance(self.offset, int):
            for tp in tps:
                consumer.seek(tp, self.offset)
        elif self.offset == "earliest" or (self.offset is None and self.from_beginning):
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        if self.stops_at_end:
            self.end_offsets = dict(await consumer.end_offsets(tps))
        self.assigned = True

    async def poll(self, timeout_ms: int, limit: int | None) -> list[ConsumedRecord]:
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=limit)
        if not self.assigned and self.consumer.assignment():
            self.assigned = True
        records = [_record(m) for msgs in batches.values() for m in msgs]
        records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
        return records

    async def caught_up(self) -> bool:
        if self.end_offsets is None:
            return False
        for tp, end in self.end_offsets.items():
            if await self.consumer.position(tp) < end:
                return False
        return True

    async def stop(self, commit: bool) -> None:
        if self.consumer is None:
            return
        try:
            if commit and self.group is not None and self.consumer.assignment():
                with contextlib.suppress(Exception):
                    await self.consumer.commit()
        finally:
            await self.consumer.stop()


def _live_sink(
    formatter: MessageFormatter, topic: str
) -> tuple[Callable[[list[ConsumedRecord]], None], Callable[[], None]]:
    """Where follow mode streams to: an updating display in Jupyter, printed lines elsewhere."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover
        shell = None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from IPython.display import display

        seen: list[ConsumedRecord] = []
        handle = display(Records(topic, [], formatter, [f"following {topic}…"]), display_id=True)

        def update(batch: list[ConsumedRecord]) -> None:
            seen.extend(batch)
            if handle is not None:
                handle.update(Records(topic, seen, formatter, [f"following {topic}…"]))

        def done() -> None:
            if handle is not None:
                handle.update(Records(topic, seen, formatter, [f"followed {topic}"]))

        return update, done

    def write(batch: list[ConsumedRecord]) -> None:
        for r in batch:
            print(formatter.format(r), end=formatter.line_separator, flush=True)

    return write, lambda: None


@one_line
def consume(
    topic: str,
    *,
    from_beginning: bool = False,
    group: str | None = None,
    max_messages: int | None = None,
    timeout: float | None = None,
    partition: int | None = None,
    offset: int | str | None = None,
    isolation_level: str = "read_uncommitted",
    properties: Mapping[str, str] | None = None,
    follow: bool = False,
) -> Records:
    """Read records from ``topic``; see the module docstring for when it stops.

    ``offset`` is a number, "earliest" or "latest" and needs ``partition`` (as in Kafka).
    ``properties`` are the console consumer's formatter properties (``print.key``,
    ``print.partition``, ``print.offset``, ``print.headers``, ``print.timestamp``,
    ``print.value``, ``key.separator``, ``line.separator``, ``headers.separator``,
    ``null.literal``); they shape the text, not the table.

    >>> kb.consume("orders", from_beginning=True, max_messages=10,
    ...            properties={"print.key": "true"}).values                  # doctest: +SKIP
    ['a', 'b']
    """
    formatter = MessageFormatter.from_properties(properties)
    offset = _parse_offset(offset)
    if offset is not None and partition is None:
        raise KafkabookError("--offset needs --partition: an offset belongs to one partition")
    if offset is not None and group is not None:
        raise KafkabookError(
            "--offset and --group do not go together: a group resumes from its "
            "committed offsets (%kafka groups --reset-offsets moves them)"
        )
    if partition is not None and group is not None:
        raise KafkabookError("--partition and --group do not go together: the group assigns them")
    if isolation_level not in ("read_committed", "read_uncommitted"):
        raise KafkabookError(
            f"--isolation-level is read_committed or read_uncommitted, not {isolation_level!r}"
        )
    if max_messages is not None and max_messages < 1:
        raise KafkabookError(f"--max-messages must be 1 or more, not {max_messages}")
    if timeout is not None and timeout <= 0:
        raise KafkabookError(f"--timeout must be more than 0 seconds, not {timeout:g}")
    if timeout is None and not follow:
        timeout = DEFAULT_TIMEOUT

    session = current()
    session.require()
    job = _Consumption(session, topic, group, partition, offset, from_beginning, isolation_level)
    sink, finish = _live_sink(formatter, topic) if follow else (None, None)
    records: list[ConsumedRecord] = []
    notes: list[str] = []
    interrupted = False
    try:
        session.run(job.start(), timeout=60.0)
        idle_since = time.monotonic()
        while True:
            limit = None if max_messages is None else max_messages - len(records)
            batch = session.run(job.poll(POLL_MS, limit), timeout=60.0)
            now = time.monotonic()
            if not job.assigned:
                idle_since = now  # joining a group is not idleness
            if batch:
                records.extend(batch)
                idle_since = now
                if sink is not None:
                    sink(batch)
            if max_messages is not None and len(records) >= max_messages:
                break
            if job.stops_at_end and session.run(job.caught_up(), timeout=30.0):
                break
            if timeout is not None and now - idle_since >= timeout:
                if not records:
                    where = (
                        "from the end of the log: --from-beginning reads what is there"
                        if not (from_beginning or offset is not None or group)
                        else ""
                    )
                    notes.append(
                        f"no records within {timeout:g} s" + (f" ({where})" if where else "")
                    )
                break
    except KeyboardInterrupt:
        if not follow:
            raise
        interrupted = True
    finally:
        with contextlib.suppress(Exception, KeyboardInterrupt):
            session.run(job.stop(commit=bool(records)), timeout=20.0)
        if finish is not None:
            finish()
    if interrupted:
        notes.append("stopped by an interrupt")
    return Records(topic, records, formatter, notes, streamed=follow)
