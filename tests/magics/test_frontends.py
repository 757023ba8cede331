"""The same magics in terminal IPython (plain text) and in a notebook kernel (nbclient)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["KAFKABOOK_SESSION_FILE"] = str(tmp_path / "session.json")
    env.pop("KAFKABOOK_DEBUG", None)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def test_terminal_ipython_prints_plain_text(kb_cluster, unique, tmp_path):
    topic = unique("term")
    script = tmp_path / "session.ipy"
    script.write_text(
        textwrap.dedent(f"""\
        %load_ext kafkabook
        %kafka cluster up --data-dir {kb_cluster.data_dir}
        %kafka topics --create --topic {topic} --partitions 1
        described = %kafka topics --describe --topic {topic}
        print(repr(described))
        r = get_ipython().run_cell_magic("produce", "{topic} --key-separator '|'", "k|v1\\nk|v2\\n")
        print(repr(r))
        records = %consume {topic} --from-beginning --property print.key=true
        print(repr(records))
        %kafka topics --describe --topic no-such-topic-here
    """)
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "IPython",
            "--quick",
            "--no-banner",
            "--colors=nocolor",
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
        cwd=tmp_path,
    )
    out = result.stdout + result.stderr
    assert f"Topic: {topic}\tTopicId: " in out
    assert f"\tTopic: {topic}\tPartition: 0\tLeader: " in out
    assert "2 records to" in out
    assert "k\tv1\nk\tv2" in out
    assert "<table" not in out
    # The error is one line, without a traceback.
    assert "error: topic 'no-such-topic-here' does not exist: %kafka topics --list" in out
    assert "Traceback" not in out


def _cell(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source)


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
def test_notebook_runs_the_magics(kb_cluster, unique, tmp_path, monkeypatch):
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    topic = unique("nb")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("%load_ext kafkabook"),
        _cell(f"%kafka cluster up --data-dir {kb_cluster.data_dir}"),
        _cell(f"%kafka topics --create --topic {topic} --partitions 2 --replication-factor 2"),
        _cell(f"%kafka topics --describe --topic {topic}"),
        _cell(f"%%produce {topic} --key-separator '|'\nalice|book\nbob|pen"),
        _cell(f"records = %consume {topic} --from-beginning --property print.key=true\nrecords"),
        _cell("sorted(records.df['value'])"),
        _cell(f"%kafka configs --describe --entity-type topics --entity-name {topic}"),
        _cell("%kafka topics --list"),
        _cell("%kafka help"),
        _cell(f"%consume {topic} --partition 9"),
        _cell("%kafka topics --nonsense"),
        _cell(f"%consume {topic} --from-beginning --follow --max-messages 2"),
        _cell("import kafkabook as kb\nkb.broker"),
    ]
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    cells = nb.cells
    assert "reattached" in _text(cells[1])
    assert "<table" in _text(cells[1], "text/html")
    assert _text(cells[2]).strip() == f"Created topic {topic}."
    assert f"Topic: {topic}\tTopicId:" in _text(cells[3])
    assert "<table" in _text(cells[3], "text/html")
    assert "2 records to" in _text(cells[4]) and "<td>alice</td>" in _text(cells[4], "text/html")
    html = _text(cells[5], "text/html")
    assert "<td>book</td>" in html and "<td>pen</td>" in html
    assert sorted(_text(cells[5]).splitlines()) == ["alice\tbook", "bob\tpen"]
    assert _text(cells[6]).strip() == "['book', 'pen']"
    assert f"Dynamic configs for topic {topic} are:" in _text(cells[7])
    assert topic in _text(cells[8])
    assert "%kafka topics" in _text(cells[9])
    error = cells[10].outputs[-1]
    assert error.output_type == "error" and len(error.traceback) == 1
    assert error.traceback[0] == f"error: topic '{topic}' has partitions 0-1, not 9"
    assert "unrecognized argument --nonsense" in _text(cells[11])
    streamed = cells[12]
    live = [o for o in streamed.outputs if o.output_type == "display_data"]
    # nbclient applied the display updates: the live output ends with both records.
    assert len(live) == 1 and f"followed {topic}" in live[0].data["text/plain"]
    assert sorted(live[0].data["text/plain"].splitlines()[1:]) == ["book", "pen"]
    assert "2 records from" in _text(streamed) and "(streamed above)" in _text(streamed)
    assert "kill(id)" in _text(cells[13])
