"""The lessons as files: committed without outputs, numbered, each with checked exercises, and
listed in the README; binder/ holds what repo2docker needs."""

from __future__ import annotations

import re

import nbformat
import pytest

from course.notebooks import CHECK_CALL, NOTEBOOKS, PLACEHOLDER, ROOT, exercise_ids, lessons
from kafkabook.course import LESSONS
from kafkabook.course.checker import registry

ALL = lessons()


def _code(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_the_course_has_its_lessons():
    assert [p.name for p in ALL] == [LESSONS[k].notebook for k in sorted(LESSONS)]
    assert len(ALL) >= 10


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_lesson_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs: {cell.source[:60]!r}"
            assert cell.execution_count is None, f"{path.name}: {cell.source[:60]!r} was run"
        assert "attachments" not in cell or not cell.attachments
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_lesson_starts_the_cluster_and_begins_and_ends_with_exercises(path):
    nb = nbformat.read(path, as_version=4)
    code = _code(nb)
    number = path.name[:2]
    assert "%kafka cluster up" in code[0], (
        "the first code cell starts (or reattaches to) the cluster"
    )
    assert any(f'kb.course.begin("{number}")' in c for c in code[:3])
    ids = exercise_ids(nb)
    assert len(ids) >= 3, f"{path.name}: a lesson ends with at least three checked exercises"
    assert all(i.startswith(f"{number}.") for i in ids)
    assert len(set(ids)) == len(ids)
    for cell in code:
        if CHECK_CALL.search(cell):
            assert PLACEHOLDER.search(cell), "an exercise cell leaves `answer = ...` to the learner"
    for exercise_id in ids:
        ex = registry.get(exercise_id)
        assert (
            ex.hint and ex.solution.strip().startswith(("answer", "#"))
        ) or "answer =" in ex.solution


def test_every_exercise_of_the_catalog_is_in_a_lesson():
    used = {i for path in ALL for i in exercise_ids(nbformat.read(path, as_version=4))}
    assert {e.id for e in registry} == used


def test_first_lesson_explains_how_to_use_the_course():
    nb = nbformat.read(ALL[0], as_version=4)
    text = "\n".join(c.source for c in nb.cells[:3])
    assert "How to use this course" in text
    assert "in order" in text and "reattach" in text


def test_readme_lists_every_lesson_and_one_binder_address():
    readme = (ROOT / "README.md").read_text()
    assert readme.startswith("```sh\nmake lab"), "the README opens with make lab and make test"
    lines = readme.splitlines()
    assert lines[1].startswith("make lab") and lines[2].startswith("make test")
    for path in ALL:
        assert f"(notebooks/{path.name})" in readme, f"{path.name} is missing from the lesson table"
    addresses = re.findall(r"mybinder\.org/v2/gh/[^)\s]+", readme)
    assert len(addresses) == 1, "the Binder address is written once (a link reference)"
    assert "urlpath=lab" in addresses[0]


def test_binder_installs_the_course_from_this_repository():
    requirements = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    entries = [line.split("#", 1)[0].strip() for line in requirements]
    entries = [e for e in entries if e]
    assert "." in entries, "repo2docker installs binder/requirements.txt from the repo root"
    assert any(e.startswith("jupyterlab") for e in entries)
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert runtime == "python-3.11"
    assert (NOTEBOOKS / ALL[0].name).exists()
