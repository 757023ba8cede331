"""The course as Binder builds it: a fresh virtual environment with only binder/requirements.txt
(installed from the repository root, as repo2docker does), every lesson executed in it.

Slow (a full pip install): marked ``course`` and skipped unless selected with
``pytest -m course tests/course``.
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


@pytest.mark.course
@pytest.mark.timeout(3600)
def test_binder_environment_runs_every_lesson(tmp_path: Path):
    env_dir = tmp_path / "binder-venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(env_dir / "bin"), env.get("PATH", "")])
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # What repo2docker runs, from the repository root; then the test's own tools.
    subprocess.run(
        [*pip, "-r", "binder/requirements.txt"], cwd=ROOT, env=env, check=True, timeout=1800
    )
    subprocess.run([*pip, "nbclient", "psutil"], cwd=ROOT, env=env, check=True, timeout=600)

    # The notebook front end has the widgets' extension, so live widgets render.
    extensions = subprocess.run(
        [str(env_dir / "bin" / "jupyter"), "labextension", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "@jupyter-widgets/jupyterlab-manager" in extensions.stdout + extensions.stderr
    # kafkabook comes from this checkout, not from the test's own environment.
    where = subprocess.run(
        [str(python), "-c", "import kafkabook, sys; print(kafkabook.__file__, sys.prefix)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
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
    runs = json.loads(out.read_text())
    assert [r["lesson"] for r in runs] == [p.name for p in lessons()]
    for run in runs:
        assert run["error"] is None, f"{run['lesson']}: {run['error']}"
        assert run["seconds"] < LIMIT_SECONDS, run
        assert run["peak_rss"] < LIMIT_BYTES, run
    assert result.returncode == 0
