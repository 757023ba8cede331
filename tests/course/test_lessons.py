"""Every lesson, executed top to bottom in a fresh kernel of this environment, as a learner would
run it, with the worked solutions in the exercise cells and the checker in strict mode.

All lessons share one bundled cluster in a temporary directory, started on free ports before
the first lesson (every lesson's ``%kafka cluster up`` reattaches to it, as for a learner); it
is stopped at the end.
Each lesson must finish within 3 minutes, and the kernel plus the cluster must stay under
1.5 GiB of resident memory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from course.notebooks import kernel_env, lessons, run_lesson, start_cluster, stop_cluster

LIMIT_SECONDS = 180
LIMIT_BYTES = int(1.5 * 2**30)


@pytest.fixture(scope="module")
def course_cluster(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("course")
    data_dir = tmp / "cluster"
    start_cluster(data_dir)
    yield tmp, data_dir
    stop_cluster(data_dir)


@pytest.mark.timeout(LIMIT_SECONDS + 120)
@pytest.mark.parametrize("path", lessons(), ids=lambda p: p.stem)
def test_lesson_runs_top_to_bottom(path: Path, course_cluster, record_property):
    tmp, data_dir = course_cluster
    run = run_lesson(path, env=kernel_env(tmp, data_dir), data_dir=data_dir, timeout=LIMIT_SECONDS)
    record_property("seconds", round(run.seconds, 1))
    record_property("peak_rss_mib", run.peak_rss // 2**20)
    print(
        f"{run.name}: {run.seconds:.1f} s, peak RSS {run.peak_rss / 2**20:.0f} MiB {run.peak_parts}"
    )
    assert run.error is None, run.error
    assert run.seconds < LIMIT_SECONDS
    assert run.peak_rss < LIMIT_BYTES
    assert "kernel" in run.peak_parts or run.peak_rss > 0
