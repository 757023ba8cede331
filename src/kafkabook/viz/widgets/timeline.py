"""The timeline widget: cluster events on a time axis, derived from successive snapshots.

Every refresh compares the new snapshot with the previous one (`kafkabook.viz.models.
cluster_events`): a broker leaving or joining the cluster, its process being killed, stopped,
paused or started, the controller changing, a partition's leader changing or going away, its
ISR shrinking or expanding. The chart has one lane per kind of event, coloured as the replica
states are (an ISR shrink in the colour of an out-of-sync follower...), and the list below it
spells out the latest ones. The failover lesson's main picture.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import ipywidgets as widgets

from kafkabook.viz.charts import bundle, timeline_spec
from kafkabook.viz.live import CSS, DEFAULT_INTERVAL, ChartOutput, LiveWidget, Source, clock, esc
from kafkabook.viz.models import Event, cluster_events
from kafkabook.viz.palette import EVENT_COLORS
from kafkabook.viz.snapshot import Snapshot, Wanted


def events_html(events: Sequence[Event], limit: int = 20) -> str:
    shown = list(events)[-limit:]
    if not shown:
        return '<div class="kb-status" data-kb="timeline-events">nothing happened yet</div>'
    items = "".join(
        f'<li data-kind="{esc(e.kind)}" data-subject="{esc(e.subject)}">'
        f'<span class="kb-status">{clock(e.at)}</span> '
        f'<span class="kb-badge" style="background:{EVENT_COLORS.get(e.kind, "#6b7280")}">'
        f"{esc(e.kind)}</span> {esc(e.text)}</li>"
        for e in reversed(shown)
    )
    return f'<ul data-kb="timeline-events" style="margin:2px 0;padding-left:18px">{items}</ul>'


class TimelineWidget(LiveWidget):
    """Broker down/up, process changes, controller changes, leader changes, ISR shrink/expand.

    ``events`` keeps the newest ``keep_events`` since the widget started.
    """

    title = "cluster timeline"

    def __init__(
        self,
        source: Source,
        topics: Sequence[str] | None = None,
        internal: bool = False,
        interval: float = DEFAULT_INTERVAL,
        keep_events: int = 2000,
    ) -> None:
        self.chart = ChartOutput()
        self.event_list = widgets.HTML()
        self.events: deque[Event] = deque(maxlen=keep_events)
        self.since: float | None = None
        wanted = Wanted(
            topics=None if topics is None else tuple(topics),
            internal=internal,
            offsets=False,
            replica_logs=False,
            groups=False,
            quorum=True,
        )
        super().__init__(source, wanted, interval, [self.chart, self.event_list])

    def synced_parts(self) -> list[widgets.Widget]:
        return [self.header, self.event_list, self.status_line]

    def render(self, snapshot: Snapshot, previous: Snapshot | None) -> None:
        if self.since is None:
            self.since = snapshot.taken_at
        fresh = cluster_events(previous, snapshot)
        self.events.extend(fresh)
        partitions = len(snapshot.partitions())
        self.header.value = (
            f"<b>cluster timeline</b> <span class='kb-status'>· watching since "
            f"{clock(self.since)} · {len(snapshot.registered_ids)} broker(s) in the cluster · "
            f"controller {snapshot.controller if snapshot.controller is not None else '?'} · "
            f"{partitions} partition(s) · {len(self.events)} event(s)</span>"
        )
        self.event_list.value = f'{CSS}<div class="kb-viz">{events_html(self.events)}</div>'
        # Redraw the chart when something happened, and every few seconds to move the axis.
        events, since, until = list(self.events), self.since, snapshot.taken_at
        self.chart.show_when(
            (len(events), events[-1] if events else None),
            lambda: bundle(timeline_spec(events, since, until), f"{len(events)} cluster event(s)"),
        )
