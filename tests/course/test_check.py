"""kb.course.check: right answers pass, wrong ones get a hint, strict mode raises; and the
answers come from the cluster."""

from __future__ import annotations

import pytest

import kafkabook as kb
import kafkabook.course

# The cluster fixtures of the API tests: an isolated session on the shared bundled cluster.
from api.conftest import isolated_session, kb_cluster  # noqa: F401
from kafkabook.course import checker
from kafkabook.course.checker import Exercise, ExerciseFailed, check_one


@pytest.fixture
def lenient(monkeypatch):
    monkeypatch.delenv(checker.STRICT_ENV, raising=False)


def test_right_answers_pass_whatever_their_spelling(lenient):
    ex = Exercise("00.1", "q", expected=lambda: 3, hint="h")
    for answer in (3, "3", " 3 ", 3.0):
        result = check_one(ex, answer)
        assert result.passed and bool(result)
        assert "✓ correct" in repr(result) and "✓ correct" in result._repr_html_()
    text = Exercise("00.2", "q", expected=lambda: "NOT_ENOUGH_REPLICAS", hint="h")
    assert check_one(text, "not_enough_replicas ").passed


def test_wrong_answer_shows_the_hint_and_a_trap_beats_it(lenient):
    ex = Exercise(
        "00.3",
        "q",
        expected=lambda: 5,
        hint="general hint",
        traps=((lambda a, e: int(a) == e - 1, "off by one"),),
    )
    wrong = check_one(ex, 7)
    assert not wrong.passed and wrong.hint == "general hint"
    assert "✗ not yet" in repr(wrong) and "general hint" in wrong._repr_html_()
    assert check_one(ex, 4).hint == "off by one"
    # A trap that blows up on odd input falls back to the general hint.
    assert check_one(ex, "five").hint == "general hint"


def test_placeholder_asks_for_an_answer(lenient):
    ex = Exercise("00.4", "q", expected=lambda: 1, hint="h")
    result = check_one(ex, ...)
    assert not result.passed and "replace the ..." in result.message


def test_unreadable_truth_says_what_to_run(lenient):
    def boom():
        raise LookupError("no such topic")

    result = check_one(Exercise("00.5", "q", expected=boom, hint="h"), 1)
    assert not result.passed and "no such topic" in result.message


def test_strict_mode_raises(monkeypatch):
    monkeypatch.setenv(checker.STRICT_ENV, "1")
    ex = Exercise("00.6", "q", expected=lambda: 1, hint="h")
    assert check_one(ex, 1).passed
    with pytest.raises(ExerciseFailed, match="not yet"):
        check_one(ex, 2)
    with pytest.raises(ExerciseFailed):
        check_one(ex, ...)


def test_comparisons():
    assert checker.same_items({1, 2}, [2, 1])
    assert not checker.same_items([1], [1, 2])
    assert checker.within(0.5)(2.4, 2)
    assert not checker.within(0.5)("x", 2)


def test_every_exercise_has_a_hint_and_a_solution():
    exercises = kb.course.exercises()
    assert len(exercises) >= 30
    for ex in exercises:
        assert ex.hint.strip() and "answer" in ex.solution, ex.id
        assert ex.lesson in kb.course.LESSONS
    assert "answer =" in repr(kb.course.solution("01.2"))
    assert "01.2" in repr(kb.course.hint("01.2"))
    with pytest.raises(KeyError, match="no exercise"):
        kb.course.check("99.9", 1)


def test_checks_read_the_cluster(kb_cluster, lenient):  # noqa: F811
    kb.course.begin("01")
    kb.topics.create("parcel-scans", partitions=3, replication_factor=3)
    kb.produce("parcel-scans", ["a", "b", "c"], partition=0)
    kb.produce("parcel-scans", ["x", "y"], partition=2)
    assert kb.course.check("01.1", 3).passed
    assert kb.course.check("01.2", 3).passed
    wrong = kb.course.check("01.2", 2)
    assert not wrong.passed and "last record already there" in wrong.hint
    assert kb.course.check("01.3", "y").passed
    leader = kb.topics.describe("parcel-scans")["parcel-scans"].partitions[1].leader
    assert kb.course.check("01.4", leader).passed
    # The truth follows the cluster: one more record, one more offset.
    kb.produce("parcel-scans", ["d"], partition=0)
    assert kb.course.check("01.2", 4).passed
    # begin() starts the lesson again from scratch.
    started = kb.course.begin("01")
    assert "deleted topic parcel-scans" in repr(started)
    assert "parcel-scans" not in kb.topics.list()


def test_begin_repairs_brokers_an_earlier_lesson_left_down(
    bundled_cluster_factory,
    isolated_session,  # noqa: F811
    lenient,
):
    from kafkabook.api.cluster import Cluster
    from kafkabook.backends.bundled import BundledBackend

    backend = bundled_cluster_factory(brokers=3, fresh=True)
    isolated_session.use(Cluster(BundledBackend(data_dir=backend.data_dir)))
    kb.broker.kill(2)
    kb.broker.pause(3)
    started = kb.course.begin("06")
    text = repr(started)
    assert "started node 2" in text and "resumed node 3" in text
    assert all(n.state == "running" for n in kb.cluster_status().status.nodes)
