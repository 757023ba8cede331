"""The groups widget: consumer groups, their members and assignments, rebalances as they happen.

Each group shows its state (Stable, PreparingRebalance, CompletingRebalance, Empty, Dead), its
assignor, its coordinator and its members with the partitions assigned to each (decoded from
the consumer protocol). Changes between two snapshots (state changes, members joining and
leaving, assignments moving) are listed as they happen, and a chart keeps each group's member
count over time coloured by state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import ipywidgets as widgets

from kafkabook.viz.charts import bundle, group_history_spec
from kafkabook.viz.live import CSS, DEFAULT_INTERVAL, ChartOutput, LiveWidget, Source, clock, esc
from kafkabook.viz.models import Event, GroupRow, group_events, groups_view
from kafkabook.viz.palette import GROUP_STATE_COLORS
from kafkabook.viz.snapshot import Snapshot, Wanted

EVENT_COLORS = {
    "rebalance": "#db2777",
    "member joined": "#0891b2",
    "member left": "#ea580c",
    "assignment": "#9333ea",
    "group": "#475569",
}


def _state_badge(state: str) -> str:
    color = GROUP_STATE_COLORS.get(state, "#6b7280")
    return f'<span class="kb-badge" style="background:{color}">{esc(state)}</span>'


def group_html(row: GroupRow) -> str:
    members = "".join(
        f'<tr data-member="{esc(m.member_id)}"><td class="kb-text">{esc(m.client_id)}</td>'
        f'<td class="kb-text"><code>{esc(m.member_id)}</code></td>'
        f'<td class="kb-text">{esc(m.host)}</td>'
        f'<td class="kb-text" data-kb="assignment">{esc(", ".join(m.assignment)) or "-"}</td></tr>'
        for m in row.members
    )
    if not members:
        members = '<tr><td class="kb-text" colspan="4">no members</td></tr>'
    facts = [
        f"protocol {esc(row.protocol_type or '-')}",
        f"assignor {esc(row.assignor or '-')}",
        f"coordinator {row.coordinator if row.coordinator is not None else '?'}",
        f"{len(row.members)} member(s)",
        f"{row.committed_partitions} committed partition(s)",
    ]
    error = f' <span class="kb-note">{esc(row.error)}</span>' if row.error else ""
    return (
        f'<div data-kb="group" data-group="{esc(row.group_id)}" data-state="{esc(row.state)}" '
        f'data-members="{len(row.members)}" style="margin:6px 0">'
        f"<b>{esc(row.group_id)}</b> {_state_badge(row.state)}{error} "
        f'<span class="kb-status">{" · ".join(facts)}</span>'
        '<table class="kb-table"><thead><tr><th class="kb-text">client id</th>'
        '<th class="kb-text">member id</th><th class="kb-text">host</th>'
        f'<th class="kb-text">assigned partitions</th></tr></thead><tbody>{members}</tbody>'
        "</table></div>"
    )


def events_html(events: Sequence[Event]) -> str:
    if not events:
        return '<div class="kb-status" data-kb="group-events">no rebalance seen yet</div>'
    items = "".join(
        f'<li data-kind="{esc(e.kind)}"><span class="kb-status">{clock(e.at)}</span> '
        f'<span class="kb-badge" style="background:{EVENT_COLORS.get(e.kind, "#6b7280")}">'
        f"{esc(e.kind)}</span> {esc(e.text)}</li>"
        for e in reversed(events)
    )
    return f'<ul data-kb="group-events" style="margin:2px 0;padding-left:18px">{items}</ul>'


class GroupsWidget(LiveWidget):
    """Consumer groups, members, assignments and state; rebalances as they happen.

    ``groups`` None shows every group. ``events`` holds what changed since the widget started
    (the newest `keep_events`).
    """

    title = "consumer groups"

    def __init__(
        self,
        source: Source,
        groups: Sequence[str] | None = None,
        interval: float = DEFAULT_INTERVAL,
        keep_events: int = 200,
        history: float = 300.0,
    ) -> None:
        self.groups = None if groups is None else tuple(groups)
        self.history = history
        self.body = widgets.HTML()
        self.event_list = widgets.HTML()
        self.chart = ChartOutput()
        self.rows: tuple[GroupRow, ...] = ()
        self.events: deque[Event] = deque(maxlen=keep_events)
        self._points: deque[tuple[float, str, str, int]] = deque()
        wanted = Wanted(
            topics=(),
            offsets=False,
            replica_logs=False,
            groups=True if self.groups is None else self.groups,
            quorum=False,
        )
        super().__init__(source, wanted, interval, [self.body, self.event_list, self.chart])

    def synced_parts(self) -> list[widgets.Widget]:
        return [self.header, self.body, self.event_list, self.status_line]

    def render(self, snapshot: Snapshot, previous: Snapshot | None) -> None:
        rows = groups_view(snapshot, self.groups)
        self.events.extend(group_events(previous, snapshot))
        for row in rows:
            self._points.append((snapshot.taken_at, row.group_id, row.state, len(row.members)))
        while self._points and self._points[0][0] < snapshot.taken_at - self.history:
            self._points.popleft()
        self.header.value = (
            f"<b>consumer groups</b> <span class='kb-status'>· {len(rows)} group(s)</span>"
        )
        body = "".join(group_html(r) for r in rows) or (
            '<div class="kb-status">no consumer groups yet</div>'
        )
        self.body.value = f'{CSS}<div class="kb-viz">{body}</div>'
        self.event_list.value = (
            f'<div class="kb-viz"><b>rebalances</b>{events_html(list(self.events)[-15:])}</div>'
        )
        if rows:
            points = list(self._points)
            self.chart.show_when(
                tuple((r.group_id, r.state, len(r.members)) for r in rows),
                lambda: bundle(group_history_spec(points), "members over time"),
            )
        self.rows = rows  # last: whoever reads it finds everything drawn
