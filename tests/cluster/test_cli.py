"""The `kafkabook` command and the bundled backend's process management.

Unit tests first (ports, cluster.json, state rules), then the real `kafkabook` command run in a
subprocess against a temporary data dir on free ports, once with the stand-in node of
conftest.py and once with the real broker and controller.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from kafkabook import Cluster
from kafkabook.api.cluster import BACKENDS, _backend_class, load_backend
from kafkabook.backends.base import BackendError
from kafkabook.backends.bundled import (
    LOG_MARKER,
    BundledBackend,
    ClusterFile,
    NodeRecord,
    NodeStartError,
    choose_ports,
    port_is_free,
    request_metadata,
    resolve_data_dir,
    tail_log,
)
from kafkabook.cli import build_parser, main

BOOTSTRAP_LINE = re.compile(r"^bootstrap: (127\.0\.0\.1:\d+)(,127\.0\.0\.1:\d+)*$")


def listen_on(port: int) -> socket.socket:
    """Occupy 127.0.0.1:port the way another server would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


@pytest.fixture
def occupied() -> Iterator[list[socket.socket]]:
    """Sockets a test keeps listening; closed afterwards."""
    socks: list[socket.socket] = []
    yield socks
    for sock in socks:
        sock.close()


def states(result_stdout: str) -> dict[tuple[str, int], str]:
    """{(role, id): state} from a status table."""
    found = {}
    for line in result_stdout.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0] in ("broker", "controller") and parts[1].isdigit():
            found[(parts[0], int(parts[1]))] = parts[4]
    return found


def last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1]


# -- ports -----------------------------------------------------------------------------------------


def test_free_default_ports_are_used_as_is(free_port_block) -> None:
    base = free_port_block(4)
    plan = choose_ports(4, default_base=base)
    assert plan.ports == (base, base + 1, base + 2, base + 3)
    assert plan.note is None


def test_taken_default_port_moves_to_a_contiguous_free_block(free_port_block, occupied) -> None:
    base = free_port_block(4)
    occupied.append(listen_on(base + 2))
    plan = choose_ports(4, default_base=base)
    assert base + 2 not in plan.ports
    assert list(plan.ports) == list(range(plan.ports[0], plan.ports[0] + 4))
    assert all(port_is_free(p) for p in plan.ports)
    assert plan.note is not None and f"port {base + 2} is taken" in plan.note


def test_taken_explicit_base_port_is_a_one_line_error(free_port_block, occupied) -> None:
    base = free_port_block(4)
    occupied.append(listen_on(base + 3))
    with pytest.raises(BackendError) as info:
        choose_ports(4, base)
    message = str(info.value)
    assert f"port {base + 3}" in message and "--base-port" in message
    assert "\n" not in message


def test_port_range_must_fit() -> None:
    with pytest.raises(BackendError, match="does not leave room"):
        choose_ports(4, 65534)
    with pytest.raises(BackendError):
        BundledBackend(data_dir="/tmp/unused-kb", brokers=3, base_port=65533)


def test_port_is_free_sees_a_listener(occupied) -> None:
    sock = listen_on(0)
    occupied.append(sock)
    assert not port_is_free(sock.getsockname()[1])


# -- cluster.json ----------------------------------------------------------------------------------


def test_cluster_file_round_trip(tmp_path: Path) -> None:
    state = ClusterFile.new(brokers=3, ports=[9100, 9101, 9102, 9103], configs={"a.b": "1"})
    state.cluster_id = "abc"
    state.brokers[1].pid = 4242
    state.brokers[1].last_action = "kill"
    state.brokers[1].module = "kafkabook.broker"
    path = tmp_path / "cluster.json"
    state.save(path)
    assert ClusterFile.load(path) == state
    data = json.loads(path.read_text())
    assert data["controller"] == {
        "node_id": 0,
        "port": 9103,
        "pid": None,
        "last_action": "created",
        "module": None,
    }
    assert [b["node_id"] for b in data["brokers"]] == [1, 2, 3]
    assert data["configs"] == {"a.b": "1"}
    assert [p.name for p in tmp_path.iterdir()] == ["cluster.json"]  # no temp file left


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"format": 99}',
        '{"format": 1, "brokers": [], "controller": {"node_id": 0, "port": 1}}',
        '{"format": 1, "brokers": [{"node_id": 2, "port": 1}], '
        '"controller": {"node_id": 0, "port": 2}}',
        '{"format": 1, "brokers": [{"node_id": 1, "port": "x"}], '
        '"controller": {"node_id": 0, "port": 2}}',
        '{"format": 1, "brokers": [{"node_id": 1, "port": 1, "last_action": "dance"}], '
        '"controller": {"node_id": 0, "port": 2}}',
    ],
)
def test_damaged_cluster_file_is_a_one_line_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "cluster.json"
    path.write_text(text)
    with pytest.raises(BackendError) as info:
        ClusterFile.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_node_lookup_names_the_valid_ids() -> None:
    state = ClusterFile.new(brokers=2, ports=[1, 2, 3])
    assert state.node(0).role == "controller"
    assert state.node(2).port == 2
    with pytest.raises(BackendError, match="brokers are 1-2"):
        state.node(7)


def test_data_dir_comes_from_argument_then_env_then_cache(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KAFKABOOK_DATA_DIR", str(tmp_path / "from-env"))
    assert resolve_data_dir(None) == (tmp_path / "from-env").resolve()
    assert resolve_data_dir(tmp_path / "given") == (tmp_path / "given").resolve()
    monkeypatch.delenv("KAFKABOOK_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_data_dir(None) == (tmp_path / "cache" / "kafkabook" / "cluster").resolve()


def test_status_without_a_cluster_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"no cluster in .*kafkabook cluster up"):
        BundledBackend(data_dir=tmp_path).status()


def test_up_refuses_a_foreign_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(BackendError, match="not empty"):
        BundledBackend(data_dir=tmp_path, brokers=1).up()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.lock", "thesis.tex"]


def test_tail_log_shows_only_the_latest_start(tmp_path: Path) -> None:
    path = tmp_path / "broker-1.log"
    path.write_text(f"{LOG_MARKER} run 1\nold line\n{LOG_MARKER} run 2\nnew 1\nnew 2\nnew 3\n")
    assert tail_log(path) == "new 1\nnew 2\nnew 3"
    assert tail_log(path, lines=1) == "new 3"
    assert tail_log(tmp_path / "missing.log") == ""


def test_a_reused_pid_is_never_taken_for_a_node(tmp_path: Path) -> None:
    # An unrelated process now holds the pid that cluster.json remembers for broker 1.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        state = ClusterFile.new(brokers=1, ports=[1, 2])
        state.brokers[0].pid = stranger.pid
        state.brokers[0].last_action = "start"
        state.brokers[0].module = "kafkabook.broker"
        state.save(tmp_path / "cluster.json")
        backend = BundledBackend(data_dir=tmp_path)
        broker = backend.status().brokers[0]
        assert (broker.pid, broker.state) == (None, "killed")
        backend.down()
        assert stranger.poll() is None, "down() signalled a process that is not ours"
    finally:
        stranger.kill()
        stranger.wait()


# -- Python API ------------------------------------------------------------------------------------


def test_cluster_facade_rejects_unknown_backends_and_options() -> None:
    with pytest.raises(BackendError, match=r"unknown backend 'nope'.*bundled"):
        Cluster(backend="nope")
    with pytest.raises(BackendError, match="does not take these options"):
        Cluster(backend="bundled", shards=3)
    backend = load_backend("bundled", data_dir="/tmp/kb-facade", brokers=1)
    assert isinstance(backend, BundledBackend)
    assert Cluster(backend).backend is backend


def test_cluster_facade_drives_a_bundled_cluster(fake_modules, tmp_path, free_port_block) -> None:
    events: list[str] = []
    cluster = Cluster(
        backend="bundled",
        data_dir=tmp_path / "kb",
        brokers=2,
        base_port=free_port_block(3),
        on_event=events.append,
    )
    with cluster:
        assert [n.state for n in cluster.status().nodes] == ["running"] * 3
        cluster.pause(2)
        assert cluster.status().brokers[1].state == "paused"
        cluster.resume(2)
        cluster.kill(1)
        assert cluster.status().brokers[0].state == "killed"
        cluster.start(1)
        assert cluster.bootstrap.count(",") == 1
    assert [n.state for n in cluster.status().nodes] == ["stopped"] * 3
    assert any(e.startswith("started the controller and 2 broker(s)") for e in events)


def test_down_kills_a_node_that_ignores_sigterm(fake_modules, tmp_path, free_port_block) -> None:
    events: list[str] = []
    backend = BundledBackend(
        data_dir=tmp_path / "kb",
        brokers=1,
        base_port=free_port_block(2),
        configs={"fake.ignore_sigterm": "1"},
        stop_timeout=0.5,
        on_event=events.append,
    )
    status = backend.up()
    pids = [n.pid for n in status.nodes]
    with pytest.raises(BackendError, match=r"did not exit within 0\.5 s of SIGTERM"):
        backend.stop(1)
    backend.down()
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids)
    assert any("killed (SIGKILL)" in e for e in events)


def test_probe_reads_the_stand_in_encoding(fake_modules, tmp_path, free_port_block) -> None:
    # The stand-in encodes Metadata by hand; the probe decodes it with kio: both must agree.
    base = free_port_block(3)
    backend = BundledBackend(data_dir=tmp_path / "kb", brokers=2, base_port=base)
    backend.up()
    try:
        v1 = request_metadata("127.0.0.1", base + 1, version=1)
        assert [(b.node_id, b.port) for b in v1.brokers] == [(1, base), (2, base + 1)]
        v2 = request_metadata("127.0.0.1", base, version=2)
        assert v2.cluster_id == backend.cluster_id and len(v2.cluster_id) == 32
    finally:
        backend.down()


# -- the command line: help and usage errors -------------------------------------------------------


def test_help_has_examples(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "kafkabook cluster up" in out and "kafkabook broker kill 2" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["cluster", "up", "--brokers", "10"],
        ["cluster", "up", "--brokers", "0"],
        ["cluster", "up", "--base-port", "70000"],
        ["cluster", "up", "--config", "novalue"],
        ["broker", "explode", "1"],
        ["broker", "kill", "two"],
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_configs_are_parsed_into_pairs() -> None:
    args = build_parser().parse_args(
        ["cluster", "up", "--config", "a=1", "--config", "b=x=y", "--config", "c="]
    )
    assert dict(args.config) == {"a": "1", "b": "x=y", "c": ""}


def test_backend_errors_are_one_line_with_exit_code_2(tmp_path: Path, capsys) -> None:
    assert main(["cluster", "status", "--data-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: no cluster in ") and captured.err.count("\n") == 1


# -- the command line against running processes (stand-in and real nodes) --------------------------


def test_lifecycle(cli_cluster) -> None:
    c = cli_cluster
    began = time.monotonic()
    up = c.up()
    up_seconds = time.monotonic() - began
    assert up.returncode == 0, up.stderr
    expected = ",".join(f"127.0.0.1:{c.base_port + i}" for i in range(3))
    assert last_line(up.stdout) == f"bootstrap: {expected}"
    assert BOOTSTRAP_LINE.match(last_line(up.stdout))
    assert "started the controller and 3 broker(s)" in up.stdout
    print(f"[{c.impl}] `kafkabook cluster up` (3 brokers) took {up_seconds:.2f} s wall")

    recorded = c.recorded()
    assert [b["port"] for b in recorded["brokers"]] == [c.base_port + i for i in range(3)]
    assert recorded["controller"]["port"] == c.base_port + 3
    assert recorded["controller"]["node_id"] == 0
    cluster_id = recorded["cluster_id"]
    assert cluster_id
    for broker in recorded["brokers"]:
        response = request_metadata("127.0.0.1", broker["port"])
        assert sorted(b.node_id for b in response.brokers) == [1, 2, 3]
        proc = psutil.Process(broker["pid"])
        # Detached: a session of its own, so the terminal's Ctrl-C does not reach it.
        assert os.getsid(proc.pid) == proc.pid
        assert (c.data_dir / "logs" / f"broker-{broker['node_id']}.log").exists()

    status = c.run("cluster", "status")
    assert status.returncode == 0, status.stderr
    assert states(status.stdout) == {
        ("controller", 0): "running",
        ("broker", 1): "running",
        ("broker", 2): "running",
        ("broker", 3): "running",
    }
    assert cluster_id in status.stdout and last_line(status.stdout) == f"bootstrap: {expected}"

    pid2 = recorded["brokers"][1]["pid"]
    kill = c.run("broker", "kill", "2")
    assert kill.returncode == 0, kill.stderr
    assert states(kill.stdout)[("broker", 2)] == "killed"
    assert not psutil.pid_exists(pid2) or psutil.Process(pid2).status() == "zombie"

    again = c.run("broker", "kill", "2")
    assert again.returncode == 2 and "broker 2 is not running" in again.stderr

    start = c.run("broker", "start", "2")
    assert start.returncode == 0, start.stderr
    assert states(start.stdout)[("broker", 2)] == "running"
    response = request_metadata("127.0.0.1", c.base_port + 1)
    assert sorted(b.node_id for b in response.brokers) == [1, 2, 3]

    pause = c.run("broker", "pause", "3")
    assert pause.returncode == 0, pause.stderr
    assert states(pause.stdout)[("broker", 3)] == "paused"
    pid3 = c.recorded()["brokers"][2]["pid"]
    assert psutil.Process(pid3).status() == psutil.STATUS_STOPPED
    with pytest.raises(OSError):  # hung: it accepts (the kernel does) but never answers
        request_metadata("127.0.0.1", c.base_port + 2, timeout=0.3)

    resume = c.run("broker", "resume", "3")
    assert resume.returncode == 0, resume.stderr
    assert states(resume.stdout)[("broker", 3)] == "running"
    request_metadata("127.0.0.1", c.base_port + 2)

    stop = c.run("broker", "stop", "1")
    assert stop.returncode == 0, stop.stderr
    assert states(stop.stdout)[("broker", 1)] == "stopped"
    assert port_is_free(c.base_port)

    start = c.run("broker", "start", "1")
    assert start.returncode == 0, start.stderr
    assert states(start.stdout)[("broker", 1)] == "running"

    down = c.run("cluster", "down")
    assert down.returncode == 0, down.stderr
    status = c.run("cluster", "status")
    assert set(states(status.stdout).values()) == {"stopped"}
    assert all(port_is_free(c.base_port + i) for i in range(4))

    # Same data dir again: the cluster comes back with its ports and its id.
    restart = c.run("cluster", "up")
    assert restart.returncode == 0, restart.stderr
    assert "restarted" in restart.stdout
    assert last_line(restart.stdout) == f"bootstrap: {expected}"
    assert c.recorded()["cluster_id"] == cluster_id


def test_up_on_a_running_cluster_reattaches(cli_cluster) -> None:
    c = cli_cluster
    assert c.up().returncode == 0
    pids = [n["pid"] for n in [c.recorded()["controller"], *c.recorded()["brokers"]]]
    again = c.run("cluster", "up")
    assert again.returncode == 0, again.stderr
    assert "reattached" in again.stdout and "started nothing" in again.stdout
    assert BOOTSTRAP_LINE.match(last_line(again.stdout))
    assert [n["pid"] for n in [c.recorded()["controller"], *c.recorded()["brokers"]]] == pids

    c.run("broker", "kill", "3")
    partial = c.run("cluster", "up")
    assert partial.returncode == 0
    assert "not running: broker 3 (killed)" in partial.stdout

    other_shape = c.run("cluster", "up", "--brokers", "2")
    assert other_shape.returncode == 2
    assert "3-broker cluster" in other_shape.stderr

    other_configs = c.run("cluster", "up", "--config", "log.retention.ms=1000")
    assert other_configs.returncode == 2
    assert "running with other configs" in other_configs.stderr


def test_taken_base_port_is_a_one_line_error(cli_cluster, occupied) -> None:
    c = cli_cluster
    occupied.append(listen_on(c.base_port + 1))
    result = c.up()
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: port {c.base_port + 1} ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not leftover_pids(c.data_dir)
    assert not (c.data_dir / "cluster.json").exists()


def test_restart_needs_its_ports_back(cli_cluster, occupied) -> None:
    c = cli_cluster
    assert c.up().returncode == 0
    assert c.run("cluster", "down").returncode == 0
    occupied.append(listen_on(c.base_port + 3))
    result = c.run("cluster", "up")
    assert result.returncode == 2
    assert f"port {c.base_port + 3} of the controller is taken" in result.stderr


def leftover_pids(data_dir: Path) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if any(str(data_dir) in arg for arg in (p.info.get("cmdline") or []))
    ]


# -- misbehaving nodes (stand-in only) -------------------------------------------------------------


def test_a_node_crashing_at_start_shows_its_log(fake_cli_cluster) -> None:
    c = fake_cli_cluster
    result = c.up("--config", "fake.crash=1")
    assert result.returncode == 2
    first, *rest = result.stderr.splitlines()
    assert re.match(r"error: (broker 1|the controller) exited with code 3 while starting", first)
    assert "crashing on purpose" in "\n".join(rest)
    assert "Traceback" not in result.stderr
    assert not leftover_pids(c.data_dir)
    # It never came up, so nothing pins its ports: a retry starts from scratch.
    assert not (c.data_dir / "cluster.json").exists()
    assert c.up().returncode == 0


def test_readiness_timeout_names_the_node_and_shows_its_log(fake_cli_cluster) -> None:
    c = fake_cli_cluster
    began = time.monotonic()
    # 3 s: long enough for the stand-in to start and log even on a loaded 2-core machine.
    result = c.up("--config", "fake.start_delay_s=30", "--timeout", "3")
    assert time.monotonic() - began < 15
    assert result.returncode == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: broker 1 did not get ready within 3 s")
    assert "fake broker 1 starting" in result.stderr
    assert not leftover_pids(c.data_dir)


def test_readiness_waits_until_every_broker_is_listed(fake_modules, tmp_path, free_port_block):
    backend = BundledBackend(
        data_dir=tmp_path / "kb",
        brokers=2,
        base_port=free_port_block(3),
        configs={"fake.list_self_only": "1"},
        ready_timeout=3,
    )
    with pytest.raises(NodeStartError, match=r"listing brokers \[\d\], not yet all of \[1, 2\]"):
        backend.up()
    assert not leftover_pids(tmp_path / "kb")


def test_default_ports_move_when_taken(fake_cli_cluster, occupied) -> None:
    c = fake_cli_cluster
    if port_is_free(9092):
        occupied.append(listen_on(9092))
    result = c.run("cluster", "up", "--brokers", "1")
    assert result.returncode == 0, result.stderr
    assert "port 9092 is taken: using ports" in result.stdout
    ports = [b["port"] for b in c.recorded()["brokers"]]
    assert 9092 not in ports
    assert last_line(result.stdout) == f"bootstrap: 127.0.0.1:{ports[0]}"


def test_start_of_a_paused_broker_says_resume(fake_cli_cluster) -> None:
    c = fake_cli_cluster
    assert c.up().returncode == 0
    assert c.run("broker", "pause", "1").returncode == 0
    result = c.run("broker", "start", "1")
    assert result.returncode == 2 and "broker 1 is paused" in result.stderr
    assert "kafkabook broker resume 1" in result.stderr
    # down resumes what it stops: a paused process would never see its SIGTERM.
    assert c.run("cluster", "down").returncode == 0
    assert not leftover_pids(c.data_dir)


def test_a_crashed_broker_reports_killed(fake_cli_cluster) -> None:
    c = fake_cli_cluster
    assert c.up().returncode == 0
    pid = c.recorded()["brokers"][0]["pid"]
    os.kill(pid, signal.SIGKILL)  # not through kafkabook: a crash
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert states(c.run("cluster", "status").stdout)[("broker", 1)] == "killed"


# -- the shared fixture ----------------------------------------------------------------------------


def test_bundled_cluster_fixture_gives_a_working_cluster(
    bundled_cluster, bundled_cluster_factory
) -> None:
    backend = bundled_cluster
    assert [n.state for n in backend.status().nodes] == ["running"] * 4
    assert bundled_cluster_factory() is backend
    for broker in backend.status().brokers:
        response = request_metadata(broker.host, broker.port)
        assert sorted(b.node_id for b in response.brokers) == [1, 2, 3]


def test_nodes_record_their_module_for_the_pid_guard(fake_modules, tmp_path, free_port_block):
    backend = BundledBackend(data_dir=tmp_path / "kb", brokers=1, base_port=free_port_block(2))
    backend.up()
    try:
        record = NodeRecord.from_dict(
            "broker", json.loads(backend.cluster_file.read_text())["brokers"][0]
        )
        assert record.module == "conftest"
        cmdline = psutil.Process(record.pid).cmdline()
        assert "conftest" in cmdline and str(tmp_path / "kb" / "broker-1") in cmdline
    finally:
        backend.down()


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_name_resolves_to_one_class(name: str) -> None:
    # The facade imports backends lazily and finds the class by its `name`: each module must
    # import without its optional tools (Java, Docker) and define exactly one such class.
    cls = _backend_class(name, importlib.import_module(BACKENDS[name]))
    assert cls.name == name


def test_configs_reach_every_node_and_can_change_across_restarts(fake_cli_cluster) -> None:
    c = fake_cli_cluster
    assert c.up("--config", "fake.colour=red").returncode == 0
    assert c.recorded()["configs"] == {"fake.colour": "red"}
    for name in ("controller", "broker-1"):
        assert "'fake.colour': 'red'" in tail_log(c.data_dir / "logs" / f"{name}.log")
    assert c.run("cluster", "down").returncode == 0
    assert c.run("cluster", "up", "--config", "fake.colour=blue").returncode == 0
    assert c.recorded()["configs"] == {"fake.colour": "blue"}
    assert "'fake.colour': 'blue'" in tail_log(c.data_dir / "logs" / "broker-1.log")
    assert c.run("cluster", "down").returncode == 0
    assert c.run("cluster", "up").returncode == 0  # no --config: the recorded ones stay
    assert c.recorded()["configs"] == {"fake.colour": "blue"}


def test_the_controller_is_node_0(fake_cli_cluster) -> None:
    c = fake_cli_cluster
    assert c.up().returncode == 0
    assert c.run("broker", "stop", "1").returncode == 0
    kill = c.run("broker", "kill", "0")
    assert kill.returncode == 0, kill.stderr
    assert states(kill.stdout)[("controller", 0)] == "killed"
    orphan = c.run("broker", "start", "1")
    assert orphan.returncode == 2
    assert "the controller is not running" in orphan.stderr
    assert "kafkabook broker start 0" in orphan.stderr
    assert c.run("broker", "start", "0").returncode == 0
    start = c.run("broker", "start", "1")
    assert start.returncode == 0, start.stderr
    assert set(states(start.stdout).values()) == {"running"}
    unknown = c.run("broker", "kill", "5")
    assert unknown.returncode == 2 and "no node 5" in unknown.stderr
