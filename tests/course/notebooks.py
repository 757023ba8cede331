"""Run the course's lessons as a learner would, top to bottom, and measure them.

`with_solutions` fills each exercise's ``answer = ...`` line with the worked solution from
`kafkabook.course` (code that computes the answer from the cluster), so a strict run
(``KAFKABOOK_COURSE_STRICT=1``) fails when an exercise and the cluster disagree.
`run_lesson` executes a notebook with nbclient in a given Python and samples the resident memory
of the kernel and of the cluster's processes (found through the cluster's data directory) while
it runs.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
LESSON_NAME = re.compile(r"^(\d\d)-[a-z0-9-]+\.ipynb$")
CHECK_CALL = re.compile(r"""kb\.course\.check\(\s*["'](\d\d\.\d+)["']\s*,\s*answer\s*\)""")
PLACEHOLDER = re.compile(r"^answer\s*=\s*\.\.\..*$", re.MULTILINE)


def lessons() -> list[Path]:
    """The lesson notebooks, in course order."""
    return sorted(p for p in NOTEBOOKS.glob("*.ipynb") if LESSON_NAME.match(p.name))


def exercise_ids(nb: nbformat.NotebookNode) -> list[str]:
    return [
        m for cell in nb.cells if cell.cell_type == "code" for m in CHECK_CALL.findall(cell.source)
    ]


def with_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose exercise cells compute their answer with the worked solution."""
    from kafkabook.course import catalog  # noqa: F401  (registers them)
    from kafkabook.course.checker import registry

    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type != "code":
            continue
        ids = CHECK_CALL.findall(cell.source)
        if not ids:
            continue
        [exercise_id] = ids
        solution = registry.get(exercise_id).solution.strip()
        if not PLACEHOLDER.search(cell.source):
            raise AssertionError(f"exercise {exercise_id}: no `answer = ...` line to fill")
        cell.source = PLACEHOLDER.sub(lambda _, s=solution: s, cell.source, count=1)
    return out


@dataclass
class MemorySampler:
    """Samples the RSS of the kernel process and of the cluster's processes every 0.2 s."""

    data_dir: Path
    kernel_pid: int | None = None
    peak: int = 0
    peak_parts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def cluster_pids(self) -> dict[str, int]:
        try:
            state = json.loads((self.data_dir / "cluster.json").read_text())
        except (OSError, ValueError):
            return {}
        nodes = [state.get("controller", {}), *state.get("brokers", [])]
        return {f"node-{n['node_id']}": n["pid"] for n in nodes if n.get("pid")}

    def sample(self) -> int:
        pids = dict(self.cluster_pids())
        if self.kernel_pid:
            pids["kernel"] = self.kernel_pid
        parts = {}
        for name, pid in pids.items():
            try:
                parts[name] = psutil.Process(pid).memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        total = sum(parts.values())
        if total > self.peak:
            self.peak, self.peak_parts = total, parts
        return total

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(0.2):
                try:
                    self.sample()
                except Exception as exc:  # keep sampling; a bad moment must not end it
                    self.errors.append(repr(exc))

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.sample()


@dataclass
class LessonRun:
    name: str
    seconds: float
    peak_rss: int
    peak_parts: dict[str, int]
    error: str | None
    notebook: nbformat.NotebookNode


def kernel_env(tmp: Path, data_dir: Path, python_bin: Path | None = None) -> dict[str, str]:
    """The environment of a course kernel: its own cluster directory and session file."""
    env = dict(os.environ)
    env["KAFKABOOK_DATA_DIR"] = str(data_dir)
    env["KAFKABOOK_SESSION_FILE"] = str(tmp / "session.json")
    env["KAFKABOOK_BACKEND"] = "bundled"
    env["KAFKABOOK_COURSE_STRICT"] = "1"
    env.pop("KAFKABOOK_DEBUG", None)
    env.pop("PYTHONPATH", None)
    if python_bin is not None:
        env["PATH"] = os.pathsep.join([str(python_bin.parent), env.get("PATH", "")])
        env["VIRTUAL_ENV"] = str(python_bin.parent.parent)
    return env


def run_lesson(
    path: Path,
    *,
    env: dict[str, str],
    data_dir: Path,
    kernel_name: str = "python3",
    timeout: float = 180.0,
    solutions: bool = True,
) -> LessonRun:
    """Execute one lesson in a fresh kernel; never raises for a failing cell (see ``error``)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    if solutions:
        nb = with_solutions(nb)
    client = NotebookClient(
        nb,
        timeout=int(timeout),
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
    )
    sampler = MemorySampler(data_dir)
    error = None
    began = time.monotonic()
    try:
        with client.setup_kernel(env=env):
            provisioner = getattr(client.km, "provisioner", None)
            sampler.kernel_pid = getattr(provisioner, "pid", None) or getattr(
                getattr(provisioner, "process", None), "pid", None
            )
            sampler.start()
            deadline = began + timeout
            for index, cell in enumerate(nb.cells):
                if time.monotonic() > deadline:
                    raise CellTimeoutError(f"the lesson took more than {timeout:.0f} s")
                client.execute_cell(cell, index)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        error = str(exc)
    finally:
        sampler.stop()
    return LessonRun(
        path.name,
        time.monotonic() - began,
        sampler.peak,
        sampler.peak_parts,
        error,
        nb,
    )


def free_port_block(count: int = 4) -> int:
    """First of ``count`` consecutive free ports, below the ephemeral range, picked at random."""
    import random
    import socket

    for _ in range(500):
        base = random.randrange(20000, 32000 - count)
        ok = True
        for port in range(base, base + count):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free block of ports")


def start_cluster(data_dir: Path, python: str | None = None) -> None:
    """Start the course's cluster on free ports before the first lesson, whose
    ``%kafka cluster up`` then reattaches to it (as a learner's second lesson does).

    The default ports (9092 upward) belong to the learner's own cluster; a stopped node's port
    must not be taken by another cluster while a lesson has it down.
    """
    import subprocess
    import sys

    command = [python or sys.executable, "-m", "kafkabook.cli", "cluster", "up"]
    command += ["--data-dir", str(data_dir), "--base-port", str(free_port_block())]
    subprocess.run(command, capture_output=True, timeout=180, check=True)


def stop_cluster(data_dir: Path, python: str | None = None) -> None:
    """Bring the course cluster down (its processes outlive the kernels)."""
    import subprocess
    import sys

    if not (data_dir / "cluster.json").exists():
        return
    subprocess.run(
        [
            python or sys.executable,
            "-m",
            "kafkabook.cli",
            "cluster",
            "down",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )


def main(argv: list[str] | None = None) -> int:
    """``python notebooks.py OUT.json [LESSON ...]``: run lessons here, write their measures.

    What the Binder test runs inside the fresh virtual environment.
    """
    import sys
    import tempfile

    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args.pop(0))
    chosen = [NOTEBOOKS / a for a in args] if args else lessons()
    results = []
    with tempfile.TemporaryDirectory(prefix="kb-course-") as tmp_name:
        tmp = Path(tmp_name)
        data_dir = tmp / "cluster"
        env = kernel_env(tmp, data_dir)
        try:
            start_cluster(data_dir)
            for path in chosen:
                run = run_lesson(path, env=env, data_dir=data_dir)
                results.append(
                    {
                        "lesson": run.name,
                        "seconds": round(run.seconds, 2),
                        "peak_rss": run.peak_rss,
                        "peak_parts": run.peak_parts,
                        "error": run.error,
                    }
                )
                print(
                    f"{run.name}: {run.seconds:.1f} s, peak {run.peak_rss / 2**20:.0f} MiB"
                    + (f", ERROR {run.error[:300]}" if run.error else ""),
                    flush=True,
                )
        finally:
            stop_cluster(data_dir)
    out.write_text(json.dumps(results, indent=2))
    return 0 if all(r["error"] is None for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
