"""One colour per meaning, shared by every widget and chart.

A replica is always in one of four states, and each state has one colour wherever it appears:
the cluster grid, the replica charts, the timeline (an ISR shrink is drawn in the colour of an
out-of-sync follower, a leader change in the leader's colour) and the legends. Other things
(consumer groups, event kinds that are not replica states) get colours that none of the
replica states use.

>>> REPLICA_COLORS["leader"]
'#1d4ed8'
>>> replica_scale()["domain"][0]
'leader'
"""

from __future__ import annotations

import html

LEADER = "leader"
IN_SYNC = "in-sync follower"
OUT_OF_SYNC = "out-of-sync follower"
OFFLINE = "offline"

#: The replica states, in the order legends list them.
REPLICA_STATES: tuple[str, ...] = (LEADER, IN_SYNC, OUT_OF_SYNC, OFFLINE)

REPLICA_COLORS: dict[str, str] = {
    LEADER: "#1d4ed8",  # blue
    IN_SYNC: "#16a34a",  # green
    OUT_OF_SYNC: "#f59e0b",  # amber
    OFFLINE: "#dc2626",  # red
}

#: Text colour readable on each state's background.
REPLICA_TEXT: dict[str, str] = {
    LEADER: "#ffffff",
    IN_SYNC: "#ffffff",
    OUT_OF_SYNC: "#1f2937",
    OFFLINE: "#ffffff",
}

REPLICA_MEANING: dict[str, str] = {
    LEADER: "serves produce and fetch for the partition",
    IN_SYNC: "caught up with the leader: in the ISR, can become leader",
    OUT_OF_SYNC: "alive but behind: out of the ISR until it catches up",
    OFFLINE: "its broker is not in the cluster (dead, stopped or fenced)",
}

# Timeline event kinds. The four that are replica-state changes reuse the replica colours.
EVENT_COLORS: dict[str, str] = {
    "leader change": REPLICA_COLORS[LEADER],
    "ISR expand": REPLICA_COLORS[IN_SYNC],
    "ISR shrink": REPLICA_COLORS[OUT_OF_SYNC],
    "broker down": REPLICA_COLORS[OFFLINE],
    "partition offline": "#7f1d1d",  # dark red: no leader at all
    "broker up": "#0f766e",  # teal
    "controller change": "#7c3aed",  # violet
    "process": "#6b7280",  # grey: what the backend did to a process
}
EVENT_KINDS: tuple[str, ...] = tuple(EVENT_COLORS)

# Series that are not replica states (consumer groups, partitioners): none of the colours above.
SERIES_COLORS: tuple[str, ...] = (
    "#0891b2",  # cyan
    "#db2777",  # pink
    "#65a30d",  # lime
    "#9333ea",  # purple
    "#ea580c",  # orange
    "#475569",  # slate
    "#0d9488",  # teal
    "#be123c",  # rose
)

#: Group states (DescribeGroups) and their colours.
GROUP_STATE_COLORS: dict[str, str] = {
    "Stable": "#0891b2",
    "PreparingRebalance": "#db2777",
    "CompletingRebalance": "#9333ea",
    "Reconciling": "#ea580c",
    "Assigning": "#ea580c",
    "Empty": "#94a3b8",
    "Dead": "#475569",
}

#: Neutral colours for cells and bars that are no state at all.
NO_REPLICA = "#f3f4f6"
LOG_BAR = "#cbd5e1"


def replica_scale() -> dict[str, list[str]]:
    """A Vega-Lite colour scale mapping replica states to their colours."""
    return {"domain": list(REPLICA_STATES), "range": [REPLICA_COLORS[s] for s in REPLICA_STATES]}


def event_scale() -> dict[str, list[str]]:
    """A Vega-Lite colour scale for timeline event kinds."""
    return {"domain": list(EVENT_KINDS), "range": [EVENT_COLORS[k] for k in EVENT_KINDS]}


def series_color(index: int) -> str:
    """The colour of the index-th group or series (cycling)."""
    return SERIES_COLORS[index % len(SERIES_COLORS)]


def series_scale(names: list[str]) -> dict[str, list[str]]:
    """A Vega-Lite colour scale giving ``names`` the series colours in order."""
    return {"domain": list(names), "range": [series_color(i) for i in range(len(names))]}


def legend_html(title: str = "replica state") -> str:
    """The replica-state legend as HTML (for widgets drawn without a chart)."""
    items = "".join(
        f'<span class="kb-legend-item" title="{html.escape(REPLICA_MEANING[s])}">'
        f'<span class="kb-swatch" style="background:{REPLICA_COLORS[s]}"></span>'
        f"{html.escape(s)}</span>"
        for s in REPLICA_STATES
    )
    return (
        f'<div class="kb-legend" data-kb="legend"><b>{html.escape(title)}:</b> {items}'
        '<span class="kb-legend-item"><span class="kb-mark">★</span> preferred leader</span>'
        "</div>"
    )
