"""Argument parsing of every magic, without a cluster: UsageError, never SystemExit."""

from __future__ import annotations

import argparse
import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.error import UsageError

from kafkabook.magics import run_magic
from kafkabook.magics.cmd import broker, cluster, configs, consume, groups, produce, topics
from kafkabook.magics.parsing import (
    Help,
    HelpRequested,
    MagicParser,
    comma_list,
    key_value,
    split_line,
    unescape,
)


def test_split_line_keeps_backslashes_and_takes_out_debug():
    assert split_line(r"orders --key-separator '\t' --debug") == (
        ["orders", "--key-separator", r"\t"],
        True,
    )
    assert split_line('a "b c" d') == (["a", "b c", "d"], False)
    with pytest.raises(UsageError, match="a quote is not closed"):
        split_line("topics --topic 'open")


def test_unescape_and_lists():
    assert unescape(r"\t") == "\t" and unescape("|") == "|" and unescape(r"a\nb") == "a\nb"
    assert comma_list("a=1, b=[x,y] ,c=") == ["a=1", "b=x,y", "c="]
    assert key_value("k=v=w") == ("k", "v=w")


@pytest.mark.parametrize(
    ("make", "argv", "message"),
    [
        (cluster.cluster_parser, ["sideways"], "invalid choice: 'sideways'"),
        (cluster.cluster_parser, ["up", "--brokers", "0"], "must be 1 or more"),
        (cluster.cluster_parser, ["up", "--backend", "k8s"], "invalid choice: 'k8s'"),
        (cluster.connect_parser, [], "the following arguments are required: BOOTSTRAP"),
        (cluster.connect_parser, ["h:1", "--config", "novalue"], "'novalue' is not KEY=VALUE"),
        (topics.parser, ["--list", "--describe"], "not allowed with argument"),
        (topics.parser, ["--create", "--partitions", "x"], "'x' is not a whole number"),
        (
            topics.parser,
            ["--list", "--bootstrap-server", "h:1"],
            "unrecognized argument --bootstrap-server",
        ),
        (groups.parser, ["--reset-offsets", "--to-earliest", "--to-latest"], "not allowed with"),
        (groups.parser, ["--list", "--shift-by", "x"], "'x' is not a whole number"),
        (configs.parser, ["--describe"], "required: --entity-type"),
        (broker.parser, ["kill"], "required: ID"),
        (broker.parser, ["kill", "-1"], "must be 0 or more"),
        (consume.parser, ["t", "--timeout", "0"], "must be more than 0 seconds"),
        (produce.parser, ["t", "--acks", "2"], "invalid choice: '2'"),
    ],
)
def test_bad_arguments_are_usage_errors(make, argv, message):
    with pytest.raises(UsageError, match=message) as info:
        make().parse_args(argv)
    assert "--help" in str(info.value)


def test_good_arguments():
    args = groups.parser().parse_args(
        ["--reset-offsets", "--group", "g", "--topic", "t:0,1", "--shift-by", "-2", "--execute"]
    )
    assert (args.group, args.topic, args.shift_by, args.execute) == ("g", "t:0,1", -2, True)
    args = consume.parser().parse_args(
        ["t", "--offset", "latest", "--partition", "0", "--property", "print.key=true"]
    )
    assert (args.offset, args.partition, args.property) == ("latest", 0, [("print.key", "true")])


def test_help_is_returned_not_printed(capsys):
    result = run_magic(lambda argv: topics.run(argv), "--help")
    assert isinstance(result, Help) and repr(result).startswith("usage: %kafka topics")
    assert "<pre>" in result._repr_html_()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("fn", "line", "message"),
    [
        (topics.run, "--alter --topic t", "--alter needs --partitions"),
        (topics.run, "--delete", "--delete needs --topic"),
        (groups.run, "--describe", "this needs --group G"),
        (groups.run, "--reset-offsets --group g", "--reset-offsets needs --topic"),
        (groups.run, "--reset-offsets --group g --topic t", "needs one of --to-earliest"),
        (groups.run, "--reset-offsets --group g --topic t:x --to-latest", "partitions are whole"),
        (configs.run, "--describe --entity-type topics", "this needs --entity-name"),
        (configs.run, "--alter --entity-type topics --entity-name t", "--alter needs --add-config"),
        (configs.run, "--describe --entity-type topics --entity-default", "is for --entity-type"),
        (
            configs.run,
            "--alter --entity-type topics --entity-name t --add-config nokv",
            "is not KEY=VALUE",
        ),
        (cluster.cluster, "status --brokers 3", "--brokers goes with `cluster up`"),
        (
            topics.run,
            "--create --topic t --if-exists",
            "--if-exists goes with --alter, --delete or --describe, not --create",
        ),
        (topics.run, "--list --if-exists", "--if-exists goes with .* not --list"),
        (topics.run, "--delete --topic t --if-not-exists", "--if-not-exists goes with --create"),
    ],
)
def test_flag_combinations_are_checked_before_any_request(fn, line, message):
    with pytest.raises(UsageError, match=message):
        run_magic(fn, line)


def test_unexpected_errors_become_one_line_unless_debug():
    def boom(argv):
        raise ZeroDivisionError("oops")

    from kafkabook.api.errors import KafkabookError

    with pytest.raises(KafkabookError, match=r"unexpected ZeroDivisionError: oops \(add --debug"):
        run_magic(boom, "x")
    with pytest.raises(ZeroDivisionError):
        run_magic(boom, "x --debug")


def test_if_exists_and_if_not_exists_parse():
    args = topics.parser().parse_args(["--delete", "--topic", "t", "--if-exists"])
    assert (args.delete, args.topic, args.if_exists, args.if_not_exists) == (True, "t", True, False)
    args = topics.parser().parse_args(["--create", "--topic", "t", "--if-not-exists"])
    assert (args.create, args.if_not_exists, args.if_exists) == (True, True, False)


# -- properties (hypothesis) -------------------------------------------------------------------

PARSERS = [
    cluster.cluster_parser,
    cluster.connect_parser,
    topics.parser,
    groups.parser,
    configs.parser,
    broker.parser,
    consume.parser,
    produce.parser,
]


def _flags(make) -> list[str]:
    return [f for f in make()._option_string_actions if f.startswith("--")]


_ALL_FLAGS = sorted({flag for make in PARSERS for flag in _flags(make)} - {"--help"})
# Tokens a person might type: the magics' flags, values, numbers, near-misses and noise.
_TOKENS = st.one_of(
    st.sampled_from(_ALL_FLAGS),
    st.sampled_from(["up", "down", "status", "kill", "start", "orders", "orders:0,1", "all"]),
    st.integers(-5, 5).map(str),
    st.sampled_from(["--", "-", "-x", "--bogus", "--topic=", "k=v", "=v", "k="]),
    st.text(max_size=8),
)


@given(st.lists(st.text(max_size=12), max_size=6))
def test_split_line_gives_back_shell_quoted_tokens(tokens):
    line = " ".join(shlex.quote(t) for t in tokens)
    assert split_line(line) == ([t for t in tokens if t != "--debug"], "--debug" in tokens)


@given(st.sampled_from(PARSERS), st.lists(_TOKENS, max_size=8))
def test_any_argument_list_parses_or_is_a_usage_error(make, argv):
    """Never SystemExit, never a traceback: a Namespace, the help, or a one-line UsageError."""
    try:
        result = make().parse_args(argv)
    except UsageError as exc:
        assert "\n" not in str(exc).strip()
    except HelpRequested:
        pass
    else:
        assert isinstance(result, argparse.Namespace)


@given(st.text(alphabet=st.characters(blacklist_characters="\\"), max_size=10))
def test_unescape_leaves_text_without_backslashes(text):
    assert unescape(text) == text


def test_magic_parser_never_exits():
    parser = MagicParser(prog="%x")
    parser.add_argument("n", type=int)
    with pytest.raises(UsageError):
        parser.parse_args([])
    with pytest.raises(HelpRequested):
        parser.parse_args(["--help"])
