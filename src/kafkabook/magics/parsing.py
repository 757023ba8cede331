"""Argument parsing for the magics: argparse that raises IPython's UsageError, never exits.

>>> parser = MagicParser(prog="%kafka cluster", example="%kafka cluster up --brokers 3")
>>> _ = parser.add_argument("--brokers", type=int)
>>> parser.parse_args(["--brokers", "x"])
Traceback (most recent call last):
...
IPython.core.error.UsageError: argument --brokers: invalid int value: 'x' (see ... --help)
"""

from __future__ import annotations

import argparse
import codecs
import os
import re
import shlex
from collections.abc import Sequence
from typing import Any, NoReturn

from IPython.core.error import UsageError

DEBUG_FLAG = "--debug"
DEBUG_ENV = "KAFKABOOK_DEBUG"


class HelpRequested(Exception):
    """``--help`` was given: carries the help text, which the magic returns instead of printing."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class Help:
    """Help text as a result: plain text in a terminal, preformatted in Jupyter."""

    def __init__(self, text: str) -> None:
        self.text = text.rstrip("\n")

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.text)}</pre>"


class MagicParser(argparse.ArgumentParser):
    """An ArgumentParser for one magic or subcommand, with a usage example in its help."""

    def __init__(self, *args: Any, example: str | None = None, **kwargs: Any) -> None:
        if example:
            kwargs["epilog"] = "example:\n" + "\n".join(f"  {line}" for line in example.split("\n"))
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        # Name an unknown flag before argparse complains about a missing required one.
        for token in args or ():
            flag = token.split("=", 1)[0]
            if re.match(r"--?[A-Za-z]", flag) and flag not in self._option_string_actions:
                self.error(f"unrecognized argument {flag}")
        return super().parse_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageError(message.strip())
        raise HelpRequested(self.format_help())

    def print_help(self, file: Any = None) -> None:
        raise HelpRequested(self.format_help())


def split_line(line: str) -> tuple[list[str], bool]:
    """Split a magic's line like a shell, keeping backslashes (``'\\t'`` stays two characters,
    `unescape` turns it into a TAB), and take ``--debug`` out wherever it is.

    >>> split_line("topics --create --topic 'my topic' --debug")
    (['topics', '--create', '--topic', 'my topic'], True)
    """
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    lexer.commenters = ""
    try:
        argv = list(lexer)
    except ValueError as exc:
        raise UsageError(f"cannot split the arguments: {exc} (a quote is not closed?)") from None
    debug = DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    return [a for a in argv if a != DEBUG_FLAG], debug


def unescape(text: str) -> str:
    r"""Turn ``\t``, ``\n``, ``\\`` and the like into the characters (for separators).

    >>> unescape(r"\t"), unescape("|")
    ('\t', '|')
    """
    if "\\" not in text:
        return text
    try:
        return codecs.decode(text, "unicode_escape")
    except UnicodeDecodeError as exc:
        raise UsageError(f"bad escape in {text!r}: {exc.reason}") from None


def key_value(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` for ``--config``/``--property`` (argparse type).

    >>> key_value("retention.ms=1000")
    ('retention.ms', '1000')
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value


def key_values(items: Sequence[tuple[str, str]] | None) -> dict[str, str]:
    """Repeated ``KEY=VALUE`` options as a dict (the last one wins)."""
    return dict(items or [])


def comma_list(text: str) -> list[str]:
    """Split ``a=1,b=[x,y],c=3`` on commas outside square brackets (kafka-configs' syntax).

    >>> comma_list("a=1,b=[x,y],c=3")
    ['a=1', 'b=x,y', 'c=3']
    """
    items, depth, current = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
            continue
        if ch == "]":
            depth = max(depth - 1, 0)
            continue
        if ch == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return [i.strip() for i in items if i.strip()]


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be 1 or more, not 0")
    return value


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value
