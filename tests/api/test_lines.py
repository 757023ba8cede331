"""The console producer's line grammar (kafkabook.api.lines), checked against Kafka's rules."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kafkabook.api.lines import (
    FormatError,
    LineError,
    LineFormat,
    ProducerRecord,
    format_line,
    parse_line,
    parse_lines,
)

# -- Kafka's defaults and messages -------------------------------------------------------------


def test_defaults_are_kafkas():
    fmt = LineFormat()
    assert (fmt.key_separator, fmt.headers_delimiter) == ("\t", "\t")
    assert (fmt.headers_separator, fmt.headers_key_separator) == (",", ":")
    assert not fmt.parse_key and not fmt.parse_headers and not fmt.ignore_error
    assert fmt.null_marker is None


def test_plain_line_is_the_value():
    assert parse_line("a\tb|c", 1, LineFormat()) == ProducerRecord(b"a\tb|c")


def test_key_splits_at_the_first_separator():
    fmt = LineFormat(parse_key=True)
    assert parse_line("k\tv\tw", 1, fmt) == ProducerRecord(b"v\tw", key=b"k")


def test_the_seeds_example_line():
    fmt = LineFormat.from_properties(
        {
            "parse.key": "true",
            "parse.headers": "true",
            "key.separator": "|",
            "headers.delimiter": ";",
            "headers.separator": ",",
            "headers.key.separator": ":",
        }
    )
    record = parse_line("headerA:someval1,headerB:someotherval1;myKey1|Hello from line 1", 1, fmt)
    assert record.key == b"myKey1"
    assert record.value == b"Hello from line 1"
    assert record.headers == (("headerA", b"someval1"), ("headerB", b"someotherval1"))


def test_missing_headers_delimiter_names_line_and_text():
    fmt = LineFormat(parse_headers=True, headers_delimiter=";")
    with pytest.raises(LineError) as info:
        parse_line("asdf-asdf-asdf-asdfasdf", 296, fmt)
    message = str(info.value)
    assert message.startswith("line 296: no headers delimiter ';' in 'asdf-asdf-asdf-asdfasdf'")
    assert "ignore.error=true" in message
    assert info.value.number == 296


def test_missing_key_separator():
    with pytest.raises(LineError, match=r"line 3: no key separator TAB in 'abc'"):
        parse_line("abc", 3, LineFormat(parse_key=True))


def test_header_without_key_separator():
    fmt = LineFormat(parse_headers=True, headers_delimiter=";")
    with pytest.raises(LineError, match="no header key separator ':' in header 'solo'"):
        parse_line("a:1,solo;value", 1, fmt)


def test_ignore_error_sends_what_kafka_sends():
    fmt = LineFormat(parse_key=True, parse_headers=True, headers_delimiter=";", ignore_error=True)
    # no headers delimiter: no headers; no key separator: null key; the rest is the value
    assert parse_line("just a value", 1, fmt) == ProducerRecord(b"just a value")
    # a header without its key separator gets a null value
    assert parse_line("solo;k\tv", 1, fmt).headers == (("solo", None),)


def test_null_marker():
    fmt = LineFormat(parse_key=True, parse_headers=True, headers_delimiter=";", null_marker="NULL")
    record = parse_line("h:NULL;NULL\tNULL", 1, fmt)
    assert record == ProducerRecord(None, key=None, headers=(("h", None),))
    assert parse_line("NULL;k\tv", 1, fmt).headers == ()
    with pytest.raises(LineError, match="header key equals the null marker"):
        parse_line("NULL:x;k\tv", 1, fmt)


def test_trailing_header_separators_are_dropped_like_javas_split():
    fmt = LineFormat(parse_headers=True, headers_delimiter=";")
    assert parse_line("a:1,,;v", 1, fmt).headers == (("a", b"1"),)
    with pytest.raises(LineError):
        parse_line(";v", 1, fmt)  # one empty header pair has no key separator


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"headers.delimiter": ",", "headers.separator": ","},
            "headers.delimiter and headers.separator may not be equal",
        ),
        (
            {"headers.delimiter": ":"},
            "headers.delimiter and headers.key.separator may not be equal",
        ),
        (
            {"headers.separator": ":"},
            "headers.separator and headers.key.separator may not be equal",
        ),
        ({"null.marker": "\t"}, "null.marker and key.separator may not be equal"),
        ({"null.marker": ",", "key.separator": "|"}, "null.marker and headers.separator"),
        ({"key.separator": ""}, "key.separator may not be empty"),
        ({"parse.kee": "true"}, "unknown property 'parse.kee'"),
    ],
)
def test_contradictory_properties_are_refused(props, message):
    with pytest.raises(FormatError, match=message):
        LineFormat.from_properties(props)


def test_parse_lines_skips_blank_lines_and_counts_them():
    parsed = parse_lines("k\tv\n\n  \nbad\nk2\tv2\r\n", LineFormat(parse_key=True))
    assert [r.key for r in parsed.records] == [b"k", b"k2"]
    assert parsed.line_numbers == (1, 5)
    assert [e.number for e in parsed.errors] == [4]
    with pytest.raises(LineError, match=r"line 4: .* nothing was sent"):
        parsed.raise_first()


def test_raise_first_counts_the_others():
    parsed = parse_lines("a\nb\nc", LineFormat(parse_key=True))
    with pytest.raises(LineError, match="2 more bad lines; nothing was sent"):
        parsed.raise_first()


def test_properties_round_trip():
    fmt = LineFormat(parse_key=True, key_separator="|", null_marker="~")
    assert LineFormat.from_properties(fmt.properties()) == fmt


# -- properties of the grammar (hypothesis) -----------------------------------------------------

SEPARATORS = st.sampled_from(["\t", "|", ";", ",", ":", "=>", "::", "#", " "])
DISJOINT_SEPARATORS = ["\t", "|", ";", ",", "::", "=>", "#", " "]
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=20)


@st.composite
def formats(draw, disjoint=True):
    # Separators that share a character make the grammar ambiguous (Kafka's too: with "::"
    # and ":" a header value ending in ":" moves the delimiter), so round trips draw four
    # distinct ones from a set without shared characters (drawing freely and rejecting the
    # clashes threw most examples away and tripped Hypothesis' health check under load).
    if disjoint:
        key, delimiter, separator, key_separator = draw(st.permutations(DISJOINT_SEPARATORS))[:4]
    else:
        key, delimiter, separator, key_separator = (draw(SEPARATORS) for _ in range(4))
    props = {
        "parse.key": draw(st.sampled_from(["true", "false"])),
        "parse.headers": draw(st.sampled_from(["true", "false"])),
        "key.separator": key,
        "headers.delimiter": delimiter,
        "headers.separator": separator,
        "headers.key.separator": key_separator,
    }
    if draw(st.booleans()):
        props["null.marker"] = draw(st.sampled_from(["NULL", "<null>", "~"]))
    try:
        return LineFormat.from_properties(props)
    except FormatError:
        assume(False)


@st.composite
def records(draw, fmt):
    def text(*, nullable=True):
        if nullable and fmt.null_marker is not None and draw(st.booleans()):
            return None
        return draw(TEXT).encode()

    headers = ()
    if fmt.parse_headers:
        headers = tuple((draw(TEXT), text()) for _ in range(draw(st.integers(1, 3))))
    key = text() if fmt.parse_key else None
    return ProducerRecord(value=text(), key=key, headers=headers)


@given(data=st.data())
def test_format_then_parse_gives_the_record_back(data):
    fmt = data.draw(formats())
    record = data.draw(records(fmt))
    try:
        line = format_line(record, fmt)
    except ValueError:
        assume(False)  # a separator inside a field: the line grammar cannot carry it
    assert parse_line(line, 1, fmt) == record


@given(fmt=formats(disjoint=False), line=TEXT)
def test_parse_only_raises_line_errors(fmt, line):
    try:
        record = parse_line(line, 7, fmt)
    except LineError as exc:
        assert exc.number == 7 and exc.line == line
        assert str(exc).startswith("line 7: ")
        return
    # Whatever parsed is made of pieces of the line, in order.
    pieces = [record.value, record.key] + [v for _, v in record.headers]
    for piece in pieces:
        if piece is not None:
            assert piece.decode() in line


@given(fmt=formats(), line=TEXT)
def test_ignore_error_never_fails_on_missing_separators(fmt, line):
    lenient = LineFormat(**{**fmt.__dict__, "ignore_error": True})
    try:
        parse_line(line, 1, lenient)
    except LineError as exc:
        # The only error Kafka keeps even then: a header key equal to the null marker.
        assert "null marker" in str(exc)


@given(fmt=formats(), lines=st.lists(TEXT, max_size=8))
def test_parse_lines_accounts_for_every_non_blank_line(fmt, lines):
    parsed = parse_lines("\n".join(lines), fmt)
    non_blank = [i + 1 for i, line in enumerate(lines) if line.strip()]
    assert sorted(list(parsed.line_numbers) + [e.number for e in parsed.errors]) == non_blank
