"""Open a widget: ``kb.show.cluster()``, or ``%kafka show cluster`` in a notebook.

Every function returns the widget (the last expression of a cell displays it). Live widgets
watch the session's current cluster unless given one (``cluster=`` a `kafkabook.Cluster`, a
backend, or a bootstrap string), refresh every ``interval`` seconds in the background, and stop
when closed, when their cell runs again, or when the cluster goes away.

>>> import kafkabook as kb                                   # doctest: +SKIP
>>> kb.show.cluster(topics=["orders"])                      # doctest: +SKIP
>>> kb.show.hashing(topic="orders", keys=["user-1", "user-2"])   # doctest: +SKIP
>>> kb.show.offsets(topic="orders", group="billing")        # doctest: +SKIP
>>> kb.show.chart(my_altair_chart)                          # doctest: +SKIP

`from_line` is what ``%kafka show ...`` calls with the rest of the line.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from typing import Any

from kafkabook.api.cluster import Cluster
from kafkabook.api.display import Message
from kafkabook.api.errors import KafkabookError
from kafkabook.backends.base import Backend
from kafkabook.viz.charts import OfflineChart
from kafkabook.viz.live import DEFAULT_INTERVAL, LiveWidget, Source, adopt, current_cell_id
from kafkabook.viz.widgets.cluster import ClusterWidget
from kafkabook.viz.widgets.groups import GroupsWidget
from kafkabook.viz.widgets.hashing import DEFAULT_KEYS, HashingWidget
from kafkabook.viz.widgets.offsets import OffsetsWidget
from kafkabook.viz.widgets.timeline import TimelineWidget

ClusterLike = Cluster | Backend | str | None
WIDGETS = ("cluster", "hashing", "offsets", "groups", "timeline")


def _names(many: Sequence[str] | None, one: str | None) -> list[str] | None:
    names = list(many or [])
    if one:
        names.append(one)
    return names or None


def _live(widget: LiveWidget) -> LiveWidget:
    adopt(widget, current_cell_id())
    return widget.start()


def cluster(
    cluster: ClusterLike = None,
    *,
    topics: Sequence[str] | None = None,
    topic: str | None = None,
    internal: bool = False,
    interval: float = DEFAULT_INTERVAL,
    chart: bool = True,
    buttons: bool = True,
) -> ClusterWidget:
    """Brokers × partitions: replica states, preferred leaders, offsets, broker states, and
    buttons to kill, stop, start, pause and resume brokers (where the backend can)."""
    widget = ClusterWidget(
        Source(cluster),
        topics=_names(topics, topic),
        internal=internal,
        interval=interval,
        chart=chart,
        buttons=buttons,
    )
    return _live(widget)  # type: ignore[return-value]


def hashing(
    cluster: ClusterLike = None,
    *,
    keys: Sequence[str] = DEFAULT_KEYS,
    topic: str | None = None,
    partitions: int | None = None,
    serializer: str = "string",
    librdkafka: bool = False,
    sample: int = 1000,
) -> HashingWidget:
    """Keys → murmur2 → toPositive → modulo → partition, as Kafka's default partitioner does;
    with ``topic`` the partition count starts at the topic's (read once, not live)."""
    source = Source(cluster) if topic is not None and partitions is None else None
    return HashingWidget(
        keys=keys,
        partitions=partitions,
        topic=topic,
        source=source,
        serializer=serializer,
        librdkafka=librdkafka,
        sample=sample,
    )


def offsets(
    cluster: ClusterLike = None,
    *,
    topics: Sequence[str] | None = None,
    topic: str | None = None,
    groups: Sequence[str] | None = None,
    group: str | None = None,
    interval: float = DEFAULT_INTERVAL,
    history: float = 300.0,
) -> OffsetsWidget:
    """Log start, high watermark, committed offset and lag per partition and group; lag over
    the last ``history`` seconds."""
    widget = OffsetsWidget(
        Source(cluster),
        topics=_names(topics, topic),
        groups=_names(groups, group),
        interval=interval,
        history=history,
    )
    return _live(widget)  # type: ignore[return-value]


def groups(
    cluster: ClusterLike = None,
    *,
    groups: Sequence[str] | None = None,
    group: str | None = None,
    interval: float = DEFAULT_INTERVAL,
) -> GroupsWidget:
    """Consumer groups: state, members, assignments; rebalances as they happen."""
    widget = GroupsWidget(Source(cluster), groups=_names(groups, group), interval=interval)
    return _live(widget)  # type: ignore[return-value]


def timeline(
    cluster: ClusterLike = None,
    *,
    topics: Sequence[str] | None = None,
    topic: str | None = None,
    internal: bool = False,
    interval: float = DEFAULT_INTERVAL,
) -> TimelineWidget:
    """Cluster events over time: brokers down and up, leader changes, ISR shrinks and
    expands, controller changes."""
    widget = TimelineWidget(
        Source(cluster), topics=_names(topics, topic), internal=internal, interval=interval
    )
    return _live(widget)  # type: ignore[return-value]


def chart(chart: Any, text: str | None = None) -> OfflineChart:
    """Display an altair chart with JupyterLab's own Vega-Lite 5, which needs no network.

    Altair 6's default renderer loads Vega from a CDN, so offline (or behind a proxy) its
    charts stay blank; this one draws wherever the widgets' charts do. ``chart`` may use only
    what Vega-Lite 5 has: marks, encodings, layers, concatenation, facets, tooltips. ``text``
    is what a terminal or a notebook without JupyterLab's renderer shows instead.

    >>> import altair as alt, pandas as pd
    >>> shown = chart(alt.Chart(pd.DataFrame({"x": [1, 2]})).mark_bar().encode(x="x:Q"))
    >>> sorted(shown._repr_mimebundle_())
    ['application/vnd.vegalite.v5+json', 'text/plain']
    """
    return OfflineChart(chart, text)


# -- %kafka show ----------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise KafkabookError(f"%kafka show: {message} (%kafka show --help lists the options)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="%kafka show",
        description="Open a live widget over the current cluster.",
        epilog="example: %kafka show cluster --topic orders",
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="store_true", help="show this help")
    parser.add_argument("widget", nargs="?", choices=WIDGETS, help="which widget")
    parser.add_argument("--topic", action="append", dest="topics", help="a topic (repeatable)")
    parser.add_argument("--group", action="append", dest="groups", help="a group (repeatable)")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL, help="seconds")
    parser.add_argument("--internal", action="store_true", help="include internal topics")
    parser.add_argument("--history", type=float, default=300.0, help="seconds of lag history")
    parser.add_argument("--no-chart", action="store_true", help="cluster: the grid only")
    parser.add_argument("--no-buttons", action="store_true", help="cluster: no broker buttons")
    parser.add_argument("--keys", help="hashing: comma-separated keys")
    parser.add_argument("--partitions", type=int, help="hashing: partition count")
    parser.add_argument("--serializer", default="string", choices=["string", "int", "long", "hex"])
    parser.add_argument("--librdkafka", action="store_true", help="hashing: librdkafka columns")
    parser.add_argument("--sample", type=int, default=1000, help="hashing: sample key count")
    return parser


def from_line(line: str) -> Any:
    """What ``%kafka show LINE`` returns: a widget, or the help text.

    >>> print(from_line("--help"))                    # doctest: +ELLIPSIS
    usage: %kafka show ...
    """
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise KafkabookError(f"%kafka show: {exc}") from None
    return run(words)


def run(argv: Sequence[str]) -> Any:
    """`from_line` for an already split line (the ``%kafka`` dispatcher's handler shape)."""
    parser = _parser()
    args = parser.parse_args(list(argv))
    if args.help or args.widget is None:
        return Message(parser.format_help().rstrip())
    if args.widget == "cluster":
        return cluster(
            topics=args.topics,
            internal=args.internal,
            interval=args.interval,
            chart=not args.no_chart,
            buttons=not args.no_buttons,
        )
    if args.widget == "hashing":
        keys = DEFAULT_KEYS if args.keys is None else [k for k in args.keys.split(",")]
        topic = args.topics[0] if args.topics else None
        return hashing(
            keys=keys,
            topic=topic,
            partitions=args.partitions,
            serializer=args.serializer,
            librdkafka=args.librdkafka,
            sample=args.sample,
        )
    if args.widget == "offsets":
        return offsets(
            topics=args.topics, groups=args.groups, interval=args.interval, history=args.history
        )
    if args.widget == "groups":
        return groups(groups=args.groups, interval=args.interval)
    return timeline(topics=args.topics, internal=args.internal, interval=args.interval)
