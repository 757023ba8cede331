"""The failover lesson (notebooks/07-failover.ipynb) as a learner runs it: in JupyterLab, in
headless Chromium, on a real 3-broker bundled cluster, with the network cut off.

The lesson is copied into JupyterLab's temporary root with its exercises answered (the worked
solutions of `kafkabook.course`, as `tests/course` fills them) and run with "Run All". While it
runs, the test watches the page: the cluster widget must show partition 0 of ``telemetry`` on
its first leader with the whole ISR, then the lesson's ``kb.broker.kill``: the victim's column
killed, a new leader and a smaller ISR; then the broker back, every ISR whole and the
leadership back on the preferred leader. The timeline widget must have written down the broker
going down and up, the leader changes and the ISR shrinks and expands. At the end the widgets
agree with a Metadata request, every chart is drawn (by JupyterLab's bundled Vega-Lite: no
request leaves the machine), every exercise is answered correctly, and nothing failed.

Screenshots go to test-artifacts/browser/failover-*.png.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

from browser.pages import (
    CHARTS,
    all_cells_ran,
    grid_rows,
    metadata_leaders,
    notebook_errors,
    offline_context,
    open_notebook,
    run_all,
    shot,
    wait_for,
)
from course.notebooks import NOTEBOOKS, with_solutions

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

LESSON = NOTEBOOKS / "07-failover.ipynb"
TOPIC = "telemetry"
#: Every kind of timeline event a failover and a recovery cause.
FAILOVER_EVENTS = {
    "process",
    "broker down",
    "leader change",
    "ISR shrink",
    "broker up",
    "ISR expand",
}

# One read of everything the test follows, per poll: the grid's rows and column heads for the
# lesson's topic, the timeline's events (newest first, as the widget lists them), and how many
# error outputs the notebook has.
READ_STATE = """(topic) => {
    const grid = document.querySelector('table[data-kb="cluster-grid"]');
    const rows = grid ? [...grid.querySelectorAll(`tr[data-topic="${topic}"]`)] : [];
    const heads = grid ? [...grid.querySelectorAll('th[data-broker]')] : [];
    const events = [...document.querySelectorAll('[data-kb="timeline-events"] li')];
    return {
        rows: rows.map(r => [Number(r.dataset.partition), Number(r.dataset.leader), r.dataset.isr]),
        heads: heads.map(h => [Number(h.dataset.broker), h.dataset.state]),
        events: events.map(e => [e.dataset.kind, e.dataset.subject]),
        errors: document.querySelectorAll('.jp-OutputArea-output'
            + '[data-mime-type="application/vnd.jupyter.error"]').length,
    };
}"""


def test_failover_lesson_in_jupyterlab(
    bundled_cluster_factory, jupyter_lab, browser, artifacts
) -> None:
    backend = bundled_cluster_factory(brokers=3, fresh=True)
    # The lesson's `%kafka cluster up` reattaches to this cluster (on free ports) through
    # KAFKABOOK_DATA_DIR, as a learner's second lesson reattaches to the first one's.
    lab = jupyter_lab(
        {
            "KAFKABOOK_DATA_DIR": str(backend.data_dir),
            "KAFKABOOK_BACKEND": "bundled",
            # A wrong answer raises: it shows as an error output, which fails the test.
            "KAFKABOOK_COURSE_STRICT": "1",
        }
    )
    nbformat.write(with_solutions(nbformat.read(LESSON, as_version=4)), lab.root / LESSON.name)

    blocked: list[str] = []
    context = offline_context(browser, blocked, viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    try:
        run_lesson(page, lab, backend, artifacts, blocked)
    except BaseException:
        page.screenshot(path=str(artifacts / "failover-failure-page.png"), full_page=True)
        print("notebook error outputs:", notebook_errors(page))
        print("JupyterLab log tail:\n", lab.log.read_text()[-4000:])
        print("browser console errors:", console_errors[-20:])
        raise
    finally:
        context.close()


def run_lesson(page, lab, backend, artifacts: Path, blocked: list[str]) -> None:
    began = time.monotonic()

    def step(what: str) -> None:
        print(f"[{time.monotonic() - began:6.1f} s] {what}", flush=True)

    open_notebook(page, lab, LESSON.name)
    run_all(page)
    step("run all")

    grid = page.locator('table[data-kb="cluster-grid"]')
    grid.wait_for(timeout=120_000)
    cluster_cell = page.locator(".jp-Cell", has=grid)
    timeline_cell = page.locator(".jp-Cell", has=page.locator('[data-kb="timeline-events"]'))
    step("cluster widget drawn")

    # Follow the lesson from the page alone, stage by stage. Each stage is the first poll
    # at which the widget shows it, and is checked to come after the one before.
    stages: dict[str, float] = {}
    victim: int | None = None
    seen_leaders: list[int] = []
    deadline = time.monotonic() + 300
    while True:
        assert time.monotonic() < deadline, f"the lesson did not finish; stages seen: {stages}"
        state = page.evaluate(READ_STATE, TOPIC)
        # Run All stops at a failing cell: say why at once rather than wait for the deadline.
        assert state["errors"] == 0, f"a cell failed: {notebook_errors(page)}"
        rows = {p: (leader, isr.split(",") if isr else []) for p, leader, isr in state["rows"]}
        heads = dict(state["heads"])
        whole = len(rows) == 3 and all(len(isr) == 3 for _, isr in rows.values())
        all_alive = len(heads) == 3 and set(heads.values()) == {"alive"}
        if 0 in rows and (not seen_leaders or seen_leaders[-1] != rows[0][0]):
            seen_leaders.append(rows[0][0])
        if "before" not in stages and whole and all_alive:
            # The lesson kills whoever leads partition 0 now: the widget must say who.
            victim = rows[0][0]
            stages["before"] = time.monotonic()
            shot(cluster_cell, artifacts, "failover-1-before-kill")
            step(f"before the kill: partition 0 led by broker {victim}, every ISR whole")
        elif (
            "before" in stages
            and "killed" not in stages
            and heads.get(victim) in ("killed", "fenced", "offline")
        ):
            stages["killed"] = time.monotonic()
            shot(cluster_cell, artifacts, "failover-2-killed")
            step(f"broker {victim} shown {heads.get(victim)}")
        elif (
            "killed" in stages
            and "new leader" not in stages
            and rows[0][0] not in (victim, -1)
            and str(victim) not in rows[0][1]
        ):
            stages["new leader"] = time.monotonic()
            shot(cluster_cell, artifacts, "failover-3-new-leader")
            shot(timeline_cell, artifacts, "failover-4-timeline-failover")
            step(f"partition 0 led by broker {rows[0][0]}, ISR {rows[0][1]}")
        elif (
            "new leader" in stages
            and "recovered" not in stages
            and whole
            and all_alive
            and rows[0][0] == victim  # back on its preferred leader, after the ISR expands
        ):
            stages["recovered"] = time.monotonic()
            shot(cluster_cell, artifacts, "failover-5-recovered")
            step("every ISR whole and partition 0 back on its preferred leader")
        if "recovered" in stages and all_cells_ran(page):
            break
        time.sleep(0.1)
    step("every cell ran")
    assert list(stages) == ["before", "killed", "new leader", "recovered"], stages
    print("partition 0's leader as the widget showed it:", seen_leaders)
    assert len(seen_leaders) >= 3 and seen_leaders[0] == seen_leaders[-1] == victim

    # The widgets end where the cluster is: Metadata's leaders, every ISR whole.
    truth = metadata_leaders(backend.bootstrap, TOPIC)
    wait_for(
        lambda: {p: r["leader"] for p, r in grid_rows(page, TOPIC).items()} == truth,
        10,
        f"the cluster widget's leaders to match Metadata's {truth}",
    )
    assert all(len(r["isr"].split(",")) == 3 for r in grid_rows(page, TOPIC).values())

    # The timeline wrote the failover down: partition 0's leader left the victim and came back.
    events = page.evaluate(READ_STATE, TOPIC)["events"]
    kinds = {kind for kind, _ in events}
    assert kinds >= FAILOVER_EVENTS, f"timeline events: {sorted(kinds)}"
    moves = [s for kind, s in events if kind == "leader change" and s == f"{TOPIC}-0"]
    assert len(moves) >= 2, events
    shot(timeline_cell, artifacts, "failover-6-timeline-recovered")

    # Charts: the cluster widget's, the timeline's, and the lesson's own chart of its samples,
    # all drawn by JupyterLab's bundled Vega-Lite with every request off this machine refused.
    cluster_cell.locator(CHARTS).first.wait_for(timeout=30_000)
    timeline_cell.locator(CHARTS).first.wait_for(timeout=30_000)
    samples_cell = page.locator(".jp-CodeCell", has_text="kb.show.chart(")
    samples_cell.locator(CHARTS).first.wait_for(timeout=30_000)
    shot(samples_cell, artifacts, "failover-7-samples-chart")

    # Nothing failed: no error output, no widget the page could not draw, every exercise right.
    assert notebook_errors(page) == []
    assert page.locator("text=Error displaying widget").count() == 0
    assert page.locator("text=✓ correct").count() == 3
    assert page.locator("text=✗ not yet").count() == 0
    print(f"requests refused (off this machine): {blocked}")
    page.screenshot(path=str(artifacts / "failover-0-page.png"), full_page=True)
