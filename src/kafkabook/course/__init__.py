"""The course's helpers: start a lesson on a clean slate, and check its exercises.

    import kafkabook as kb
    import kafkabook.course                  # makes kb.course available
    kb.course.begin("03")                    # whole cluster, and this lesson's topics gone
    kb.course.check("03.2", answer)          # ✓ or a hint
    kb.course.solution("03.2")               # the worked answer, when stuck

Every right answer is read from the running cluster at the moment of the check (see
`kafkabook.course.catalog`), never stored in the course.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

# Importing the catalogue registers every lesson's exercises with `registry`: without it,
# kb.course.check knows none of them unless something else happened to import it first.
from kafkabook.course import catalog as _catalog  # noqa: F401
from kafkabook.course.checker import (
    STRICT_ENV,
    CheckResult,
    Exercise,
    ExerciseFailed,
    check_one,
    registry,
)

__all__ = [
    "LESSONS",
    "STRICT_ENV",
    "CheckResult",
    "Exercise",
    "ExerciseFailed",
    "Lesson",
    "begin",
    "check",
    "exercises",
    "hint",
    "solution",
]


@dataclass(frozen=True)
class Lesson:
    """A notebook of the course and the topics and groups it makes (removed by `begin`)."""

    number: str
    notebook: str
    title: str
    topics: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


LESSONS: dict[str, Lesson] = {
    lesson.number: lesson
    for lesson in (
        Lesson(
            "01",
            "01-topics-partitions-offsets.ipynb",
            "Topics, partitions and offsets",
            topics=("parcel-scans",),
        ),
        Lesson(
            "02",
            "02-producers-keys-hashing.ipynb",
            "Producers, keys and key hashing",
            topics=("orders", "orders-rdkafka", "clicks", "clicks-rdkafka"),
        ),
        Lesson(
            "03",
            "03-consumers-deserialization.ipynb",
            "Consumers, deserializers and poison pills",
            topics=("readings", "shipments", "shipments-dlq"),
        ),
        Lesson(
            "04",
            "04-consumer-groups-offsets.ipynb",
            "Consumer groups and committed offsets",
            topics=("rides",),
            groups=("dispatch", "billing", "audit"),
        ),
        Lesson(
            "05",
            "05-delivery-semantics.ipynb",
            "Delivery semantics: auto-commit, at-most-once, at-least-once, idempotence",
            topics=(
                "payments",
                "ledger-at-most-once",
                "ledger-at-least-once",
                "dup-plain",
                "dup-idem",
            ),
            groups=("pay-at-most-once", "pay-at-least-once", "pay-auto"),
        ),
        Lesson(
            "06",
            "06-replication-isr-acks.ipynb",
            "Brokers, replication, ISR and acks",
            topics=("accounts",),
        ),
        Lesson(
            "07",
            "07-failover.ipynb",
            "Failover on a 3-broker cluster",
            topics=("telemetry",),
        ),
        Lesson(
            "08",
            "08-kraft-controller.ipynb",
            "KRaft and the controller",
            topics=("audit-log", "during-outage"),
        ),
        Lesson(
            "09",
            "09-quickstart-console-tools.ipynb",
            "The quickstart, with the console tools' syntax",
            topics=("quickstart-events", "demo-3-partitions", "my-replicated-topic"),
            groups=("consumer-group1", "consumer-group2", "group1", "group2"),
        ),
        Lesson(
            "10",
            "10-kafka-vs-queues.ipynb",
            "Kafka compared with RabbitMQ and ActiveMQ",
            topics=("print-jobs",),
            groups=("printers", "archive"),
        ),
    )
}


def _lesson(number: Any) -> Lesson:
    key = f"{int(number):02d}" if str(number).strip().isdigit() else str(number)
    try:
        return LESSONS[key]
    except KeyError:
        raise KeyError(f"no lesson {number!r}; the course has {', '.join(LESSONS)}") from None


class Started:
    """What `begin` did, one line per action (plain text and HTML)."""

    def __init__(self, lesson: Lesson, lines: list[str]) -> None:
        self.lesson = lesson
        self.lines = lines

    def __repr__(self) -> str:
        return "\n".join([f"lesson {self.lesson.number}: {self.lesson.title}", *self.lines])

    def _repr_html_(self) -> str:
        import html

        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
        return (
            f"<b>lesson {self.lesson.number}: {html.escape(self.lesson.title)}</b><ul>{items}</ul>"
        )


def _heal(lines: list[str]) -> None:
    """Start (or resume) every node that an earlier lesson left down, controller first."""
    import kafkabook as kb

    status = kb.cluster_status().status
    for node in sorted(status.nodes, key=lambda n: (n.role != "controller", n.node_id)):
        if node.state == "paused":
            kb.broker.resume(node.node_id)
            lines.append(f"resumed node {node.node_id}, which was paused")
        elif node.state != "running":
            kb.broker.start(node.node_id)
            lines.append(f"started node {node.node_id}, which was {node.state}")


def _wait_all_in_sync(timeout: float = 30.0) -> None:
    """Wait until every partition has a leader and a full ISR (after healing)."""
    import kafkabook as kb

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = kb.topics.describe()
        if all(
            p.leader >= 0 and set(p.isr) == set(p.replicas)
            for t in described.topics
            for p in t.partitions
        ):
            return
        time.sleep(0.25)


def begin(number: Any) -> Started:
    """Get ready for lesson ``number``: a whole, healthy cluster and none of its topics or groups.

    Run it at the top of each lesson (after ``%kafka cluster up``), so that the lesson can be
    run again from the start and lessons can be taken in any order. It starts brokers an earlier
    lesson left down, then deletes this lesson's topics and consumer groups if they exist.
    """
    import kafkabook as kb

    lesson = _lesson(number)
    lines: list[str] = []
    _heal(lines)
    if lines:
        _wait_all_in_sync()
    existing = set(kb.topics.list())
    for topic in lesson.topics:
        if topic in existing:
            kb.topics.delete(topic)
            lines.append(f"deleted topic {topic} (from an earlier run)")
    if lesson.groups:
        known = set(kb.groups.list())
        for group_id in lesson.groups:
            if group_id in known:
                # A group with live members (a consumer of an interrupted run) cannot be
                # deleted; its members time out on their own and the lesson still works.
                with contextlib.suppress(Exception):
                    kb.groups.delete(group_id)
                    lines.append(f"deleted consumer group {group_id} (from an earlier run)")
    if not lines:
        lines.append("the cluster is whole and this lesson starts from scratch")
    return Started(lesson, lines)


def check(exercise_id: str, answer: Any) -> CheckResult:
    """Check your answer to exercise ``exercise_id`` ("LL.N") against the running cluster."""

    return check_one(registry.get(exercise_id), answer)


class Shown:
    """Text shown as is (preformatted in Jupyter)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.text)}</pre>"


def solution(exercise_id: str) -> Shown:
    """The worked solution of an exercise: code that computes the answer from the cluster."""

    ex = registry.get(exercise_id)
    return Shown(f"# {ex.id}: {ex.question}\n{ex.solution.strip()}")


def hint(exercise_id: str) -> Shown:
    """The general hint of an exercise."""

    ex = registry.get(exercise_id)
    return Shown(f"{ex.id}: {ex.hint}")


def exercises(number: Any | None = None) -> list[Exercise]:
    """The exercises of one lesson, or of the whole course."""

    if number is None:
        return list(registry)
    return registry.of_lesson(_lesson(number).number)
