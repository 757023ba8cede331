"""The cluster widget: brokers as columns, partitions as rows, every replica in its state.

Each cell is one replica, coloured by its state (leader, in-sync follower, out-of-sync
follower, offline; see `kafkabook.viz.palette`), with a star on the preferred leader, the
replica's log end offset and size, and the high watermark on the leader. Column heads show
each broker's state (alive, paused, stopped, killed, fenced) and the controller; buttons kill,
stop, start, pause and resume brokers where the backend can. A dashed outline marks a replica
whose process is gone but which the cluster still counts: it has not noticed yet.
"""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets

from kafkabook.viz.charts import bundle, replica_counts_spec
from kafkabook.viz.live import (
    ACTIONS,
    CSS,
    DEFAULT_INTERVAL,
    ChartOutput,
    LiveWidget,
    Source,
    badge,
    esc,
    run_in_background,
)
from kafkabook.viz.models import BrokerColumn, ClusterView, PartitionRow, ReplicaCell, cluster_view
from kafkabook.viz.palette import REPLICA_COLORS, REPLICA_TEXT, legend_html
from kafkabook.viz.snapshot import Snapshot, Wanted

SHORT_STATE = {
    "leader": "leader",
    "in-sync follower": "in-sync",
    "out-of-sync follower": "out-of-sync",
    "offline": "offline",
}
ACTION_ICONS = {
    "kill": "skull",
    "stop": "stop",
    "start": "play",
    "pause": "pause",
    "resume": "play",
}
PAST = {
    "kill": "killed",
    "stop": "stopped",
    "start": "started",
    "pause": "paused",
    "resume": "resumed",
}


def human_bytes(size: int | None) -> str:
    """1536 -> '1.5 KiB'.

    >>> human_bytes(512), human_bytes(1536), human_bytes(None)
    ('512 B', '1.5 KiB', '')
    """
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def allowed_actions(process: str | None) -> tuple[str, ...]:
    """Which broker actions make sense for a process in this state.

    >>> allowed_actions("running"), allowed_actions("killed")
    (('kill', 'stop', 'pause'), ('start',))
    """
    if process == "running":
        return ("kill", "stop", "pause")
    if process == "paused":
        return ("resume", "kill")
    if process in ("stopped", "killed"):
        return ("start",)
    return ()


def _cell_html(cell: ReplicaCell | None) -> str:
    if cell is None:
        return '<td class="kb-none" data-state="none">–</td>'
    color, text = REPLICA_COLORS[cell.state], REPLICA_TEXT[cell.state]
    star = ' <span class="kb-mark" title="preferred leader">★</span>' if cell.preferred else ""
    facts = []
    if cell.log_end_offset is not None:
        facts.append(f"LEO {cell.log_end_offset}")
    if cell.high_watermark is not None:
        facts.append(f"HW {cell.high_watermark}")
    second = []
    if cell.size_bytes is not None:
        second.append(human_bytes(cell.size_bytes))
    if cell.offset_lag:
        second.append(f"lag {cell.offset_lag}")
    lines = [f'<span class="kb-role">{SHORT_STATE[cell.state]}</span>{star}']
    if facts:
        lines.append(f'<span class="kb-small">{" · ".join(facts)}</span>')
    if second:
        lines.append(f'<span class="kb-small">{" · ".join(second)}</span>')
    stale = ' class="kb-stale"' if cell.stale else ""
    tip = cell.state + (
        " (its process is down; the cluster has not noticed yet)" if cell.stale else ""
    )
    return (
        f'<td{stale} style="background:{color};color:{text}" data-broker="{cell.broker}" '
        f'data-state="{cell.state}" data-preferred="{str(cell.preferred).lower()}" '
        f'data-leo="{"" if cell.log_end_offset is None else cell.log_end_offset}" '
        f'title="{esc(tip)}">{"<br>".join(lines)}</td>'
    )


def _row_html(row: PartitionRow) -> str:
    notes = []
    if row.offline:
        notes.append("no leader")
    elif not row.leader_is_preferred:
        notes.append("not on preferred leader")
    if row.under_replicated:
        notes.append("under-replicated")
    tip = (
        f"replicas {list(row.replicas)}, ISR {list(row.isr)}, leader epoch {row.leader_epoch}"
        + (f", log start {row.log_start}" if row.log_start is not None else "")
        + (f", error {row.error}" if row.error else "")
    )
    head = (
        f'<th class="kb-rowhead" title="{esc(tip)}">{esc(row.name)}'
        f'<br><span class="kb-small">epoch {row.leader_epoch}'
        f"{' · ' + ', '.join(notes) if notes else ''}</span></th>"
    )
    cells = "".join(_cell_html(c) for c in row.cells)
    return (
        f'<tr data-topic="{esc(row.topic)}" data-partition="{row.partition}" '
        f'data-leader="{row.leader}" data-isr="{",".join(map(str, row.isr))}">{head}{cells}</tr>'
    )


def _column_html(column: BrokerColumn) -> str:
    controller = (
        ' <span class="kb-badge" style="background:#7c3aed">controller</span>'
        if (column.is_controller)
        else ""
    )
    return (
        f'<th data-broker="{column.node_id}" data-state="{column.state}" '
        f'data-process="{esc(column.process or "")}">broker {column.node_id}{controller}'
        f"<br>{badge(column.state)}"
        f'<br><span class="kb-small">{esc(column.address)}</span>'
        f'<br><span class="kb-small">{column.leaders} leader(s) · {column.replicas} replica(s)'
        "</span></th>"
    )


def grid_html(view: ClusterView) -> str:
    """The whole grid as HTML (data attributes name every broker, partition and state)."""
    head = '<th class="kb-rowhead">partition</th>' + "".join(_column_html(c) for c in view.columns)
    body = "".join(_row_html(r) for r in view.rows)
    if not view.rows:
        body = (
            f'<tr><td colspan="{len(view.columns) + 1}" class="kb-none">'
            "no topics yet: %kafka topics --create --topic T creates one</td></tr>"
        )
    return (
        f'{CSS}<div class="kb-viz"><table class="kb-grid" data-kb="cluster-grid">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def heading_html(view: ClusterView, backend: str) -> str:
    ctl = "unknown" if view.controller is None else str(view.controller)
    epoch = "" if view.controller_epoch is None else f", epoch {view.controller_epoch}"
    process = f", {view.controller_process}" if view.controller_process else ""
    return (
        f'<div class="kb-viz" data-kb="cluster-heading" data-controller="{ctl}">'
        f"<b>cluster</b> <span class='kb-status'>· {esc(backend)} · id "
        f"{esc(view.cluster_id or '?')}</span><br>controller <b>{ctl}</b>{epoch}{process} · "
        f"{len(view.columns)} broker(s) · {len(view.rows)} partition(s) · "
        f"{view.under_replicated} under-replicated · {view.offline_partitions} offline</div>"
    )


class ClusterWidget(LiveWidget):
    """Brokers × partitions with replica states, offsets, broker states and broker buttons.

    ``view`` is the last `ClusterView` drawn.
    """

    title = "cluster"

    def __init__(
        self,
        source: Source,
        topics: list[str] | None = None,
        internal: bool = False,
        interval: float = DEFAULT_INTERVAL,
        chart: bool = True,
        buttons: bool = True,
    ) -> None:
        self.grid = widgets.HTML()
        self.legend = widgets.HTML(f'{CSS}<div class="kb-viz">{legend_html()}</div>')
        self.chart = ChartOutput()
        self.message = widgets.HTML()
        self.actions = widgets.VBox()
        self.view: ClusterView | None = None
        self._show_chart = chart
        self._buttons: dict[int, dict[str, widgets.Button]] = {}
        self._busy = False
        parts: list[widgets.Widget] = [self.legend, self.grid]
        self._can = {a: source.can(a) for a in ACTIONS} if buttons else {}
        if any(self._can.values()):
            parts += [self.actions, self.message]
        if chart:
            parts.append(self.chart)
        wanted = Wanted(
            topics=None if topics is None else tuple(topics),
            internal=internal,
            offsets=True,
            replica_logs=True,
            groups=False,
            quorum=True,
        )
        super().__init__(source, wanted, interval, parts)

    def synced_parts(self) -> list[widgets.Widget]:
        return [self.header, self.grid, self.status_line]

    def render(self, snapshot: Snapshot, previous: Snapshot | None) -> None:
        view = cluster_view(snapshot)
        self.header.value = heading_html(view, self.source.backend.name)
        self.grid.value = grid_html(view)
        if any(self._can.values()):
            self._update_buttons(snapshot)
        if self._show_chart:
            leaders = ", ".join(f"broker {c.node_id}: {c.leaders}" for c in view.columns)
            self.chart.show(bundle(replica_counts_spec(view), f"leaders per broker: {leaders}"))
        self.view = view  # last: whoever reads it finds everything drawn

    # -- broker buttons ---------------------------------------------------------------------------

    def _update_buttons(self, snapshot: Snapshot) -> None:
        nodes = [*snapshot.controllers, *snapshot.brokers]
        if set(self._buttons) != {n.node_id for n in nodes}:
            rows = []
            self._buttons = {}
            for node in nodes:
                label = widgets.HTML(
                    f"<span style='display:inline-block;width:96px'>"
                    f"{node.role} {node.node_id}</span>"
                )
                buttons = {}
                for action in ACTIONS:
                    if not self._can.get(action):
                        continue
                    button = widgets.Button(
                        description=action,
                        icon=ACTION_ICONS[action],
                        layout={"width": "88px"},
                        tooltip=f"{action} {node.role} {node.node_id}",
                    )
                    button.add_class(f"kb-action-{action}-{node.node_id}")
                    button.on_click(self._handler(action, node.node_id))
                    buttons[action] = button
                self._buttons[node.node_id] = buttons
                rows.append(widgets.HBox([label, *buttons.values()]))
            self.actions.children = rows
        for node in nodes:
            allowed = allowed_actions(node.process)
            for action, button in self._buttons.get(node.node_id, {}).items():
                button.disabled = self._busy or action not in allowed

    def _handler(self, action: str, node_id: int) -> Any:
        def clicked(_: Any) -> None:
            self.act(action, node_id)

        return clicked

    def act(self, action: str, node_id: int) -> None:
        """Run a broker action in the background (what the buttons do)."""
        if self._busy:
            return
        self._busy = True
        for buttons in self._buttons.values():
            for button in buttons.values():
                button.disabled = True
        began = time.monotonic()
        self.message.value = f"<span class='kb-status'>{action} node {node_id}…</span>"

        def done(error: BaseException | None) -> None:
            self._busy = False
            took = time.monotonic() - began
            if error is None:
                self.message.value = (
                    f"<span class='kb-status' data-kb='action'>{PAST[action]} node {node_id} "
                    f"({took:.1f} s)</span>"
                )
            else:
                self.message.value = (
                    f"<span class='kb-note' data-kb='action'>{action} node {node_id}: "
                    f"{esc(error)}</span>"
                )
            self.wake()

        run_in_background(lambda: self.source.act(action, node_id), done)

    def leaders(self, topic: str) -> dict[int, int]:
        """{partition: leader} of ``topic`` as last drawn (handy in notebooks and tests)."""
        if self.view is None:
            return {}
        return {r.partition: r.leader for r in self.view.rows if r.topic == topic}


__all__ = ["ClusterWidget", "grid_html"]
