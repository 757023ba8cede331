"""The course as Binder builds it: a fresh virtual environment with only binder/requirements.txt
(installed from the repository root, as repo2docker does), every lesson executed in it.

Slow (a full pip install): marked ``course`` and skipped unless selected with
``pytest -m course tests/course`` (``make binder``, which CI runs). Each lesson's time and peak
memory (kernel plus cluster) are printed and kept in test-artifacts/course/binder-runs.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from course.notebooks import ROOT, lessons

LIMIT_SECONDS = 180
LIMIT_BYTES = int(1.5 * 2**30)
ARTIFACTS = ROOT / "test-artifacts" / "course"


def must_run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run ``command``; on failure, fail with the end of its output (pip says what broke)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited with {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}",
            pytrace=False,
        )
    return done


@pytest.mark.course
@pytest.mark.timeout(3600)
def test_binder_environment_runs_every_lesson(tmp_path: Path):
    # Binder's Python is the one binder/runtime.txt names; a venv of another would test
    # something Binder never builds.
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    here = f"python-{sys.version_info.major}.{sys.version_info.minor}"
    assert runtime == here, f"binder/runtime.txt asks for {runtime}; this test runs {here}"
    env_dir = tmp_path / "binder-venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(env_dir / "bin"), env.get("PATH", "")])
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # What repo2docker runs, from the repository root; then the test's own tools.
    must_run([*pip, "-r", "binder/requirements.txt"], 1800, cwd=ROOT, env=env)
    must_run([*pip, "nbclient", "psutil"], 600, cwd=ROOT, env=env)

    # The notebook front end has the widgets' extension, so live widgets render.
    extensions = must_run([str(env_dir / "bin" / "jupyter"), "labextension", "list"], 120, env=env)
    assert "@jupyter-widgets/jupyterlab-manager" in extensions.stdout + extensions.stderr
    # kafkabook comes from this checkout, not from the test's own environment.
    where = must_run(
        [str(python), "-c", "import kafkabook, sys; print(kafkabook.__file__, sys.prefix)"],
        120,
        env=env,
        cwd=tmp_path,
    ).stdout
    assert str(env_dir) in where

    out = tmp_path / "runs.json"
    result = subprocess.run(
        [str(python), str(ROOT / "tests" / "course" / "notebooks.py"), str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=len(lessons()) * 300,
    )
    print(result.stdout[-5000:], result.stderr[-3000:], file=sys.stderr)
    assert out.exists(), f"the lessons' runner ended ({result.returncode}) without its results"
    runs = json.loads(out.read_text())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "binder-runs.json").write_text(json.dumps(runs, indent=2))
    for r in runs:
        print(
            f"{r['lesson']:40} {r['seconds']:6.1f} s  peak {r['peak_rss'] / 2**20:5.0f} MiB"
            f"  {'ERROR' if r['error'] else 'ok'}"
        )
    assert [r["lesson"] for r in runs] == [p.name for p in lessons()]
    for run in runs:
        assert run["error"] is None, f"{run['lesson']}: {run['error']}"
        assert run["seconds"] < LIMIT_SECONDS, run
        assert run["peak_rss"] < LIMIT_BYTES, run
    assert result.returncode == 0
