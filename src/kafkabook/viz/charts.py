"""Altair charts of the view models, emitted as Vega-Lite v5 so they render offline.

JupyterLab 4 renders ``application/vnd.vegalite.v5+json`` outputs with a Vega-Lite it bundles:
no network. Altair 6 writes Vega-Lite v6 specs, and its renderers (and ``JupyterChart``) load
Vega from a CDN, so a chart shown the usual way stays blank on a machine without internet. The
charts here use only what v5 has (marks, encodings, layers, facets, tooltips), and `to_v5`
hands the spec to JupyterLab's own renderer under the v5 mimetype.

Each chart is built with altair once per *shape* (which groups, how many rows...) with named
datasets, and each refresh only puts new rows into ``datasets``: altair's ``to_dict`` costs
milliseconds, a live widget redraws twice a second.

Every ``*_spec`` function takes a view model and returns a spec ``dict``; `bundle` makes the
mimebundle a widget puts in its output area.

>>> spec = replica_counts_spec(ClusterView(0.0, None, None, None, None, (), ()))
>>> spec["$schema"]
'https://vega.github.io/schema/vega-lite/v5.json'
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

import altair as alt

from kafkabook.viz.models import ClusterView, Event, HashingView, LagPoint, OffsetsView
from kafkabook.viz.palette import (
    EVENT_KINDS,
    GROUP_STATE_COLORS,
    LOG_BAR,
    REPLICA_STATES,
    event_scale,
    replica_scale,
    series_scale,
)

MIME_V5 = "application/vnd.vegalite.v5+json"
SCHEMA_V5 = "https://vega.github.io/schema/vega-lite/v5.json"
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
JAVA, LIBRDKAFKA = "Java (murmur2)", "librdkafka (CRC32)"


def to_v5(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart's spec as Vega-Lite v5 (no schema validation: it is slow, and ours are fixed)."""
    spec = chart.to_dict(validate=False)
    spec["$schema"] = SCHEMA_V5
    spec.setdefault("config", {}).setdefault("font", FONT)
    return spec


def with_data(template: dict[str, Any], **datasets: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of ``template`` whose named datasets are ``datasets`` (the template is shared)."""
    spec = dict(template)
    spec["datasets"] = datasets
    return spec


def bundle(spec: dict[str, Any], text: str) -> dict[str, Any]:
    """A display_data mimebundle: the v5 chart, and ``text`` for terminals and tests."""
    return {MIME_V5: spec, "text/plain": text}


class OfflineChart:
    """An altair chart that displays as Vega-Lite v5, drawn by JupyterLab's bundled renderer.

    What `kafkabook.viz.show.chart` returns. The spec is converted once, when made; the chart
    must use only what Vega-Lite 5 has (marks, encodings, layers, concatenation, facets,
    tooltips), as the widgets' charts do.
    """

    def __init__(self, chart: alt.TopLevelMixin, text: str | None = None) -> None:
        self.spec = to_v5(chart)
        self.text = text or "a Vega-Lite chart (JupyterLab draws it)"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return bundle(self.spec, self.text)

    def __repr__(self) -> str:
        return f"<OfflineChart: {self.text}>"


def _time(at: float) -> str:
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).isoformat(timespec="milliseconds")


# -- replicas per broker --------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _replica_counts_template(brokers: int) -> dict[str, Any]:
    chart = (
        alt.Chart(alt.NamedData(name="counts"))
        .mark_bar()
        .encode(
            y=alt.Y("broker:N", title=None, sort=None),
            x=alt.X("replicas:Q", title="replicas", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color(
                "state:N",
                scale=alt.Scale(**replica_scale()),
                legend=alt.Legend(title="replica state", orient="right"),
            ),
            order=alt.Order("order:Q"),
            tooltip=["broker:N", "state:N", "replicas:Q"],
        )
        .properties(width=320, height=max(40, 24 * brokers), title="replicas per broker")
    )
    return to_v5(chart)


def replica_counts_spec(view: ClusterView) -> dict[str, Any]:
    """Replicas per broker, stacked by replica state: leadership balance at a glance."""
    rows = [
        {"broker": f"broker {b}", "state": s, "order": REPLICA_STATES.index(s), "replicas": n}
        for b, s, n in view.counts()
    ]
    return with_data(_replica_counts_template(len(view.columns)), counts=rows)


# -- offsets and lag ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _offsets_template(order: tuple[str, ...], groups: tuple[str, ...]) -> dict[str, Any]:
    y = alt.Y("row:N", title=None, sort=list(order))
    log = (
        alt.Chart(alt.NamedData(name="log"))
        .mark_bar(color=LOG_BAR, height={"band": 0.8})
        .encode(
            y=y,
            x=alt.X("start:Q", title="offset"),
            x2="end:Q",
            tooltip=[
                alt.Tooltip("row:N", title="partition"),
                alt.Tooltip("start:Q", title="log start"),
                alt.Tooltip("end:Q", title="high watermark"),
            ],
        )
    )
    lag_bar = (
        alt.Chart(alt.NamedData(name="lag"))
        .mark_bar(height={"band": 0.45})
        .encode(
            y=y,
            x="committed:Q",
            x2="end:Q",
            color=alt.Color(
                "group:N",
                scale=alt.Scale(**series_scale(list(groups))),
                legend=alt.Legend(title="lag of group"),
            ),
            tooltip=["row:N", "group:N", "committed:Q", "lag:Q"],
        )
    )
    committed = (
        alt.Chart(alt.NamedData(name="lag"))
        .mark_tick(thickness=3, color="#111827")
        .encode(y=y, x="committed:Q", tooltip=["row:N", "group:N", "committed:Q", "lag:Q"])
    )
    chart = alt.layer(log, lag_bar, committed).properties(
        width=460,
        height=max(60, 22 * len(order)),
        title="log start → high watermark (grey); committed → high watermark = lag (colour)",
    )
    return to_v5(chart)


def offsets_spec(view: OffsetsView) -> dict[str, Any]:
    """Each partition's log (log start → high watermark) as a bar, and per group the committed
    offset (a tick) with its lag (committed → high watermark) drawn over it."""
    log_rows: list[dict[str, Any]] = []
    lag_rows: list[dict[str, Any]] = []
    for row in view.rows:
        start = row.log_start or 0
        end = start if row.high_watermark is None else row.high_watermark
        labels = (
            [(row.name, None)]
            if not row.groups
            else [(f"{row.name} · {g.group}", g) for g in row.groups]
        )
        for label, g in labels:
            log_rows.append({"row": label, "start": start, "end": end})
            if g is not None and g.committed is not None:
                lag_rows.append(
                    {
                        "row": label,
                        "group": g.group,
                        "committed": g.committed,
                        "end": max(g.committed, end),
                        "lag": g.lag,
                    }
                )
    order = tuple(r["row"] for r in log_rows)
    return with_data(_offsets_template(order, view.groups), log=log_rows, lag=lag_rows)


@functools.lru_cache(maxsize=32)
def _lag_history_template(groups: tuple[str, ...]) -> dict[str, Any]:
    chart = (
        alt.Chart(alt.NamedData(name="points"))
        .mark_line(point=True, interpolate="step-after")
        .encode(
            x=alt.X("time:T", title=None, axis=alt.Axis(format="%H:%M:%S")),
            y=alt.Y("lag:Q", title="total lag (records)"),
            color=alt.Color(
                "group:N",
                scale=alt.Scale(**series_scale(list(groups))),
                legend=alt.Legend(title="group"),
            ),
            tooltip=[alt.Tooltip("time:T", format="%H:%M:%S.%L"), "group:N", "lag:Q"],
        )
        .properties(width=460, height=160, title="lag over time")
    )
    return to_v5(chart)


def lag_history_spec(points: Sequence[LagPoint], groups: Sequence[str]) -> dict[str, Any]:
    """Total lag per group over time."""
    rows = [{"time": _time(p.at), "group": p.group, "lag": p.lag} for p in points]
    return with_data(_lag_history_template(tuple(groups)), points=rows)


# -- key hashing ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _distribution_template(partitions: int, librdkafka: bool) -> dict[str, Any]:
    names = [JAVA, LIBRDKAFKA] if librdkafka else [JAVA]
    chart = (
        alt.Chart(alt.NamedData(name="counts"))
        .mark_bar()
        .encode(
            x=alt.X("partition:O", title="partition"),
            y=alt.Y("keys:Q", title="keys"),
            color=alt.Color("partitioner:N", scale=alt.Scale(**series_scale(names)), legend=None),
            tooltip=["partitioner:N", "partition:O", "keys:Q"],
        )
        .properties(width=max(120, min(480, 28 * partitions)), height=110)
    )
    if librdkafka:
        chart = chart.facet(row=alt.Row("partitioner:N", title=None, sort=names))
    return to_v5(chart.properties(title="keys per partition"))


def distribution_spec(view: HashingView, librdkafka: bool) -> dict[str, Any]:
    """Keys per partition with the Java partitioner (and librdkafka's, one row each)."""
    rows = [
        {"partition": i, "partitioner": JAVA, "keys": n} for i, n in enumerate(view.java_counts)
    ]
    if librdkafka:
        rows += [
            {"partition": i, "partitioner": LIBRDKAFKA, "keys": n}
            for i, n in enumerate(view.librdkafka_counts)
        ]
    return with_data(_distribution_template(view.partitions, librdkafka), counts=rows)


# -- timelines ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _timeline_template(lanes: tuple[str, ...]) -> dict[str, Any]:
    x = alt.X("time:T", title=None, axis=alt.Axis(format="%H:%M:%S"))
    y = alt.Y("kind:N", title=None, sort=list(lanes), scale=alt.Scale(domain=list(lanes)))
    events = (
        alt.Chart(alt.NamedData(name="events"))
        .mark_point(filled=True, size=90, opacity=0.85)
        .encode(
            x=x,
            y=y,
            color=alt.Color("kind:N", scale=alt.Scale(**event_scale()), legend=None),
            tooltip=[alt.Tooltip("time:T", format="%H:%M:%S.%L"), "subject:N", "text:N"],
        )
    )
    # Two invisible marks at the start and end of the watched window keep the axis spanning it.
    window = alt.Chart(alt.NamedData(name="window")).mark_point(opacity=0).encode(x=x)
    chart = alt.layer(window, events).properties(
        width=560, height=max(60, 26 * len(lanes)), title="cluster events"
    )
    return to_v5(chart)


def timeline_spec(events: Sequence[Event], since: float, until: float) -> dict[str, Any]:
    """Cluster events on a time axis, one lane per kind, coloured by kind."""
    rows = [
        {"time": _time(e.at), "kind": e.kind, "subject": e.subject, "text": e.text}
        for e in events
        if e.kind in EVENT_KINDS
    ]
    lanes = tuple(k for k in EVENT_KINDS if any(r["kind"] == k for r in rows)) or EVENT_KINDS[:1]
    window = [{"time": _time(since)}, {"time": _time(until)}]
    return with_data(_timeline_template(lanes), events=rows, window=window)


@functools.lru_cache(maxsize=1)
def _group_history_template() -> dict[str, Any]:
    states = list(GROUP_STATE_COLORS)
    line = (
        alt.Chart(alt.NamedData(name="points"))
        .mark_line(color="#94a3b8", interpolate="step-after")
        .encode(
            x=alt.X("time:T", title=None, axis=alt.Axis(format="%H:%M:%S")),
            y=alt.Y("members:Q", title="members", axis=alt.Axis(tickMinStep=1)),
            detail="group:N",
        )
    )
    dots = (
        alt.Chart(alt.NamedData(name="points"))
        .mark_point(filled=True, size=50)
        .encode(
            x="time:T",
            y="members:Q",
            shape=alt.Shape("group:N", legend=alt.Legend(title="group")),
            color=alt.Color(
                "state:N",
                scale=alt.Scale(domain=states, range=[GROUP_STATE_COLORS[s] for s in states]),
                legend=alt.Legend(title="state"),
            ),
            tooltip=[
                alt.Tooltip("time:T", format="%H:%M:%S.%L"),
                "group:N",
                "state:N",
                "members:Q",
            ],
        )
    )
    chart = alt.layer(line, dots).properties(
        width=460, height=150, title="members and state over time"
    )
    return to_v5(chart)


def group_history_spec(points: Sequence[tuple[float, str, str, int]]) -> dict[str, Any]:
    """Members per group over time, each point coloured by the group's state then."""
    rows = [
        {"time": _time(at), "group": group, "state": state, "members": members}
        for at, group, state, members in points
    ]
    return with_data(_group_history_template(), points=rows)
