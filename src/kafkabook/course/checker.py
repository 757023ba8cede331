"""The exercise checker: compare a learner's answer with the truth, and hint when it differs.

An `Exercise` knows its question, how to find the right answer (``expected``: usually read
from the running cluster when the check runs, so it can never drift from what the learner
sees), how to compare, a general hint, optional targeted hints for typical wrong answers, and a
worked solution (the code a learner would write; `kafkabook.course.solution` shows it).

`check` never raises on a wrong answer: it returns a `CheckResult` that renders as a green
"correct" or an amber "not yet" with the hint. With ``$KAFKABOOK_COURSE_STRICT=1`` (what the
course tests set) a wrong or missing answer raises `ExerciseFailed` instead, so a lesson whose
exercise no longer matches the cluster fails its test.

>>> ex = Exercise("00.1", "How many partitions?", expected=lambda: 3, hint="count them")
>>> check_one(ex, 3).passed, check_one(ex, "3").passed, check_one(ex, 4).passed
(True, True, False)
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

STRICT_ENV = "KAFKABOOK_COURSE_STRICT"


class ExerciseFailed(AssertionError):
    """Raised by `check` in strict mode (course tests) for a wrong or missing answer."""


def _normalize(value: Any) -> Any:
    """Compare what a learner may plausibly type: '3' and 3, ' All ' and 'all', (1, 2) and [1, 2].

    >>> _normalize(" All "), _normalize("3"), _normalize((1, 2)), _normalize(True)
    ('all', 3, [1, 2], True)
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return text.lower()
        return number if not math.isfinite(number) or number != int(number) else int(number)
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_normalize(v) for v in value), key=repr)
    if hasattr(value, "item") and callable(value.item):  # numpy / pandas scalars
        try:
            return _normalize(value.item())
        except (TypeError, ValueError):
            return value
    return value


def equal(answer: Any, expected: Any) -> bool:
    """The default comparison: equal after `_normalize`.

    >>> equal("NOT_ENOUGH_REPLICAS", "not_enough_replicas"), equal([2, 1], [1, 2])
    (True, False)
    """
    return _normalize(answer) == _normalize(expected)


def same_items(answer: Any, expected: Any) -> bool:
    """Order does not matter: ``{1, 2}``, ``[2, 1]`` and ``(1, 2)`` are the same answer.

    >>> same_items([2, 1], (1, 2)), same_items([1], [1, 2])
    (True, False)
    """
    try:
        a = sorted((_normalize(v) for v in answer), key=repr)
        e = sorted((_normalize(v) for v in expected), key=repr)
    except TypeError:
        return False
    return a == e


def within(tolerance: float) -> Callable[[Any, Any], bool]:
    """A comparison for measured numbers (seconds): right within ``tolerance``.

    >>> within(0.5)(2.3, 2.0), within(0.5)(3, 2.0)
    (True, False)
    """

    def compare(answer: Any, expected: Any) -> bool:
        try:
            return abs(float(answer) - float(expected)) <= tolerance
        except (TypeError, ValueError):
            return False

    return compare


@dataclass(frozen=True)
class Exercise:
    """One checked exercise of a lesson (id ``"LL.N"``: lesson number, exercise number)."""

    id: str
    question: str
    expected: Callable[[], Any]
    hint: str
    solution: str = ""
    compare: Callable[[Any, Any], bool] = equal
    #: Targeted hints: (test(answer, expected), hint) pairs tried before the general hint.
    traps: tuple[tuple[Callable[[Any, Any], bool], str], ...] = field(default=())
    #: How to show the right answer once it is found (defaults to repr).
    explain: Callable[[Any], str] | None = None

    @property
    def lesson(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass(frozen=True)
class CheckResult:
    """What `check` returns: passed or not, and what to tell the learner."""

    exercise: str
    passed: bool
    message: str
    hint: str | None = None

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "✓ correct" if self.passed else "✗ not yet"
        lines = [f"{mark} ({self.exercise}): {self.message}"]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour, mark = ("#1a7f37", "✓ correct") if self.passed else ("#9a6700", "✗ not yet")
        hint = f"<div><b>hint:</b> {html.escape(self.hint)}</div>" if self.hint is not None else ""
        return (
            f'<div style="border-left:4px solid {colour};padding:4px 10px">'
            f'<b style="color:{colour}">{mark}</b> <small>({html.escape(self.exercise)})</small> '
            f"{html.escape(self.message)}{hint}</div>"
        )


def is_placeholder(answer: Any) -> bool:
    """``...`` (or nothing) is where the learner has not answered yet."""
    return answer is Ellipsis or answer is None


def check_one(exercise: Exercise, answer: Any) -> CheckResult:
    """Check ``answer`` against ``exercise`` (see the module docstring); strict mode raises."""
    if is_placeholder(answer):
        result = CheckResult(
            exercise.id,
            False,
            "replace the ... with your answer (a value, or code that computes it), "
            "then run the cell again.",
            exercise.hint,
        )
    else:
        try:
            expected = exercise.expected()
        except Exception as exc:  # the cluster is down, the lesson's topic is gone, ...
            result = CheckResult(
                exercise.id,
                False,
                f"could not read the right answer from the cluster ({exc}); run the lesson's "
                "cells above this one first (%kafka cluster up starts the cluster).",
                None,
            )
        else:
            if exercise.compare(answer, expected):
                shown = exercise.explain(expected) if exercise.explain else repr(expected)
                result = CheckResult(exercise.id, True, f"{shown}.")
            else:
                hint = next(
                    (text for trap, text in exercise.traps if _safe(trap, answer, expected)),
                    exercise.hint,
                )
                result = CheckResult(exercise.id, False, f"{answer!r} is not it.", hint)
    if not result.passed and os.environ.get(STRICT_ENV, "") not in ("", "0"):
        raise ExerciseFailed(repr(result))
    return result


def _safe(test: Callable[[Any, Any], bool], answer: Any, expected: Any) -> bool:
    try:
        return bool(test(answer, expected))
    except Exception:
        return False


class Registry:
    """Every exercise of the course by id."""

    def __init__(self) -> None:
        self._exercises: dict[str, Exercise] = {}

    def add(self, *exercises: Exercise) -> None:
        for ex in exercises:
            if ex.id in self._exercises:
                raise ValueError(f"exercise {ex.id} is defined twice")
            self._exercises[ex.id] = ex

    def get(self, exercise_id: str) -> Exercise:
        key = str(exercise_id).strip()
        try:
            return self._exercises[key]
        except KeyError:
            known = ", ".join(sorted(self._exercises)) or "none"
            raise KeyError(f"no exercise {key!r}; the course has {known}") from None

    def __iter__(self) -> Iterable[Exercise]:  # type: ignore[override]
        return iter(sorted(self._exercises.values(), key=lambda e: e.id))

    def of_lesson(self, lesson: str) -> list[Exercise]:
        return [e for e in self if e.lesson == lesson]


registry = Registry()
