"""The widgets against real bundled clusters, driven as a front end would (no browser).

Traits are read where the front end would read them (the grid's HTML, the chart's
mimebundle), and buttons are pressed through the same method their click handler calls.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from kafkabook.api.cluster import Cluster
from kafkabook.api.errors import KafkabookError
from kafkabook.viz import show
from kafkabook.viz.charts import MIME_V5
from kafkabook.viz.live import Source, adopt, live_widgets
from kafkabook.viz.partitioner import java_partition, librdkafka_partition
from kafkabook.viz.widgets import ClusterWidget, HashingWidget


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> float:
    """Seconds until ``predicate()`` is true; fails after ``timeout``."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - began


def create_topic(bootstrap: str, partitions: int, rf: int) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"viz-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, rf)])[name].result(30)
    return name


def metadata_leaders(bootstrap: str, topic: str) -> dict[int, int]:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    found = admin.list_topics(topic, timeout=10).topics[topic].partitions
    return {p: info.leader for p, info in found.items()}


@pytest.fixture
def closing():
    opened = []
    yield opened.append
    for widget in opened:
        widget.close()


@pytest.fixture(scope="module")
def breakable(bundled_cluster_factory):
    return bundled_cluster_factory(brokers=3, fresh=True)


def test_cluster_widget_follows_a_failover(breakable, closing) -> None:
    topic = create_topic(breakable.bootstrap, 6, 3)
    widget = show.cluster(breakable, topic=topic)
    timeline = show.timeline(breakable, topic=topic)
    closing(widget)
    closing(timeline)
    assert isinstance(widget, ClusterWidget) and widget.running
    wait_until(lambda: widget.view and len(widget.view.rows) == 6, 20, "6 partitions drawn")
    assert widget.leaders(topic) == metadata_leaders(breakable.bootstrap, topic)
    assert [c.node_id for c in widget.view.columns] == [1, 2, 3]
    assert all(c.state == "alive" for c in widget.view.columns)
    assert widget.view.controller == 0
    grid = widget.grid.value
    for partition, leader in widget.leaders(topic).items():
        assert f'data-partition="{partition}" data-leader="{leader}"' in grid
    assert widget.grid.value.count('data-preferred="true"') == 6
    spec = widget.chart.outputs[0]["data"][MIME_V5]
    assert spec["$schema"].endswith("/v5.json")

    victim = widget.leaders(topic)[0]
    enabled = {a: not b.disabled for a, b in widget._buttons[victim].items()}
    assert enabled == {"kill": True, "stop": True, "start": False, "pause": True, "resume": False}
    killed_at = time.monotonic()
    widget.act("kill", victim)  # what the kill button does
    wait_until(
        lambda: widget.view.columns[victim - 1].state == "killed", 5, "the broker shown killed"
    )
    moved = wait_until(
        lambda: victim not in widget.leaders(topic).values(), 15, "leaders moved off the victim"
    )
    took = time.monotonic() - killed_at
    assert widget.leaders(topic) == metadata_leaders(breakable.bootstrap, topic)
    row = widget.view.row(topic, 0)
    assert row.cells[victim - 1].state == "offline"
    assert f'data-broker="{victim}" data-state="offline"' in widget.grid.value
    assert "killed" in widget.message.value
    wait_until(lambda: not widget._buttons[victim]["start"].disabled, 5, "start enabled")
    assert widget._buttons[victim]["kill"].disabled
    print(f"leaders moved {took:.2f} s after the kill ({moved:.2f} s after the widget saw it)")

    # The timeline polls on its own: it sees the same changes within a refresh or two.
    wait_until(
        lambda: (
            {"process", "broker down", "leader change", "ISR shrink"}
            <= {e.kind for e in timeline.events}
        ),
        5,
        "the failover on the timeline",
    )
    assert any(e.subject == f"broker {victim}" and e.kind == "broker down" for e in timeline.events)

    widget.act("start", victim)
    wait_until(
        lambda: (
            widget.view.columns[victim - 1].state == "alive"
            and all(len(r.isr) == 3 for r in widget.view.rows)
        ),
        30,
        "the broker back and every ISR whole",
    )
    wait_until(lambda: "ISR expand" in {e.kind for e in timeline.events}, 10, "ISR expand event")
    assert widget.errors == [] and timeline.errors == []


def test_a_widget_stops_when_closed_and_when_its_cell_runs_again(bundled_cluster) -> None:
    first = show.cluster(bundled_cluster)
    adopt(first, "cell-a")
    assert first.wait_refresh(timeout=20)
    source = first.source
    second = show.cluster(bundled_cluster)
    adopt(second, "cell-a")  # the same cell ran again
    assert not first.running and first.stop_reason == "its cell ran again"
    assert source._client is None  # its client is closed
    other = show.timeline(bundled_cluster)
    adopt(other, "cell-b")
    assert second.running and other.running
    assert second in live_widgets() and other in live_widgets()
    second.close()
    assert not second.running and second.stop_reason == "closed"
    refreshes = second.refreshes
    time.sleep(1.0)
    assert second.refreshes == refreshes
    other.stop()
    assert not other.running
    assert 'data-state="stopped"' in other.status_line.value
    other.start()  # the play button
    assert other.wait_refresh(timeout=20)
    other.close()


def test_a_widget_stops_when_the_cluster_goes_down(bundled_cluster_factory) -> None:
    backend = bundled_cluster_factory(brokers=1, fresh=True)
    widget = show.offsets(backend)
    assert widget.wait_refresh(timeout=20)
    backend.down()
    wait_until(lambda: not widget.running, 20, "the widget stopped")
    assert "down" in widget.stop_reason
    assert "down" in widget.status_line.value
    backend.up()  # leave the session's factory a cluster it can bring down


def test_a_widget_on_the_session_cluster_stops_when_the_session_moves(bundled_cluster) -> None:
    from kafkabook.api.session import current

    session = current()
    previous = session.cluster
    try:
        session.use(Cluster(bundled_cluster))
        widget = show.cluster()  # no cluster given: the session's
        assert widget.wait_refresh(timeout=20)
        assert widget.view.cluster_id == bundled_cluster.cluster_id
        session.use(Cluster(bundled_cluster))  # another Cluster object: another session cluster
        wait_until(lambda: not widget.running, 10, "the widget stopped")
        assert widget.stop_reason == "the session switched to another cluster"
    finally:
        session.use(previous) if previous is not None else setattr(session, "cluster", None)


def test_the_hashing_widget_recomputes_from_its_controls() -> None:
    widget = HashingWidget(keys=["user-1", "foobar", "<null>"], partitions=6, sample=500)
    assert widget.partition_of("foobar") == java_partition(b"foobar", 6)
    assert widget.partition_of("<null>") is None
    table = widget.table.value
    assert f'data-key="foobar" data-partition="{java_partition(b"foobar", 6)}"' in table
    assert "CRC-32" not in table
    assert widget.view.counted == 502
    widget.partitions.value = 12  # the slider
    assert widget.view.partitions == 12 and widget.view.base == 6
    assert widget.partition_of("user-1") == java_partition(b"user-1", 12)
    assert "with 6" in widget.table.value
    moved = java_partition(b"user-1", 12) != java_partition(b"user-1", 6)
    assert f'data-key="user-1" data-partition="{java_partition(b"user-1", 12)}"' in (
        widget.table.value
    )
    assert f'data-moved="{str(moved).lower()}"' in widget.table.value
    widget.librdkafka.value = True  # the toggle
    assert "CRC-32" in widget.table.value
    assert f'data-librdkafka="{librdkafka_partition(b"foobar", 12)}"' in widget.table.value
    spec = widget.chart.spec
    assert spec["$schema"].endswith("/v5.json") and "facet" in spec
    widget.serializer.value = "int"
    widget.key_input.value = "7\n<empty>\nseven"
    assert widget.view.rows[0].placement.key == b"\x00\x00\x00\x07"
    assert widget.view.rows[1].placement.key == b""
    assert widget.view.rows[2].placement.error
    assert "not a whole number" in widget.table.value
    widget.close()


def test_hashing_starts_from_the_topics_partition_count(bundled_cluster) -> None:
    topic = create_topic(bundled_cluster.bootstrap, 5, 1)
    widget = show.hashing(bundled_cluster, topic=topic, keys=["a"])
    assert widget.base == widget.partitions.value == 5
    widget.close()
    with pytest.raises(KafkabookError, match="does not exist"):
        show.hashing(bundled_cluster, topic="no-such-topic")


def test_magic_line_parsing() -> None:
    assert "usage: %kafka show" in str(show.from_line("--help"))
    with pytest.raises(KafkabookError, match="invalid choice"):
        show.from_line("charts")
    with pytest.raises(KafkabookError, match="interval"):
        show.from_line("cluster --interval soon")
    widget = show.from_line("hashing --keys a,b,c --partitions 4 --librdkafka --sample 10")
    assert isinstance(widget, HashingWidget)
    assert widget.partitions.value == 4 and widget.librdkafka.value
    assert [r.placement.text for r in widget.view.rows] == ["a", "b", "c"]
    widget.close()


def test_a_source_says_which_actions_its_backend_has(bundled_cluster) -> None:
    bundled = Source(bundled_cluster)
    assert all(bundled.can(a) for a in ("kill", "stop", "start", "pause", "resume"))
    external = Source(bundled_cluster.bootstrap)
    assert not any(external.can(a) for a in ("kill", "stop", "start", "pause", "resume"))
    widget = show.cluster(bundled_cluster.bootstrap)  # an external cluster: no buttons
    assert widget.wait_refresh(timeout=20)
    assert widget.actions not in widget.children
    assert [c.state for c in widget.view.columns] == ["alive"] * 3
    widget.close()


# -- offsets and groups, with a real consumer group ----------------------------------------------


def groups_supported(bootstrap: str) -> bool:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        admin.list_consumer_groups(request_timeout=10).result()
    except Exception:
        return False
    return True


def test_offsets_and_groups_follow_a_consumer(bundled_cluster, closing) -> None:
    if not groups_supported(bundled_cluster.bootstrap):
        pytest.skip("this bundled cluster has no group coordinator yet (issue 4)")
    from confluent_kafka import Consumer, Producer

    topic = create_topic(bundled_cluster.bootstrap, 3, 1)
    group = f"viz-group-{uuid.uuid4().hex[:6]}"
    producer = Producer({"bootstrap.servers": bundled_cluster.bootstrap})
    for i in range(600):
        producer.produce(topic, value=b"v", key=f"k{i}".encode())
    assert producer.flush(30) == 0

    offsets = show.offsets(bundled_cluster, topic=topic, group=group, interval=0.3)
    groups = show.groups(bundled_cluster, group=group, interval=0.3)
    closing(offsets)
    closing(groups)
    wait_until(
        lambda: offsets.view and sum(r.high_watermark or 0 for r in offsets.view.rows) == 600,
        20,
        "high watermarks",
    )
    assert groups.wait_refresh(after=0, timeout=20)  # it saw the group before its member
    consumer = Consumer(
        {
            "bootstrap.servers": bundled_cluster.bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "client.id": "viz-test-consumer",
        }
    )
    consumer.subscribe([topic])
    lags: dict[int, list[int]] = {}
    try:
        # Consume a little at a time, committing after each bit: lag must fall step by step.
        consumed = 0
        deadline = time.monotonic() + 90
        while consumed < 600 and time.monotonic() < deadline:
            batch = consumer.consume(num_messages=60, timeout=1.0)
            if batch:
                consumed += len(batch)
                consumer.commit(asynchronous=False)
                offsets.wait_refresh(timeout=10)
                offsets.wait_refresh(timeout=10)
                for row in offsets.view.rows:
                    if row.groups[0].lag is not None:
                        lags.setdefault(row.partition, []).append(row.groups[0].lag)
        assert consumed == 600
        wait_until(lambda: offsets.total_lag(group) == 0, 20, "lag down to 0")
        wait_until(
            lambda: groups.rows and groups.rows[0].state == "Stable" and groups.rows[0].members,
            20,
            "the group stable with its member",
        )
        member = groups.rows[0].members[0]
        assert member.client_id == "viz-test-consumer"
        assert sorted(member.assignment) == [f"{topic}-{p}" for p in range(3)]
    finally:
        consumer.close()
    # Each partition's lag only ever went down (a partition has a lag from its first commit).
    assert sorted(lags) == [0, 1, 2]
    for series in lags.values():
        assert series == sorted(series, reverse=True)
    assert any(series[0] > 0 for series in lags.values())
    points = [p.lag for p in offsets.history_points if p.group == group]
    assert points[-1] == 0 and max(points) > 0
    table = offsets.table.value
    assert f'data-kb="total-lag" data-group="{group}"><b>0</b>' in table
    wait_until(
        lambda: {"member left"} <= {e.kind for e in groups.events}, 20, "the member's leaving"
    )
    # The group appeared (with its member) or the member joined a group already shown.
    assert {"group", "member joined"} & {e.kind for e in groups.events}
    assert offsets.errors == [] and groups.errors == []


def test_charts_redraw_when_their_data_changes_not_when_the_clock_moves() -> None:
    from kafkabook.viz.live import ChartOutput

    chart = ChartOutput()
    drawn = []

    def build(n: int):
        def make():
            drawn.append(n)
            return {MIME_V5: {"n": n}, "text/plain": str(n)}

        return make

    assert chart.show_when("a", build(1), now=0.0)
    assert not chart.show_when("a", build(2), now=0.5)  # same data: nothing to redraw
    assert not chart.show_when("b", build(3), now=0.6)  # changed, but within min_gap
    assert chart.show_when("b", build(4), now=1.2)  # still changed: drawn at the next chance
    assert not chart.show_when("b", build(5), now=30.0)
    assert chart.show_when("b", build(6), now=61.5)  # once a minute anyway (a time axis)
    assert drawn == [1, 4, 6] and chart.redraws == 3
    assert chart.spec == {"n": 6}
    assert not chart.show({MIME_V5: {"n": 6}, "text/plain": "6"})  # identical bundle: kept
