"""The offsets widget: each partition's log, each group's committed offset and lag, moving.

Per partition: the log start offset and the high watermark (ListOffsets on the leader) and,
per consumer group, the committed offset (OffsetFetch) and the lag, high watermark minus
committed, as kafka-consumer-groups computes it. A bar chart draws the log and each group's
lag over it; a line chart keeps each group's total lag over time.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from kafkabook.viz.charts import bundle, lag_history_spec, offsets_spec
from kafkabook.viz.live import CSS, DEFAULT_INTERVAL, ChartOutput, LiveWidget, Source, esc
from kafkabook.viz.models import LagPoint, OffsetsView, extend_lag_history, offsets_view
from kafkabook.viz.palette import series_color
from kafkabook.viz.snapshot import Snapshot, Wanted


def _num(value: int | None) -> str:
    return "-" if value is None else str(value)


def table_html(view: OffsetsView) -> str:
    """Partition, log start, high watermark, and committed / lag per group (data attributes
    name each number for tests and scripts)."""
    group_heads = "".join(
        f'<th style="color:{series_color(i)}">{esc(g)} committed</th>'
        f'<th style="color:{series_color(i)}">{esc(g)} lag</th>'
        for i, g in enumerate(view.groups)
    )
    rows = []
    for row in view.rows:
        cells = "".join(
            f'<td data-kb="committed" data-group="{esc(g.group)}">{_num(g.committed)}</td>'
            f'<td data-kb="lag" data-group="{esc(g.group)}" data-topic="{esc(row.topic)}" '
            f'data-partition="{row.partition}">{_num(g.lag)}</td>'
            for g in row.groups
        )
        rows.append(
            f'<tr data-topic="{esc(row.topic)}" data-partition="{row.partition}">'
            f'<td class="kb-text">{esc(row.name)}</td>'
            f'<td data-kb="log-start">{_num(row.log_start)}</td>'
            f'<td data-kb="high-watermark">{_num(row.high_watermark)}</td>{cells}</tr>'
        )
    totals = "".join(
        f'<td></td><td data-kb="total-lag" data-group="{esc(g)}"><b>{_num(view.total_lag(g))}'
        "</b></td>"
        for g in view.groups
    )
    if view.groups:
        rows.append(f'<tr><td class="kb-text"><b>total</b></td><td></td><td></td>{totals}</tr>')
    if not view.rows:
        rows.append('<tr><td class="kb-text" colspan="3">no partitions (yet)</td></tr>')
    note = (
        ""
        if view.groups
        else '<div class="kb-status">no consumer group has committed offsets on these topics'
        " yet</div>"
    )
    return (
        f'{CSS}<div class="kb-viz"><table class="kb-table" data-kb="offsets-table"><thead><tr>'
        '<th class="kb-text">partition</th><th>log start</th><th>high watermark</th>'
        f"{group_heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}</div>"
    )


class OffsetsWidget(LiveWidget):
    """Log start, high watermark, committed offsets and lag per partition, live.

    ``topics`` None watches every topic; ``groups`` None every group with offsets or
    assignments on them. ``history`` is how many seconds of lag the time chart keeps.
    ``view`` is the last `OffsetsView`; ``history_points`` the lag kept for the chart.
    """

    title = "offsets and lag"

    def __init__(
        self,
        source: Source,
        topics: Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
        interval: float = DEFAULT_INTERVAL,
        history: float = 300.0,
    ) -> None:
        self.topics = None if topics is None else tuple(topics)
        self.groups = None if groups is None else tuple(groups)
        self.history = history
        self.table = widgets.HTML()
        self.bars = ChartOutput()
        self.lag_chart = ChartOutput()
        self.view: OffsetsView | None = None
        self.history_points: tuple[LagPoint, ...] = ()
        wanted = Wanted(
            topics=self.topics,
            offsets=True,
            replica_logs=False,
            groups=True if self.groups is None else self.groups,
            quorum=False,
        )
        super().__init__(source, wanted, interval, [self.table, self.bars, self.lag_chart])

    def synced_parts(self) -> list[widgets.Widget]:
        return [self.header, self.table, self.status_line]

    def render(self, snapshot: Snapshot, previous: Snapshot | None) -> None:
        view = offsets_view(snapshot, self.topics, self.groups)
        self.history_points = extend_lag_history(self.history_points, view, self.history)
        what = "every topic" if self.topics is None else ", ".join(self.topics)
        self.header.value = (
            f"<b>offsets and lag</b> <span class='kb-status'>· {esc(what)} · "
            f"{len(view.groups)} group(s)</span>"
        )
        self.table.value = table_html(view)
        totals = ", ".join(f"{g}: {_num(view.total_lag(g))}" for g in view.groups)
        self.bars.show(bundle(offsets_spec(view), f"lag {totals or '(no groups)'}"))
        if view.groups:
            points = self.history_points
            self.lag_chart.show_when(
                (view.groups, tuple(view.total_lag(g) for g in view.groups)),
                lambda: bundle(lag_history_spec(points, view.groups), "lag over time"),
            )
        self.view = view  # last: whoever reads it finds everything drawn

    def total_lag(self, group: str) -> int | None:
        """The group's total lag as last drawn."""
        return None if self.view is None else self.view.total_lag(group)
