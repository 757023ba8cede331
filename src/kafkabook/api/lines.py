"""The console producer's line grammar, as a pure function: text in, records or errors out.

One line is one record. With ``parse.headers=true`` the line starts with headers up to the
first ``headers.delimiter``; with ``parse.key=true`` the key runs from there up to the first
``key.separator``; the rest is the value::

    h1:v1,h2:v2<headers.delimiter>key<key.separator>value

The defaults are Kafka's (its ``LineMessageReader``): ``key.separator`` and ``headers.delimiter``
are a TAB, ``headers.separator`` is ``,`` and ``headers.key.separator`` is ``:``. A key, value or
header value equal to ``null.marker`` becomes null (a null value is a tombstone). A line without
the expected separator is an error naming its line number, unless ``ignore.error=true``: then,
as Kafka does, a missing key separator gives a null key and the whole rest as the value, a
missing headers delimiter gives no headers, and a header without its key separator gets a null
value. One difference from Kafka: ``headers.separator`` is a plain string here, where Kafka
compiles it as a regular expression. Blank lines are skipped (line numbers still count them).

>>> fmt = LineFormat(parse_key=True, key_separator="|")
>>> parse_line("k1|hello", 1, fmt)
ProducerRecord(value=b'hello', key=b'k1', headers=(), partition=None)
>>> parse_line("hello", 2, fmt)
Traceback (most recent call last):
...
kafkabook.api.lines.LineError: line 2: no key separator '|' in 'hello' ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kafkabook.api.errors import KafkabookError


@dataclass(frozen=True)
class ProducerRecord:
    """A record to send: value, key and headers as bytes (None is null), optional partition.

    >>> ProducerRecord(b"v", key=b"k", headers=(("h", b"1"),)).key
    b'k'
    """

    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    partition: int | None = None


class FormatError(KafkabookError):
    """The properties contradict each other (Kafka refuses them at start-up too)."""


class LineError(KafkabookError):
    """One line of input does not parse; ``number`` is 1-based, ``line`` its text."""

    def __init__(self, number: int, line: str, problem: str, hint: str) -> None:
        super().__init__(f"line {number}: {problem} in {line!r} ({hint})")
        self.number = number
        self.line = line
        self.problem = problem
        self.hint = hint


_PROPERTY_FIELDS = {
    "parse.key": "parse_key",
    "key.separator": "key_separator",
    "parse.headers": "parse_headers",
    "headers.delimiter": "headers_delimiter",
    "headers.separator": "headers_separator",
    "headers.key.separator": "headers_key_separator",
    "null.marker": "null_marker",
    "ignore.error": "ignore_error",
}
_BOOLEANS = {"parse.key", "parse.headers", "ignore.error"}


def _show(text: str) -> str:
    return "TAB" if text == "\t" else repr(text)


@dataclass(frozen=True)
class LineFormat:
    """The console producer's reader properties (Kafka's names with dots, here underscores).

    >>> LineFormat.from_properties({"parse.key": "true", "key.separator": "|"}).key_separator
    '|'
    """

    parse_key: bool = False
    key_separator: str = "\t"
    parse_headers: bool = False
    headers_delimiter: str = "\t"
    headers_separator: str = ","
    headers_key_separator: str = ":"
    null_marker: str | None = None
    ignore_error: bool = False
    extra: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in (
            "key_separator",
            "headers_delimiter",
            "headers_separator",
            "headers_key_separator",
        ):
            if getattr(self, name) == "":
                prop = name.replace("_", ".")
                raise FormatError(
                    f"{prop} may not be empty: give it one or more characters, "
                    f"e.g. --property {prop}='|'"
                )
        pairs = [
            (
                "headers.delimiter",
                self.headers_delimiter,
                "headers.separator",
                self.headers_separator,
            ),
            (
                "headers.delimiter",
                self.headers_delimiter,
                "headers.key.separator",
                self.headers_key_separator,
            ),
            (
                "headers.separator",
                self.headers_separator,
                "headers.key.separator",
                self.headers_key_separator,
            ),
        ]
        if self.null_marker is not None:
            pairs += [
                ("null.marker", self.null_marker, "key.separator", self.key_separator),
                ("null.marker", self.null_marker, "headers.separator", self.headers_separator),
                ("null.marker", self.null_marker, "headers.delimiter", self.headers_delimiter),
                (
                    "null.marker",
                    self.null_marker,
                    "headers.key.separator",
                    self.headers_key_separator,
                ),
            ]
        for a, va, b, vb in pairs:
            if va == vb:
                raise FormatError(
                    f"{a} and {b} may not be equal (both are {_show(va)}): "
                    f"set one of them to something else with --property {b}=..."
                )

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> LineFormat:
        """Build from ``--property`` values; unknown names are an error listing the known ones."""
        kwargs: dict[str, object] = {}
        for name, value in props.items():
            attr = _PROPERTY_FIELDS.get(name)
            if attr is None:
                raise FormatError(
                    f"unknown property {name!r}: the console producer knows "
                    + ", ".join(_PROPERTY_FIELDS)
                )
            if name in _BOOLEANS:
                kwargs[attr] = str(value).strip().lower() == "true"
            else:
                kwargs[attr] = str(value)
        return cls(**kwargs)  # type: ignore[arg-type]

    def properties(self) -> dict[str, str]:
        """The inverse of `from_properties` (only what differs from the defaults)."""
        out = {}
        default = LineFormat()
        for prop, attr in _PROPERTY_FIELDS.items():
            value = getattr(self, attr)
            if value != getattr(default, attr):
                out[prop] = str(value).lower() if isinstance(value, bool) else str(value)
        return out


def _null(text: str, fmt: LineFormat) -> bytes | None:
    return None if fmt.null_marker is not None and text == fmt.null_marker else text.encode()


def _split_headers(
    text: str, number: int, line: str, fmt: LineFormat
) -> list[tuple[str, bytes | None]]:
    pieces = text.split(fmt.headers_separator)
    # Java's String.split drops trailing empty pieces; Kafka relies on that ("a:1," is one header).
    while len(pieces) > 1 and pieces[-1] == "":
        pieces.pop()
    headers = []
    for pair in pieces:
        key, sep, value = pair.partition(fmt.headers_key_separator)
        if not sep:
            if fmt.ignore_error:
                headers.append((pair, None))
                continue
            raise LineError(
                number,
                line,
                f"no header key separator {_show(fmt.headers_key_separator)} in header {pair!r}",
                f"write headers as KEY{fmt.headers_key_separator}VALUE"
                f"{fmt.headers_separator}..., or --property ignore.error=true",
            )
        if fmt.null_marker is not None and key == fmt.null_marker:
            raise LineError(
                number,
                line,
                f"header key equals the null marker {fmt.null_marker!r}",
                "header keys cannot be null",
            )
        headers.append((key, _null(value, fmt)))
    return headers


def parse_line(line: str, number: int, fmt: LineFormat) -> ProducerRecord:
    """Parse one line (without its newline) into a record; `LineError` if it does not parse."""
    rest = line
    headers: list[tuple[str, bytes | None]] = []
    if fmt.parse_headers:
        head, sep, tail = rest.partition(fmt.headers_delimiter)
        if sep:
            if fmt.null_marker is None or head != fmt.null_marker:
                headers = _split_headers(head, number, line, fmt)
            rest = tail
        elif not fmt.ignore_error:
            raise LineError(
                number,
                line,
                f"no headers delimiter {_show(fmt.headers_delimiter)}",
                f"start the line with HEADERS{fmt.headers_delimiter}..., set "
                "--property headers.delimiter=..., or --property ignore.error=true",
            )
    key: bytes | None = None
    if fmt.parse_key:
        head, sep, tail = rest.partition(fmt.key_separator)
        if sep:
            key = _null(head, fmt)
            rest = tail
        elif not fmt.ignore_error:
            raise LineError(
                number,
                line,
                f"no key separator {_show(fmt.key_separator)}",
                f"write KEY{fmt.key_separator}VALUE, set --key-separator, "
                "or --property ignore.error=true to send it with a null key",
            )
    return ProducerRecord(value=_null(rest, fmt), key=key, headers=tuple(headers))


@dataclass(frozen=True)
class ParsedLines:
    """What a block of text parses into: the records and the lines that failed."""

    records: tuple[ProducerRecord, ...]
    errors: tuple[LineError, ...]
    line_numbers: tuple[int, ...] = ()

    def raise_first(self) -> None:
        """Raise the first error as one line, counting the others."""
        if not self.errors:
            return
        first = self.errors[0]
        more = len(self.errors) - 1
        suffix = f"; {more} more bad line{'s' if more > 1 else ''}" if more else ""
        raise LineError(
            first.number, first.line, first.problem, f"{first.hint}{suffix}; nothing was sent"
        )


def parse_lines(text: str, fmt: LineFormat) -> ParsedLines:
    """Parse every non-blank line of ``text``; errors are collected, not raised.

    >>> parsed = parse_lines("a\\tb\\n\\nno-key\\n", LineFormat(parse_key=True))
    >>> [r.key for r in parsed.records], [e.number for e in parsed.errors]
    ([b'a'], [3])
    """
    records, errors, numbers = [], [], []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        try:
            records.append(parse_line(line, number, fmt))
            numbers.append(number)
        except LineError as exc:
            errors.append(exc)
    return ParsedLines(tuple(records), tuple(errors), tuple(numbers))


def format_line(record: ProducerRecord, fmt: LineFormat) -> str:
    """The line that parses back into ``record`` (what a console consumer could print).

    Raises ValueError when the record cannot be written in this format (a separator's
    character inside a key or header, a null where no null marker is set).

    >>> format_line(ProducerRecord(b"v", key=b"k"), LineFormat(parse_key=True, key_separator="|"))
    'k|v'
    """

    def text(value: bytes | None, forbidden: tuple[str, ...]) -> str:
        if value is None:
            if fmt.null_marker is None:
                raise ValueError("null needs a null.marker")
            return fmt.null_marker
        decoded = value.decode()
        if fmt.null_marker is not None and decoded == fmt.null_marker:
            raise ValueError("a value equal to the null marker would read back as null")
        # Any character of a separator inside a field could join with its neighbours into a
        # separator (":" + ":" next to "::"), so the grammar cannot carry it unambiguously.
        clash = {ch for sep in forbidden for ch in sep} & set(decoded)
        if clash:
            raise ValueError(f"{sorted(clash)[0]!r} inside {decoded!r}")
        return decoded

    parts = []
    if fmt.parse_headers:
        if not record.headers:
            raise ValueError("the grammar has no way to write zero headers")
        seps = (fmt.headers_delimiter, fmt.headers_separator, fmt.headers_key_separator)
        pairs = []
        for k, v in record.headers:
            key_text = text(k.encode(), seps)
            pairs.append(key_text + fmt.headers_key_separator + text(v, seps))
        parts.append(fmt.headers_separator.join(pairs) + fmt.headers_delimiter)
    if fmt.parse_key:
        parts.append(text(record.key, (fmt.key_separator,)) + fmt.key_separator)
    elif record.key is not None:
        raise ValueError("a key needs parse.key")
    parts.append(text(record.value, ()))
    return "".join(parts)


__all__ = [
    "FormatError",
    "LineError",
    "LineFormat",
    "ParsedLines",
    "ProducerRecord",
    "format_line",
    "parse_line",
    "parse_lines",
]
