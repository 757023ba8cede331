"""Live widgets: poll the cluster in the background, redraw, and know when to stop.

Every live widget owns a `Source` (the cluster and an aiokafka client of its own) and a polling
task on kafkabook's background event loop (`kafkabook.api.loop`), the loop every kafkabook
client runs on. The task reads a `Snapshot` every ``interval`` seconds and hands it to the
widget's `LiveWidget.render`, which updates the widget's traits inside ``hold_sync()``. Nothing
runs on the kernel's own thread, so the kernel stays free: a cell can sleep or produce while
the widgets above it move.

A widget stops polling (and closes its client) when

* it is closed (``widget.close()``, or the stop button),
* its cell runs again: widgets are tracked per notebook cell (the ``cellId`` Jupyter front ends
  send with each execution) and a re-run closes the previous ones,
* the cluster goes away: the backend reports every node stopped, its data directory is gone,
  the session switched to another cluster, or nothing answered for `GIVE_UP_AFTER` seconds.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import datetime as dt
import html
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets

from kafkabook.api import loop
from kafkabook.api.cluster import Cluster
from kafkabook.api.errors import KafkabookError
from kafkabook.api.requests import Admin
from kafkabook.backends.base import Backend, BackendError, ClusterStatus
from kafkabook.viz.charts import MIME_V5
from kafkabook.viz.snapshot import Collector, Snapshot, Wanted

DEFAULT_INTERVAL = 0.5
#: Seconds without any answer after which a widget gives up on a cluster it cannot see.
GIVE_UP_AFTER = 120.0
#: Rounds in a row the backend must report every node down before a widget stops.
DOWN_ROUNDS = 3
STATUS_TIMEOUT = 5.0
ACTIONS = ("kill", "stop", "start", "pause", "resume")

CSS = """
<style>
.kb-viz { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; font-size: 13px; }
.kb-viz table.kb-grid { border-collapse: separate; border-spacing: 3px; }
.kb-viz table.kb-grid th { font-weight: 600; padding: 4px 8px; text-align: center;
  background: #f8fafc; border-radius: 4px; }
.kb-viz table.kb-grid th.kb-rowhead { text-align: left; font-family: ui-monospace, monospace; }
.kb-viz table.kb-grid td { padding: 3px 8px; border-radius: 4px; text-align: center;
  min-width: 96px; line-height: 1.25; }
.kb-viz td.kb-none { background: #f3f4f6; color: #9ca3af; }
.kb-viz td.kb-stale { outline: 2px dashed #111827; outline-offset: -2px; }
.kb-viz .kb-role { font-weight: 700; }
.kb-viz .kb-small { font-size: 11px; opacity: 0.9; font-family: ui-monospace, monospace; }
.kb-viz .kb-mark { color: #eab308; font-size: 14px; }
.kb-viz .kb-legend { margin: 4px 0; }
.kb-viz .kb-legend-item { margin-right: 12px; white-space: nowrap; }
.kb-viz .kb-swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px;
  vertical-align: -1px; margin-right: 4px; }
.kb-viz .kb-badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px;
  color: #fff; }
.kb-viz table.kb-table { border-collapse: collapse; }
.kb-viz table.kb-table th, .kb-viz table.kb-table td { padding: 2px 10px; text-align: right;
  border-bottom: 1px solid #e5e7eb; }
.kb-viz table.kb-table th { background: #f8fafc; }
.kb-viz table.kb-table td.kb-text, .kb-viz table.kb-table th.kb-text { text-align: left; }
.kb-viz .kb-moved { background: #fef3c7; }
.kb-viz .kb-status { color: #6b7280; font-size: 12px; }
.kb-viz .kb-note { color: #92400e; font-size: 12px; }
.kb-viz .kb-help { color: #374151; font-size: 12px; max-width: 880px; }
.kb-viz code { font-family: ui-monospace, monospace; }
</style>
"""

STATE_BADGE = {
    "alive": "#16a34a",
    "paused": "#f59e0b",
    "stopped": "#6b7280",
    "killed": "#dc2626",
    "fenced": "#9333ea",
    "offline": "#dc2626",
    "running": "#16a34a",
}


def esc(value: Any) -> str:
    """HTML-escaped text of ``value`` ("" for None)."""
    return "" if value is None else html.escape(str(value))


def badge(state: str) -> str:
    color = STATE_BADGE.get(state, "#6b7280")
    return f'<span class="kb-badge" style="background:{color}">{esc(state)}</span>'


def clock(at: float) -> str:
    return dt.datetime.fromtimestamp(at).strftime("%H:%M:%S")


# -- where a widget reads from --------------------------------------------------------------------


class Source:
    """A cluster a widget watches: the kafkabook `Cluster` and a client of the widget's own.

    ``cluster`` is a `kafkabook.Cluster`, a `Backend`, a bootstrap string (``"host:port"``, an
    external cluster; ``client_config`` then holds its SASL/SSL settings) or None for the
    session's current cluster (``%kafka cluster up`` / ``kb.cluster_up()``).
    """

    def __init__(
        self,
        cluster: Cluster | Backend | str | None = None,
        client_config: dict[str, str] | None = None,
        timeout: float = 2.0,
    ) -> None:
        self._session_cluster: Cluster | None = None
        if cluster is None:
            from kafkabook.api.session import current

            cluster = current().require()
            self._session_cluster = cluster
        elif isinstance(cluster, Backend):
            cluster = Cluster(cluster)
        elif isinstance(cluster, str):
            from kafkabook.backends.external import ExternalBackend

            cluster = Cluster(ExternalBackend(cluster, dict(client_config or {})))
        if not isinstance(cluster, Cluster):
            raise KafkabookError(
                f"a widget watches a kb.Cluster, a backend or a bootstrap string, not {cluster!r}"
            )
        self.cluster = cluster
        self.timeout = timeout
        self._client: Any = None
        self._collector: Collector | None = None

    @property
    def backend(self) -> Backend:
        return self.cluster.backend

    def gone(self) -> str | None:
        """Why this source should not be watched any more (None: it should)."""
        if self._session_cluster is not None:
            from kafkabook.api.session import current

            if current().cluster is not self._session_cluster:
                return "the session switched to another cluster"
        return None

    def can(self, action: str) -> bool:
        """Whether the backend implements a broker action (kill, stop, start, pause, resume).

        Backends have no capability flags: a backend can when it overrides the base class's
        refusal, except the external one, whose overrides refuse with a better message.
        """
        if self.backend.name == "external":
            return False
        mine = getattr(type(self.backend), action, None)
        return mine is not None and mine is not getattr(Backend, action)

    def act(self, action: str, node_id: int) -> None:
        """Run a broker action (blocking: call it off the kernel's thread)."""
        if action not in ACTIONS:
            raise KafkabookError(f"unknown broker action {action!r}")
        getattr(self.cluster, action)(node_id)

    def _connection_kwargs(self) -> dict[str, Any]:
        from kafkabook.backends.external import connection_kwargs

        kwargs = connection_kwargs(self.cluster.client_config())
        kwargs["client_id"] = "kafkabook-viz"
        kwargs["bootstrap_servers"] = bootstrap_servers(self.cluster)
        return kwargs

    async def collector(self) -> Collector:
        """The started client's `Collector` (made on first use, again after a failure)."""
        if self._collector is not None:
            return self._collector
        from aiokafka import AIOKafkaClient
        from aiokafka.errors import KafkaError as AioKafkaError

        kwargs = await asyncio.get_running_loop().run_in_executor(None, self._connection_kwargs)
        request_timeout = max(1.0, self.timeout * 2)
        client = AIOKafkaClient(
            request_timeout_ms=int(request_timeout * 1000),
            metadata_max_age_ms=10_000,
            **kwargs,
        )
        hosts = kwargs["bootstrap_servers"].count(",") + 1
        try:
            # aiokafka tries the bootstrap servers in turn, each for up to the request timeout.
            await asyncio.wait_for(client.bootstrap(), request_timeout * hosts + 2.0)
        except (AioKafkaError, TimeoutError, OSError) as exc:
            with contextlib.suppress(Exception):
                await client.close()
            raise KafkabookError(
                f"cannot reach the cluster at {kwargs['bootstrap_servers']}"
            ) from exc
        self._client = client
        self._collector = Collector(Admin(client), timeout=self.timeout)
        return self._collector

    async def status(self) -> ClusterStatus | None:
        """The backend's status (off the loop: backends block); None if it cannot say now."""
        running = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                running.run_in_executor(None, self.cluster.status), STATUS_TIMEOUT
            )
        except TimeoutError:
            return None

    async def close(self) -> None:
        client, self._client, self._collector = self._client, None, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), 5.0)


def bootstrap_servers(cluster: Cluster) -> str:
    """The bootstrap servers, running brokers first and paused or dead ones left out.

    aiokafka tries bootstrap servers in order and waits out a request timeout on a paused
    one, so a widget opened while a broker is paused would otherwise start slowly.
    """
    given = getattr(cluster.backend, "bootstrap_servers", None)
    if given:
        return given
    status = cluster.status()
    running = [n for n in status.brokers if n.state == "running"]
    if not running:
        return status.bootstrap
    return ",".join(f"{n.host}:{n.port}" for n in running)


def cluster_down(status: ClusterStatus | None) -> bool:
    """Whether the backend says no node of the cluster runs (paused ones still count)."""
    if status is None or not status.nodes:
        return False
    return all(n.state in ("stopped", "killed") for n in status.nodes)


# -- per-cell bookkeeping -------------------------------------------------------------------------

_by_cell: dict[str, list[weakref.ref[LiveWidget]]] = {}
_all: weakref.WeakSet[LiveWidget] = weakref.WeakSet()
_registry_lock = threading.Lock()


def current_cell_id() -> str | None:
    """The id of the notebook cell being executed, when the front end sends one."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent("shell")
    except TypeError:  # older ipykernel: get_parent() takes no channel
        parent = kernel.get_parent()
    metadata = (parent or {}).get("metadata") or {}
    cell_id = metadata.get("cellId") or metadata.get("cell_id")
    return str(cell_id) if cell_id else None


def adopt(widget: LiveWidget, cell_id: str | None) -> None:
    """Track ``widget`` under ``cell_id``, closing the live widgets an earlier run left there."""
    with _registry_lock:
        _all.add(widget)
        if cell_id is None:
            return
        previous = [ref() for ref in _by_cell.get(cell_id, [])]
        _by_cell[cell_id] = [weakref.ref(widget)]
    for old in previous:
        if old is not None and old is not widget:
            old.close(reason="its cell ran again")


def live_widgets() -> list[LiveWidget]:
    """Every live widget still polling in this process."""
    return [w for w in list(_all) if w.running]


def stop_all(reason: str = "stopped") -> None:
    """Stop every live widget (at exit, or before the session's cluster goes down)."""
    for widget in list(_all):
        widget.stop(reason)


atexit.register(stop_all, "the kernel is exiting")


# -- the widget -----------------------------------------------------------------------------------


class ChartOutput(widgets.Output):
    """An output area that shows one Vega-Lite v5 chart and redraws it only when it changed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: Any = None
        self._signature: Any = None
        self._drawn_at = float("-inf")
        self.redraws = 0

    def show_when(
        self,
        signature: Any,
        build: Callable[[], dict[str, Any]],
        min_gap: float = 1.0,
        every: float = 60.0,
        now: float | None = None,
    ) -> bool:
        """Redraw (``build()`` the mimebundle) when ``signature`` changed, at most once per
        ``min_gap`` seconds, and otherwise once every ``every`` seconds.

        A chart over time gains a point at each refresh, but each redraw makes the browser
        embed a new Vega view (and JupyterLab's renderer keeps some memory of each): so draw
        when what the chart says changed, not when the clock moved. A change skipped for
        ``min_gap`` is drawn at a later refresh, since the signature still differs.
        """
        now = time.monotonic() if now is None else now
        waited = now - self._drawn_at
        if signature == self._signature and waited < every:
            return False
        if signature != self._signature and waited < min_gap:
            return False
        self._signature, self._drawn_at = signature, now
        return self.show(build())

    def show(self, mimebundle: dict[str, Any]) -> bool:
        """Show ``mimebundle`` (from `kafkabook.viz.charts.bundle`); False if it was showing."""
        if mimebundle == self._shown:
            return False
        self._shown = mimebundle
        self.redraws += 1
        self.outputs = ({"output_type": "display_data", "data": mimebundle, "metadata": {}},)
        return True

    @property
    def spec(self) -> dict[str, Any] | None:
        return None if self._shown is None else self._shown.get(MIME_V5)


class LiveWidget(widgets.VBox):
    """A widget redrawn from a fresh `Snapshot` every ``interval`` seconds until it stops.

    Subclasses say what to read (`wanted`) and how to draw a snapshot (`render`); `render`
    runs on the background loop's thread with the widget's lock held and every part's sync
    held, so the front end gets one batch of changes per refresh.
    """

    title = "kafkabook"

    def __init__(
        self,
        source: Source,
        wanted: Wanted,
        interval: float = DEFAULT_INTERVAL,
        parts: list[widgets.Widget] | None = None,
    ) -> None:
        if interval <= 0:
            raise KafkabookError(
                f"the refresh interval is a positive number of seconds, not {interval}"
            )
        self.source = source
        self.wanted = wanted
        self.interval = float(interval)
        self.header = widgets.HTML()
        self.status_line = widgets.HTML()
        self.toggle = widgets.Button(description="stop", icon="stop", layout={"width": "84px"})
        self.toggle.on_click(lambda _: self.stop("stopped") if self.running else self.start())
        top = widgets.HBox(
            [self.header, self.toggle], layout={"justify_content": "space-between", "width": "100%"}
        )
        super().__init__([top, *(parts or []), self.status_line])
        self.add_class("kb-viz")
        self.snapshot: Snapshot | None = None
        self.refreshes = 0
        self.errors: list[str] = []
        #: Thread CPU seconds each recent refresh cost: (collect on the loop, render).
        self.costs: deque[tuple[float, float]] = deque(maxlen=200)
        self.stop_reason: str | None = None
        self._lock = threading.RLock()
        self._future: concurrent.futures.Future[None] | None = None
        self._wake: asyncio.Event | None = None
        self._refreshed = threading.Condition()
        self._finished = threading.Event()
        self._stop_requested = False
        self.header.value = self.heading()
        self._show_status("starting…")

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._future is not None and not self._finished.is_set()

    def start(self) -> LiveWidget:
        """Start (or restart) polling; returns the widget."""
        if self.running:
            return self
        reason = self.source.gone()
        if reason:
            self._stopped(reason)
            return self
        self.stop_reason = None
        self._stop_requested = False
        self._finished.clear()
        self._future = asyncio.run_coroutine_threadsafe(self._poll(), loop.get_loop())
        self.toggle.description, self.toggle.icon = "stop", "stop"
        return self

    def stop(self, reason: str = "stopped") -> None:
        """Stop polling and close the widget's client (the widget stays, showing its last state).

        Returns once the polling task has finished, except on the loop's own thread.
        """
        future = self._future
        if future is None or future.done():
            return
        self.stop_reason = reason
        # A flag as well as the cancellation: Python 3.11's asyncio.wait_for can swallow a
        # cancellation that arrives as its inner future completes; the flag ends the loop then.
        self._stop_requested = True
        self.wake()
        future.cancel()
        if not loop.in_loop_thread():
            self._finished.wait(timeout=10.0)

    def close(self, reason: str = "closed") -> None:  # type: ignore[override]
        """Stop polling and remove the widget."""
        self.stop(reason)
        super().close()

    def wake(self) -> None:
        """Refresh now instead of at the next tick."""
        event = self._wake
        if event is not None:
            with contextlib.suppress(RuntimeError):
                loop.get_loop().call_soon_threadsafe(event.set)

    def wait_refresh(self, after: int | None = None, timeout: float = 10.0) -> bool:
        """Block until the widget has refreshed past ``after`` refreshes (tests, scripts)."""
        target = (self.refreshes if after is None else after) + 1
        deadline = time.monotonic() + timeout
        with self._refreshed:
            while self.refreshes < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self.running:
                    return self.refreshes >= target
                self._refreshed.wait(min(left, 0.2))
        return True

    async def _poll(self) -> None:
        self._wake = asyncio.Event()
        running = asyncio.get_running_loop()
        last_answer = time.monotonic()
        down_rounds = 0
        reason = None
        try:
            while not self._stop_requested:
                began = running.time()
                reason = self.source.gone()
                if reason:
                    break
                try:
                    status = await self.source.status()
                except BackendError as exc:
                    reason = f"the cluster is gone ({exc})"
                    break
                down_rounds = down_rounds + 1 if cluster_down(status) else 0
                if down_rounds >= DOWN_ROUNDS:
                    reason = "the cluster is down (%kafka cluster up starts it again)"
                    break
                cpu = time.thread_time()
                try:
                    collector = await self.source.collector()
                    snapshot = await collector.collect(self.wanted, status)
                except KafkabookError as exc:
                    await self.source.close()
                    if time.monotonic() - last_answer > GIVE_UP_AFTER:
                        reason = f"no broker answered for {GIVE_UP_AFTER:.0f} s"
                        break
                    self._show_status(f"waiting for the cluster: {exc}", error=True)
                else:
                    if self._stop_requested:
                        break  # stopped while reading: draw nothing more
                    collect_cpu = time.thread_time() - cpu
                    last_answer = time.monotonic()
                    self._apply(snapshot, collect_cpu)
                if self._stop_requested:
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    pause = max(0.0, self.interval - (running.time() - began))
                    await asyncio.wait_for(self._wake.wait(), pause)
        except asyncio.CancelledError:
            reason = self.stop_reason or "stopped"
        finally:
            try:
                await self.source.close()
                self._stopped(reason or self.stop_reason or "stopped")
            finally:
                self._finished.set()

    def _apply(self, snapshot: Snapshot, collect_cpu: float = 0.0) -> None:
        cpu = time.thread_time()
        try:
            with self._lock, self._hold():
                previous, self.snapshot = self.snapshot, snapshot
                self.render(snapshot, previous)
        except Exception:
            self.errors.append(traceback.format_exc())
            self._show_status(
                "could not draw this snapshot (widget.errors has the traceback)", True
            )
        else:
            self._show_status()
        self.costs.append((collect_cpu, time.thread_time() - cpu))
        with self._refreshed:
            self.refreshes += 1
            self._refreshed.notify_all()

    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for part in self.synced_parts():
                stack.enter_context(part.hold_sync())
            yield

    def synced_parts(self) -> list[widgets.Widget]:
        """The widgets `render` changes (their updates go out in one batch each)."""
        return [self.header, self.status_line]

    def _stopped(self, reason: str) -> None:
        self.stop_reason = reason
        with contextlib.suppress(Exception):
            self.toggle.description, self.toggle.icon = "start", "play"
            self._show_status(
                f"stopped: {reason}", error=reason not in ("stopped", "closed"), state="stopped"
            )
        with self._refreshed:
            self._refreshed.notify_all()

    # -- drawing -------------------------------------------------------------------------------

    def heading(self) -> str:
        backend = self.source.backend.name
        return f"<b>{esc(self.title)}</b> <span class='kb-status'>· {esc(backend)} cluster</span>"

    def _show_status(
        self, text: str | None = None, error: bool = False, state: str | None = None
    ) -> None:
        if text is None:
            at = clock(self.snapshot.taken_at) if self.snapshot else "-"
            text = f"live · updated {at} · every {self.interval:g} s"
            notes = self.snapshot.notes if self.snapshot else ()
            if notes:
                shown = "; ".join(notes[:3]) + (" …" if len(notes) > 3 else "")
                text += f" · {shown}"
        css = "kb-note" if error else "kb-status"
        if state is None:
            state = "stopped" if (self.stop_reason and not self.running) else "live"
        self.status_line.value = (
            f'<div class="{css}" data-kb="status" data-state="{state}">{esc(text)}</div>'
        )

    def render(self, snapshot: Snapshot, previous: Snapshot | None) -> None:
        """Draw ``snapshot`` (``previous`` is the one before, None at first)."""
        raise NotImplementedError


def run_in_background(fn: Callable[[], Any], done: Callable[[BaseException | None], None]) -> None:
    """Run blocking ``fn`` on a worker thread (not the kernel's, not the loop's); then ``done``."""

    def work() -> None:
        try:
            fn()
        except BaseException as exc:  # reported to the widget, which shows it
            done(exc)
        else:
            done(None)

    threading.Thread(target=work, name="kafkabook-viz-action", daemon=True).start()
