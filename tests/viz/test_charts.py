"""Chart specs: Vega-Lite v5 for JupyterLab's offline renderer, one colour per replica state."""

from __future__ import annotations

import json

import jsonschema
import pytest

from kafkabook.viz.charts import (
    MIME_V5,
    SCHEMA_V5,
    bundle,
    distribution_spec,
    group_history_spec,
    lag_history_spec,
    offsets_spec,
    replica_counts_spec,
    timeline_spec,
)
from kafkabook.viz.models import (
    BrokerColumn,
    ClusterView,
    Event,
    GroupOffset,
    LagPoint,
    OffsetRow,
    OffsetsView,
    PartitionRow,
    ReplicaCell,
    hashing_view,
)
from kafkabook.viz.palette import (
    EVENT_COLORS,
    REPLICA_COLORS,
    REPLICA_STATES,
    legend_html,
    replica_scale,
)


def cluster_view(leader_on: int = 1) -> ClusterView:
    cells = tuple(
        ReplicaCell(b, "leader" if b == leader_on else "in-sync follower", preferred=b == 1)
        for b in (1, 2)
    )
    row = PartitionRow("t", 0, leader_on, 0, 1, (1, 2), (1, 2), cells)
    columns = tuple(BrokerColumn(b, "", "alive", "running", True, 0, 1) for b in (1, 2))
    return ClusterView(0.0, "c", 0, 1, "running", columns, (row,))


def offsets() -> OffsetsView:
    return OffsetsView(
        10.0,
        ("g1", "g2"),
        (
            OffsetRow("t", 0, 0, 50, (GroupOffset("g1", 20, 30), GroupOffset("g2", None, None))),
            OffsetRow("t", 1, 5, 9, (GroupOffset("g1", 9, 0), GroupOffset("g2", 7, 2))),
        ),
    )


def all_specs() -> dict[str, dict]:
    events = [
        Event(5.0, "leader change", "t-0", "t-0 leader 1 → 2"),
        Event(6.0, "ISR shrink", "t-0", "t-0 ISR [1,2] → [2]"),
    ]
    return {
        "replicas": replica_counts_spec(cluster_view()),
        "offsets": offsets_spec(offsets()),
        "lag": lag_history_spec([LagPoint(1.0, "g1", 5), LagPoint(2.0, "g1", 3)], ["g1"]),
        "hash": distribution_spec(hashing_view(["a", "b"], 4), librdkafka=False),
        "hash-rdkafka": distribution_spec(hashing_view(["a", "b"], 4), librdkafka=True),
        "timeline": timeline_spec(events, 0.0, 10.0),
        "groups": group_history_spec([(1.0, "g1", "Stable", 2), (2.0, "g1", "Empty", 0)]),
    }


@pytest.fixture(scope="module")
def vega_lite() -> jsonschema.Draft7Validator:
    # altair 6 ships the v6 schema only; v6 kept v5's spec shapes, so a spec using only v5
    # features must validate against it too (the browser test proves the v5 renderer draws it).
    from importlib.resources import files

    text = (files("altair") / "vegalite/v6/schema/vega-lite-schema.json").read_text()
    return jsonschema.Draft7Validator(json.loads(text))


@pytest.mark.parametrize("name", sorted(all_specs()))
def test_specs_are_v5_json_with_their_data(name: str, vega_lite) -> None:
    spec = all_specs()[name]
    assert spec["$schema"] == SCHEMA_V5
    text = json.dumps(spec)  # plain JSON: what the mimebundle carries
    assert "v6" not in text
    vega_lite.validate(json.loads(text))
    named = {m["name"] for m in _named_data(spec)}
    assert named and named <= set(spec["datasets"])


def _named_data(spec: object) -> list[dict]:
    found = []
    if isinstance(spec, dict):
        data = spec.get("data")
        if isinstance(data, dict) and "name" in data:
            found.append(data)
        for value in spec.values():
            found += _named_data(value)
    elif isinstance(spec, list):
        for value in spec:
            found += _named_data(value)
    return found


def test_bundle_uses_the_v5_mimetype() -> None:
    spec = replica_counts_spec(cluster_view())
    assert bundle(spec, "text") == {MIME_V5: spec, "text/plain": "text"}
    assert MIME_V5 == "application/vnd.vegalite.v5+json"


def test_replica_states_keep_their_colours_everywhere() -> None:
    spec = replica_counts_spec(cluster_view())
    scale = spec["encoding"]["color"]["scale"]
    assert scale == replica_scale()
    assert dict(zip(scale["domain"], scale["range"], strict=True)) == REPLICA_COLORS
    assert len(set(REPLICA_COLORS.values())) == len(REPLICA_STATES)
    # Timeline events that are replica-state changes reuse that state's colour...
    assert EVENT_COLORS["leader change"] == REPLICA_COLORS["leader"]
    assert EVENT_COLORS["ISR shrink"] == REPLICA_COLORS["out-of-sync follower"]
    assert EVENT_COLORS["ISR expand"] == REPLICA_COLORS["in-sync follower"]
    assert EVENT_COLORS["broker down"] == REPLICA_COLORS["offline"]
    # ...and no other event kind borrows a replica-state colour for another meaning.
    others = {
        k: c
        for k, c in EVENT_COLORS.items()
        if k not in ("leader change", "ISR shrink", "ISR expand", "broker down")
    }
    assert not set(others.values()) & set(REPLICA_COLORS.values())
    legend = legend_html()
    for state, color in REPLICA_COLORS.items():
        assert state in legend and color in legend


def test_counts_follow_the_view() -> None:
    first = replica_counts_spec(cluster_view(leader_on=1))
    second = replica_counts_spec(cluster_view(leader_on=2))
    leaders = {
        r["broker"]: r["replicas"] for r in second["datasets"]["counts"] if r["state"] == "leader"
    }
    assert leaders == {"broker 1": 0, "broker 2": 1}
    # The shared template was not changed by the second call.
    again = {
        r["broker"]: r["replicas"] for r in first["datasets"]["counts"] if r["state"] == "leader"
    }
    assert again == {"broker 1": 1, "broker 2": 0}


def test_offsets_chart_rows() -> None:
    spec = offsets_spec(offsets())
    log = spec["datasets"]["log"]
    lag_rows = spec["datasets"]["lag"]
    assert [r["row"] for r in log] == ["t-0 · g1", "t-0 · g2", "t-1 · g1", "t-1 · g2"]
    assert {(r["row"], r["committed"], r["end"], r["lag"]) for r in lag_rows} == {
        ("t-0 · g1", 20, 50, 30),
        ("t-1 · g1", 9, 9, 0),
        ("t-1 · g2", 7, 9, 2),
    }


def test_timeline_keeps_its_window_and_lanes() -> None:
    spec = timeline_spec([Event(5.0, "ISR shrink", "t-0", "x")], since=0.0, until=60.0)
    assert [r["time"] for r in spec["datasets"]["window"]] == [
        "1970-01-01T00:00:00.000+00:00",
        "1970-01-01T00:01:00.000+00:00",
    ]
    assert spec["datasets"]["events"][0]["kind"] == "ISR shrink"
    assert json.dumps(spec).count('"ISR shrink"') >= 2  # in the data and in the lane domain


def test_show_chart_hands_an_altair_chart_to_the_offline_renderer(vega_lite) -> None:
    # The failover lesson's own chart has this shape: step lines over a DataFrame, rules
    # layered on them, two layers stacked.
    import altair as alt
    import pandas as pd

    from kafkabook.viz import show

    samples = pd.DataFrame(
        {"t": [0.0, 0.25, 0.5], "partition": [0, 0, 0], "leader": [2, 3, 3], "isr": [3, 2, 2]}
    )
    base = alt.Chart(samples).encode(x="t:Q", color="partition:N")
    rules = alt.Chart(pd.DataFrame({"t": [0.1]})).mark_rule().encode(x="t:Q")
    layered = (base.mark_line(interpolate="step-after").encode(y="leader:Q") + rules) & (
        base.mark_line().encode(y="isr:Q") + rules
    )
    shown = show.chart(layered, "leaders and ISR sizes")
    data = shown._repr_mimebundle_()
    assert set(data) == {MIME_V5, "text/plain"}
    assert data["text/plain"] == "leaders and ISR sizes"
    spec = data[MIME_V5]
    assert spec["$schema"] == SCHEMA_V5
    text = json.dumps(spec)
    assert "v6" not in text
    vega_lite.validate(json.loads(text))
    # The DataFrame travels inline, in the spec's datasets: nothing to fetch either.
    rows = [r for dataset in spec["datasets"].values() for r in dataset if "leader" in r]
    assert [r["leader"] for r in rows] == [2, 3, 3]
