"""One-line errors: what went wrong and the way out, never a traceback unless asked for.

Everything the API raises on purpose is a `KafkabookError` (or the backends' `BackendError`).
IPython shows a `KafkabookError` as one line through `_render_traceback_`; set
``error.show_traceback = True`` (what ``--debug`` does) to get the full traceback back.

>>> raise KafkabookError("topic 'orders' does not exist: %kafka topics --list shows the topics")
Traceback (most recent call last):
...
kafkabook.api.errors.KafkabookError: topic 'orders' does not exist: %kafka topics --list ...
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from kafkabook.backends.base import BackendError
from kafkabook.protocol.errors import ErrorCode

P = ParamSpec("P")
R = TypeVar("R")


class KafkabookError(Exception):
    """A user-facing error whose message is one line naming the problem and the way out.

    >>> str(KafkabookError("no cluster: %kafka cluster up starts one"))
    'no cluster: %kafka cluster up starts one'
    """

    show_traceback = False

    def _render_traceback_(self) -> list[str]:
        if self.show_traceback:
            return _full_traceback(self)
        return [f"error: {self}"]


class KafkaRequestError(KafkabookError):
    """Kafka answered a request with an error code; ``code`` is the kio `ErrorCode`.

    >>> KafkaRequestError(ErrorCode.unknown_topic_or_partition, "no such topic").name
    'UNKNOWN_TOPIC_OR_PARTITION'
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def name(self) -> str:
        return error_name(self.code)


def error_name(code: ErrorCode | int) -> str:
    """Kafka's spelling of an error code: ``INVALID_REPLICATION_FACTOR``.

    >>> error_name(38)
    'INVALID_REPLICATION_FACTOR'
    """
    try:
        return ErrorCode(int(code)).name.upper().removesuffix("_EXCEPTION")
    except ValueError:
        return f"ERROR_{int(code)}"


def check(code: ErrorCode | int, what: str, message: str | None = None) -> None:
    """Raise `KafkaRequestError` for a non-zero error code; ``what`` names the request's target.

    >>> check(0, "topic orders")
    >>> check(36, "topic orders", "Topic 'orders' already exists.")
    Traceback (most recent call last):
    ...
    kafkabook.api.errors.KafkaRequestError: topic orders: TOPIC_ALREADY_EXISTS (Topic 'orders' ...
    """
    if int(code) == 0:
        return
    name = error_name(code)
    detail = f" ({message})" if message and message != name else ""
    raise KafkaRequestError(ErrorCode(int(code)), f"{what}: {name}{detail}")


def _full_traceback(exc: BaseException) -> list[str]:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython is a dependency
        shell = None
    if shell is not None:
        return shell.InteractiveTB.structured_traceback(type(exc), exc, exc.__traceback__)
    import traceback

    return traceback.format_exception(exc)


def magic_hints(text: str) -> str:
    """Backends suggest terminal commands (`kafkabook broker start 2`); in a notebook the
    same thing is a magic.

    >>> magic_hints("broker 2 is not running: `kafkabook broker start 2` starts it")
    'broker 2 is not running: %kafka broker start 2 starts it'
    """
    return re.sub(r"`kafkabook ([^`]*)`", r"%kafka \1", text)


def one_line(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a public API function: a backend's error comes out as a `KafkabookError`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except BackendError as exc:
            error = KafkabookError(magic_hints(str(exc)))
            for note in getattr(exc, "__notes__", ()):
                error.add_note(note)
            raise error from exc

    return wrapper
