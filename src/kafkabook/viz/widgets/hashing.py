"""The hashing widget: type keys, watch each one go to its partition, step by step.

For every key: its bytes (as the chosen Kafka serializer writes them), murmur2 as the Java
``int`` Kafka computes, toPositive, the modulo and the partition; with the librdkafka toggle,
also CRC-32 and the partition librdkafka's default partitioner picks. The slider changes the
partition count: keys that would move away from where they are with the topic's current count
are highlighted, and the chart shows how a larger sample of keys spreads. ``<null>`` stands for
a record without a key and ``<empty>`` for the empty key (which Java hashes and librdkafka
does not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from kafkabook.api import loop
from kafkabook.api.errors import KafkabookError
from kafkabook.viz.charts import bundle, distribution_spec
from kafkabook.viz.live import CSS, ChartOutput, Source, esc
from kafkabook.viz.models import HashingView, HashRow, hashing_view
from kafkabook.viz.partitioner import SERIALIZERS
from kafkabook.viz.snapshot import Wanted

DEFAULT_KEYS = ("user-1", "user-2", "user-3", "order-42", "foobar", "<empty>", "<null>")
DEFAULT_PARTITIONS = 6

NOTES = """
<div class="kb-help" data-kb="hash-notes">
<p><b>Null keys are not hashed.</b> The Java producer (Kafka 3.3+, KIP-794) keeps sending
records without a key to one partition until a batch (<code>batch.size</code>) is full, then
moves to another, favouring partitions whose brokers keep up: null-key records arrive in
bursts per partition. aiokafka picks a random available partition for each one. librdkafka
picks a random partition for null <i>and empty</i> keys, and keeps it for
<code>sticky.partitioning.linger.ms</code> (10 ms by default); Java hashes the empty key like
any other.</p>
<p><b>librdkafka has another default.</b> confluent-kafka, kcat and the other librdkafka
clients use <code>partitioner=consistent_random</code>: CRC-32 of the key bytes modulo the
partition count. The same key then lands on another partition than from a Java, aiokafka or
kafka-python producer. Set <code>partitioner=murmur2_random</code> in librdkafka to place keys as
Java does (toggle the librdkafka columns to compare).</p>
<p><b>Adding partitions moves keys.</b> The partition is the hash modulo the count, so most
keys change partition when partitions are added, while the records already written stay where
they are: per-key order only holds from the change on. An explicit partition on a record, or a
custom partitioner, bypasses all of this.</p>
</div>
"""


def parse_keys(text: str) -> list[str]:
    """One key per line; blank lines are skipped (``<empty>`` is the empty key).

    >>> parse_keys("a\\n\\n b \\n<null>\\n")
    ['a', ' b ', '<null>']
    """
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def _row_html(row: HashRow, view: HashingView, librdkafka: bool) -> str:
    p = row.placement
    if p.error:
        cols = 6 + (1 if view.base != view.partitions else 0) + (2 if librdkafka else 0)
        return (
            f'<tr data-key="{esc(p.text)}" data-partition=""><td class="kb-text">'
            f'{esc(p.text)}</td><td class="kb-text kb-note" colspan="{cols - 1}">'
            f"{esc(p.error)}</td></tr>"
        )
    if p.null:
        cells = [
            f'<td class="kb-text">{esc(p.text)}</td>',
            '<td class="kb-text">(no key)</td>',
            '<td class="kb-text" colspan="4">not hashed: Java sticks to a partition per batch,'
            " aiokafka picks one at random</td>",
            "<td>sticky</td>",
        ]
        if view.base != view.partitions:
            cells.append("<td></td>")
        if librdkafka:
            cells += ["<td></td>", "<td>random</td>"]
        return f'<tr data-key="{esc(p.text)}" data-partition="">{"".join(cells)}</tr>'
    moved = " kb-moved" if row.moved else ""
    cells = [
        f'<td class="kb-text"><code>{esc(p.text)}</code></td>',
        f'<td class="kb-text"><code>{esc(p.key_hex) or "(0 bytes)"}</code></td>',
        f"<td>{p.murmur2}</td>",
        f"<td>{p.positive}</td>",
        f"<td>{p.positive} % {view.partitions}</td>",
        f'<td class="{moved.strip()}" data-col="partition"><b>{p.partition}</b></td>',
    ]
    if view.base != view.partitions:
        cells.append(f'<td class="{moved.strip()}" data-col="base">{row.base_partition}</td>')
    if librdkafka:
        chosen = "random" if p.librdkafka is None else str(p.librdkafka)
        cells += [f"<td>{p.crc32}</td>", f'<td data-col="librdkafka"><b>{chosen}</b></td>']
    librdkafka_attr = "" if p.librdkafka is None else str(p.librdkafka)
    return (
        f'<tr data-key="{esc(p.text)}" data-partition="{p.partition}" '
        f'data-librdkafka="{librdkafka_attr}" data-moved="{str(row.moved).lower()}">'
        f"{''.join(cells)}</tr>"
    )


def table_html(view: HashingView, librdkafka: bool) -> str:
    heads = [
        "key",
        "key bytes (hex)",
        "murmur2 (Java int)",
        "toPositive",
        f"% {view.partitions}",
        "partition",
    ]
    if view.base != view.partitions:
        heads.append(f"with {view.base}")
    if librdkafka:
        heads += ["CRC-32", "librdkafka"]
    head = "".join(
        f'<th class="{"kb-text" if i < 2 else ""}">{esc(h)}</th>' for i, h in enumerate(heads)
    )
    body = "".join(_row_html(r, view, librdkafka) for r in view.rows)
    summary = f"{view.counted} key(s) counted in the chart"
    if view.base != view.partitions:
        summary += (
            f"; {view.sample_moved} of them move going from {view.base} to {view.partitions} "
            f"partitions ({view.sample_moved * 100 // max(1, view.counted)}%)"
        )
    return (
        f'{CSS}<div class="kb-viz"><table class="kb-table" data-kb="hash-table" '
        f'data-partitions="{view.partitions}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
        f'<div class="kb-status" data-kb="hash-summary">{esc(summary)}</div></div>'
    )


def topic_partitions(source: Source, topic: str) -> int:
    """How many partitions ``topic`` has now (one Metadata request)."""

    async def read() -> int:
        try:
            collector = await source.collector()
            snapshot = await collector.collect(
                Wanted(topics=(topic,), offsets=False, replica_logs=False, quorum=False)
            )
        finally:
            await source.close()
        found = snapshot.topic(topic)
        if found is None or not found.partitions:
            raise KafkabookError(
                f"topic {topic!r} does not exist: %kafka topics --list shows the topics"
            )
        return len(found.partitions)

    return loop.run(read(), timeout=30.0)


class HashingWidget(widgets.VBox):
    """Keys → partitions, exactly as Kafka's default partitioner computes them.

    ``partitions`` defaults to the topic's partition count (when ``topic`` is given) and is the
    count the slider compares with. ``view`` is the last `HashingView` drawn.
    """

    def __init__(
        self,
        keys: Sequence[str] = DEFAULT_KEYS,
        partitions: int | None = None,
        topic: str | None = None,
        source: Source | None = None,
        serializer: str = "string",
        librdkafka: bool = False,
        sample: int = 1000,
        sample_prefix: str = "key-",
    ) -> None:
        if serializer not in SERIALIZERS:
            raise KafkabookError(
                f"unknown serializer {serializer!r}: use one of {', '.join(SERIALIZERS)}"
            )
        base = partitions
        if topic is not None and base is None:
            if source is None:
                source = Source()
            base = topic_partitions(source, topic)
        base = base or DEFAULT_PARTITIONS
        if base < 1:
            raise KafkabookError(f"a topic has at least one partition, not {base}")
        self.topic = topic
        self.base = base
        self.key_input = widgets.Textarea(
            value="\n".join(keys),
            description="keys",
            placeholder="one key per line; <null> = no key, <empty> = empty key",
            layout={"width": "340px", "height": "150px"},
        )
        self.serializer = widgets.Dropdown(
            options=[(label, name) for name, label in SERIALIZERS.items()],
            value=serializer,
            description="serializer",
            layout={"width": "420px"},
        )
        self.partitions = widgets.IntSlider(
            value=base,
            min=1,
            max=max(64, base * 2),
            description="partitions",
            continuous_update=False,
            layout={"width": "420px"},
        )
        self.librdkafka = widgets.Checkbox(
            value=librdkafka,
            description="show where librdkafka puts each key (consistent_random)",
            indent=False,
        )
        self.sample = widgets.BoundedIntText(
            value=sample, min=0, max=200_000, description="sample keys", layout={"width": "200px"}
        )
        self.sample_prefix = widgets.Text(
            value=sample_prefix, description="named", layout={"width": "200px"}
        )
        self.table = widgets.HTML()
        self.chart = ChartOutput()
        self.notes = widgets.HTML(f'{CSS}<div class="kb-viz">{NOTES}</div>')
        title = widgets.HTML(
            '<div class="kb-viz"><b>key hashing</b> <span class="kb-status">· '
            + (f"topic {esc(topic)} has {base} partition(s)" if topic else f"{base} partitions")
            + " · partition = toPositive(murmur2(key bytes)) % partitions</span></div>"
        )
        controls = widgets.VBox(
            [
                self.serializer,
                self.partitions,
                self.librdkafka,
                widgets.HBox([self.sample, self.sample_prefix]),
            ]
        )
        super().__init__(
            [title, widgets.HBox([self.key_input, controls]), self.table, self.chart, self.notes]
        )
        self.add_class("kb-viz")
        self.view: HashingView | None = None
        self._sample_cache: tuple[tuple[int, str], list[bytes]] | None = None
        for control in (
            self.key_input,
            self.serializer,
            self.partitions,
            self.librdkafka,
            self.sample,
            self.sample_prefix,
        ):
            control.observe(self._changed, names="value")
        self.redraw()

    def _changed(self, _: Any) -> None:
        self.redraw()

    def _sample_keys(self) -> list[bytes]:
        wanted = (self.sample.value, self.sample_prefix.value)
        if self._sample_cache is None or self._sample_cache[0] != wanted:
            count, prefix = wanted
            self._sample_cache = (wanted, [f"{prefix}{i}".encode() for i in range(count)])
        return self._sample_cache[1]

    def redraw(self) -> None:
        """Recompute and draw everything from the controls' values."""
        view = hashing_view(
            parse_keys(self.key_input.value),
            self.partitions.value,
            self.serializer.value,
            base=self.base,
            sample=self._sample_keys(),
        )
        self.view = view
        show_rdkafka = bool(self.librdkafka.value)
        with self.table.hold_sync():
            self.table.value = table_html(view, show_rdkafka)
        counts = ", ".join(str(n) for n in view.java_counts)
        self.chart.show(
            bundle(distribution_spec(view, show_rdkafka), f"keys per partition: {counts}")
        )

    def partition_of(self, key: str) -> int | None:
        """The partition shown for ``key`` (None for a null key or a key that does not parse)."""
        if self.view is None:
            return None
        for row in self.view.rows:
            if row.placement.text == key:
                return row.placement.partition
        return None
