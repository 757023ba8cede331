"""Reading a JupyterLab page from a browser test: what several tests drive the same way.

Everything here reads the DOM the widgets draw (their ``data-*`` attributes) or JupyterLab's
own application object (``window.jupyterapp``, exposed by the fixture's
``--LabApp.expose_app_in_browser``), never the kernel: the tests check what a learner sees.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import pytest

#: Where JupyterLab's bundled Vega-Lite has drawn a chart.
CHARTS = ".vega-embed svg, .vega-embed canvas"


def wait_for(check: Callable[[], object], timeout: float, what: str, every: float = 0.1):
    """Poll ``check`` until it returns something true; that value, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(every)


def offline_context(browser, blocked: list[str], **options):
    """A browser context that refuses every request off this machine (kept in ``blocked``):
    whatever the page draws, it draws without the network."""
    context = browser.new_context(**options)

    def offline(route) -> None:
        url = route.request.url
        host = urlparse(url).hostname
        if url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", offline)
    return context


def open_notebook(page, lab, name: str) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is idle (before then "Run All"
    would queue the cells behind the kernel's start)."""
    page.goto(lab.notebook_url(name))
    page.wait_for_function("window.jupyterapp && window.jupyterapp.shell", timeout=90_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_function(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            const kernel = panel && panel.sessionContext && panel.sessionContext.session
                && panel.sessionContext.session.kernel;
            return kernel && kernel.status === "idle";
        }""",
        timeout=120_000,
    )


def run_all(page) -> None:
    """Press "Run All". Not awaited: the command's promise settles only when every cell has
    run, and the test watches the page meanwhile."""
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def all_cells_ran(page) -> bool:
    """Whether every code cell of the current notebook has run and the kernel is idle."""
    return page.evaluate(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
            const code = panel.content.widgets.filter(c => c.model.type === "code");
            const pending = [...document.querySelectorAll(".jp-InputPrompt")]
                .some(p => p.textContent.includes("*"));
            return !!kernel && kernel.status === "idle" && !pending
                && code.every(c => c.model.executionCount !== null);
        }"""
    )


def grid_rows(page, topic: str) -> dict[int, dict[str, str]]:
    """{partition: {"leader": ..., "isr": ...}} as the cluster widget shows them now."""
    rows = page.eval_on_selector_all(
        f'table[data-kb="cluster-grid"] tr[data-topic="{topic}"]',
        "rows => rows.map(r => [r.dataset.partition, r.dataset.leader, r.dataset.isr])",
    )
    return {int(p): {"leader": int(leader), "isr": isr} for p, leader, isr in rows}


def metadata_leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """{partition: leader} from a Metadata request of a real client (the truth to compare)."""
    from confluent_kafka.admin import AdminClient

    found = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    return {p: info.leader for p, info in found.topics[topic].partitions.items()}


class MoveWatch:
    """Polls one broker's Metadata on a thread until no partition of `topic` is led by `old`.

    `result()` is the wall-clock moment that broker first named new leaders for all of them:
    when the cluster, not a widget, had moved leadership.
    """

    WITHIN_S = 60.0

    def __init__(self, address: tuple[str, int], topic: str, old: int) -> None:
        self._moved: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._poll, args=(address, topic, old), name="move-watch", daemon=True
        )
        self._thread.start()

    def _poll(self, address: tuple[str, int], topic: str, old: int) -> None:
        from kafkabook.backends.base import BackendError
        from kafkabook.backends.external import fetch_metadata

        # Bounded, so a test that fails before asking for the result leaves no poller behind.
        deadline = time.monotonic() + self.WITHIN_S
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                parts = fetch_metadata(address, topics=[topic], timeout=1.0).topics.get(topic, ())
            except BackendError:
                parts = ()
            if parts and all(p.leader not in (old, -1) for p in parts):
                self._moved = time.time()
                return
            self._stop.wait(0.02)

    def result(self, timeout: float) -> float:
        self._thread.join(timeout)
        self._stop.set()
        if self._moved is None:
            raise AssertionError(f"Metadata never named new leaders within {timeout} s")
        return self._moved


def shot(locator, artifacts: Path, name: str) -> None:
    """A screenshot of one cell. Clipped from the page: a live widget is never "stable" the
    way Playwright's element screenshots wait for."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page = locator.page
    view = page.viewport_size
    top = max(0.0, box["y"])
    clip = {
        "x": max(0.0, box["x"]),
        "y": top,
        "width": min(box["width"], view["width"] - max(0.0, box["x"])),
        "height": min(box["y"] + box["height"], view["height"]) - top,
    }
    page.screenshot(path=str(artifacts / f"{name}.png"), clip=clip)


def notebook_errors(page) -> list[str]:
    """The text of every error output in the notebook (tracebacks, stderr)."""
    return page.eval_on_selector_all(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]',
        "outputs => outputs.map(o => o.innerText.slice(0, 2000))",
    )
