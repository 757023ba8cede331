"""The same session of magics in terminal IPython (typed on its stdin) and in a notebook kernel
(nbclient), checking the text of every step; then what only a notebook shows (HTML, live
output).

The session covers every magic and subcommand: the cluster, topics (with --if-exists and
--if-not-exists), %%produce and %consume, groups, configs, breaking brokers until acks=all
meets NOT_ENOUGH_REPLICAS, admin calls straight after a restart, help, bad input, and a dead
cluster. Each run has a private cluster, since the session kills brokers and ends with
`cluster down`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from kafkabook.backends.base import BackendError


@dataclass(frozen=True)
class Step:
    name: str
    source: str  # one cell: a line, or a cell magic or block with its lines
    check: Callable[[list[str]], object]  # gets the step's non-blank output lines


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["KAFKABOOK_SESSION_FILE"] = str(tmp_path / "session.json")
    env.pop("KAFKABOOK_DEBUG", None)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def error_line(expected: str | re.Pattern[str]) -> Callable[[list[str]], None]:
    """The output is exactly one line: ``error: ...`` (a KafkabookError, no traceback)."""

    def check(lines: list[str]) -> None:
        assert len(lines) == 1, lines
        assert lines[0].startswith("error: "), lines
        text = lines[0].removeprefix("error: ")
        if isinstance(expected, re.Pattern):
            assert expected.fullmatch(text), text
        else:
            assert text == expected

    return check


def usage_error(expected: str) -> Callable[[list[str]], None]:
    def check(lines: list[str]) -> None:
        assert lines == [f"UsageError: {expected}"]

    return check


def exactly(*expected: str) -> Callable[[list[str]], None]:
    def check(lines: list[str]) -> None:
        assert lines == list(expected)

    return check


def broker_is(node: int, state: str) -> Callable[[list[str]], bool]:
    """The status table shows broker ``node`` in ``state``."""
    row = re.compile(rf"broker\s+{node}\s+127\.0\.0\.1:\d+\s+\S+\s+{state}")
    return lambda lines: any(row.fullmatch(line) for line in lines)


def session(data_dir: Path, topic: str, group: str, dead: str) -> list[Step]:
    t, g = topic, group
    wait_isr = textwrap.dedent(f"""\
        for _ in range(150):
            if all(len(p.isr) == 1 for p in kb.topics.describe("{t}")["{t}"].partitions):
                break
            time.sleep(0.2)
        else:
            print("the ISR never shrank")""")
    return [
        Step("load", "%load_ext kafkabook", exactly()),
        Step("up", f"%kafka cluster up --data-dir {data_dir}", lambda ls: "reattached" in ls[0]),
        Step(
            "status",
            "%kafka cluster status",
            lambda ls: len([line for line in ls if line.endswith("running")]) == 4,
        ),
        Step(
            "create",
            f"%kafka topics --create --topic {t} --partitions 2 --replication-factor 3 "
            "--config min.insync.replicas=2",
            exactly(f"Created topic {t}."),
        ),
        Step(
            "create-if-not-exists",
            f"%kafka topics --create --topic {t} --if-not-exists",
            exactly(f"Topic {t} already exists."),
        ),
        Step(
            "create-again",
            f"%kafka topics --create --topic {t}",
            error_line(
                f"topic '{t}' already exists: %kafka topics --describe --topic {t} shows it "
                "(--if-not-exists makes this a no-op)"
            ),
        ),
        Step("list", "%kafka topics --list", lambda ls: t in ls),
        Step(
            "describe",
            f"%kafka topics --describe --topic {t}",
            lambda ls: (
                len(ls) == 3
                and re.fullmatch(
                    rf"Topic: {t}\tTopicId: \S{{22}}\tPartitionCount: 2\tReplicationFactor: 3"
                    r"\tConfigs: min.insync.replicas=2",
                    ls[0],
                )
                and re.fullmatch(
                    rf"\tTopic: {t}\tPartition: 1\tLeader: \d\tReplicas: \d,\d,\d\tIsr: \d,\d,\d",
                    ls[2],
                )
            ),
        ),
        Step(
            "produce",
            f"%%produce {t} --key-separator '|'\nalice|book\nbob|pen",
            lambda ls: ls[0] == f"2 records to {t}" and len(ls) == 4,
        ),
        Step(
            "produce-bad-line",
            f"%%produce {t} --key-separator '|'\nno separator here",
            error_line(
                "line 1: no key separator '|' in 'no separator here' (write KEY|VALUE, set "
                "--key-separator, or --property ignore.error=true to send it with a null key; "
                "nothing was sent)"
            ),
        ),
        Step(
            "consume",
            f"%consume {t} --from-beginning --property print.key=true",
            lambda ls: sorted(ls) == ["alice\tbook", "bob\tpen"],
        ),
        Step(
            "consume-group",
            f"%consume {t} --group {g} --from-beginning --max-messages 2",
            lambda ls: sorted(ls) == ["book", "pen"],
        ),
        Step(
            "follow",
            f"%consume {t} --from-beginning --follow --max-messages 2",
            lambda ls: any(line.startswith(f"2 records from {t}") for line in ls),
        ),
        Step("groups-list", "%kafka groups --list", lambda ls: g in ls),
        Step(
            "groups-describe",
            f"%kafka groups --describe --group {g}",
            lambda ls: (
                ls[0] == f"Consumer group '{g}' has no active members."
                and ls[1].split()[:6]
                == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"]
                and sorted(line.split()[:3] for line in ls[2:]) == [[g, t, "0"], [g, t, "1"]]
            ),
        ),
        Step(
            "groups-reset-dry-run",
            f"%kafka groups --reset-offsets --group {g} --topic {t} --to-earliest",
            lambda ls: (
                ls[0] == "dry run: nothing changed (--execute applies it)"
                and ls[1].split() == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]
                and sorted(line.split() for line in ls[2:]) == [[g, t, "0", "0"], [g, t, "1", "0"]]
            ),
        ),
        Step(
            "groups-reset",
            f"%kafka groups --reset-offsets --group {g} --topic {t}:0 --to-latest --execute",
            lambda ls: (
                ls[0].split() == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"] and len(ls) == 2
            ),
        ),
        Step(
            "groups-delete",
            f"%kafka groups --delete --group {g}",
            exactly(f"Deletion of requested consumer groups ('{g}') was successful."),
        ),
        Step(
            "configs-alter",
            f"%kafka configs --alter --entity-type topics --entity-name {t} "
            "--add-config retention.ms=60000",
            exactly(f"Completed updating config for topic {t}."),
        ),
        Step(
            "configs-describe",
            f"%kafka configs --describe --entity-type topics --entity-name {t}",
            lambda ls: (
                ls[0] == f"Dynamic configs for topic {t} are:"
                and any(
                    line.strip().startswith("retention.ms=60000 sensitive=false") for line in ls
                )
            ),
        ),
        Step(
            "alter",
            f"%kafka topics --alter --topic {t} --partitions 3",
            exactly(f"Topic {t} now has 3 partitions."),
        ),
        Step(
            "kill-2",
            "%kafka broker kill 2",
            broker_is(2, "killed"),
        ),
        Step(
            "kill-3",
            "%kafka broker kill 3",
            broker_is(3, "killed"),
        ),
        Step("import", "import kafkabook as kb, time", exactly()),
        Step("wait-isr", wait_isr, exactly()),
        Step(
            "produce-not-enough-replicas",
            f"%%produce {t} --acks all --partition 0\nrefused",
            error_line(
                re.compile(
                    rf"NOT_ENOUGH_REPLICAS: topic '{t}' partition 0 has 1 in-sync replica but "
                    r"min.insync.replicas=2 needs 2, so acks=all cannot be met: start broker "
                    r"([23]) with %kafka broker start \1, or use --acks 1"
                )
            ),
        ),
        Step(
            "produce-acks-1",
            f"%%produce {t} --acks 1 --partition 0\nwritten by the leader alone",
            lambda ls: ls[0] == f"1 record to {t}",
        ),
        Step(
            "start-2",
            "%kafka broker start 2",
            broker_is(2, "running"),
        ),
        Step(
            "start-3",
            "%kafka broker start 3",
            broker_is(3, "running"),
        ),
        # Straight after the restarts: the admin client reconnects instead of failing.
        Step("delete", f"%kafka topics --delete --topic {t}", exactly(f"Deleted topic {t}.")),
        Step(
            "delete-if-exists",
            f"%kafka topics --delete --topic {t} --if-exists",
            exactly(f"Topic {t} does not exist."),
        ),
        Step(
            "describe-missing",
            f"%kafka topics --describe --topic {t}",
            error_line(
                f"topic '{t}' does not exist: %kafka topics --list shows the topics, "
                f"%kafka topics --create --topic {t} creates it"
            ),
        ),
        Step(
            "describe-if-exists",
            f"%kafka topics --describe --topic {t} --if-exists",
            exactly("(no topics)"),
        ),
        Step(
            "if-exists-on-create",
            f"%kafka topics --create --topic {t} --if-exists",
            usage_error("--if-exists goes with --alter, --delete or --describe, not --create"),
        ),
        Step(
            "pause",
            "%kafka broker pause 3",
            broker_is(3, "paused"),
        ),
        Step(
            "resume",
            "%kafka broker resume 3",
            broker_is(3, "running"),
        ),
        Step("show-help", "%kafka show --help", lambda ls: ls[0].startswith("usage: %kafka show")),
        Step("help", "%kafka help", lambda ls: any("%kafka topics" in line for line in ls)),
        Step(
            "unknown-flag",
            "%kafka topics --list --nonsense",
            usage_error("unrecognized argument --nonsense (see %kafka topics --help)"),
        ),
        Step(
            "missing-topic",
            "%consume --from-beginning",
            usage_error("the following arguments are required: TOPIC (see %consume --help)"),
        ),
        Step(
            "empty-separator",
            f"%%produce {t} --key-separator ''\nk v",
            error_line(
                "key.separator may not be empty: give it one or more characters, "
                "e.g. --property key.separator='|'"
            ),
        ),
        Step("down", "%kafka cluster down", lambda ls: "the data stays" in " ".join(ls)),
        Step("dead-list", "%kafka topics --list", error_line(re.compile(r".*%kafka cluster up.*"))),
        Step(
            "dead-produce",
            f"%%produce {t}\nx",
            error_line(re.compile(r".*%kafka cluster up.*")),
        ),
        Step(
            "dead-consume",
            f"%consume {t} --from-beginning",
            error_line(re.compile(r".*%kafka cluster up.*")),
        ),
        Step("dead-connect", f"%kafka connect {dead}", error_line(re.compile(rf".*{dead}.*"))),
    ]


@pytest.fixture
def private_cluster(bundled_cluster_factory) -> Iterator[object]:
    backend = bundled_cluster_factory(brokers=3, fresh=True)
    yield backend
    try:
        backend.down()
    except BackendError:
        pass


def _check_all(steps: list[Step], outputs: dict[str, list[str]]) -> None:
    failed = []
    for step in steps:
        lines = outputs.get(step.name)
        try:
            ok = lines is not None and step.check(lines) is not False
        except AssertionError:
            ok = False
        if not ok:
            failed.append(f"{step.name}: {lines!r}")
    assert not failed, "\n".join(failed)


# -- terminal IPython -------------------------------------------------------------------------

_PROMPT = re.compile(r"^(?:In \[\d+\]: |\s*\.\.\.: |Out\[\d+\]: )+")


def _typed(steps: list[Step]) -> str:
    """What a person types: a marker line before each step; a cell magic or a block ends with
    two empty lines, as in IPython's terminal."""
    parts = []
    for step in steps:
        parts.append(f'print("@@{step.name}")')
        parts.append(step.source)
        if "\n" in step.source:
            parts += ["", ""]
    return "\n".join(parts) + "\nexit\n"


def _terminal_outputs(text: str) -> dict[str, list[str]]:
    outputs: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = _PROMPT.sub("", raw)
        if line.startswith("@@"):
            current = outputs.setdefault(line[2:], [])
        elif current is not None and line.strip():
            current.append(line)
    return outputs


@pytest.mark.timeout(300)
def test_terminal_ipython(private_cluster, unique, tmp_path, free_port_block):
    steps = session(
        private_cluster.data_dir, unique("term"), unique("g"), f"127.0.0.1:{free_port_block(1)}"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "IPython",
            "--simple-prompt",
            "--quick",
            "--no-banner",
            "--colors=nocolor",
        ],
        input=_typed(steps),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # UsageErrors go to stderr: keep them in their place
        text=True,
        timeout=240,
        env={**_env(tmp_path), "PYTHONUNBUFFERED": "1"},
        cwd=tmp_path,
    )
    assert "Traceback" not in result.stdout and "<table" not in result.stdout, result.stdout
    _check_all(steps, _terminal_outputs(result.stdout))


# -- a notebook kernel ------------------------------------------------------------------------


def _text(cell: nbformat.NotebookNode, mime: str = "text/plain") -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output and mime in output.data:
            parts.append(output.data[mime])
        elif output.output_type == "error":
            parts.append("\n".join(output.traceback))
    return "\n".join(parts)


@pytest.mark.timeout(300)
def test_notebook(private_cluster, unique, tmp_path, monkeypatch, free_port_block):
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    steps = session(
        private_cluster.data_dir, unique("nb"), unique("g"), f"127.0.0.1:{free_port_block(1)}"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(step.source) for step in steps]
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    cells = dict(zip((s.name for s in steps), nb.cells, strict=True))
    _check_all(
        steps, {name: [x for x in _text(c).splitlines() if x.strip()] for name, c in cells.items()}
    )

    # Errors are one line in the traceback too (what Jupyter shows), never a Python traceback.
    for name in ("create-again", "produce-not-enough-replicas", "dead-produce"):
        [error] = [o for o in cells[name].outputs if o.output_type == "error"]
        assert len(error.traceback) == 1 and error.traceback[0].startswith("error: ")
    # Results are HTML tables in a notebook.
    for name in ("up", "describe", "produce", "consume", "groups-describe"):
        assert "<table" in _text(cells[name], "text/html"), name
    assert "<td>alice</td>" in _text(cells["produce"], "text/html")
    # --follow streams into one display that is updated in place: it ends with both records.
    live = [o for o in cells["follow"].outputs if o.output_type == "display_data"]
    assert len(live) == 1 and sorted(live[0].data["text/plain"].splitlines()[1:]) == [
        "book",
        "pen",
    ]
