"""Fixtures for the `kafkabook` command tests, and a stand-in node to run them without a broker.

Process management (ports, pids, signals, readiness, reattach, restart) does not depend on what
a broker does with topics, so most tests run twice: against the real broker and controller, and
against the stand-in below, which is quick to start and can misbehave on request.

The stand-in is this very file run as a module: ``python -m conftest --node-id 1 --port P
--data-dir D/broker-1 [--controller H:P] [--config k=v ...]`` (the command line of the real
nodes). It answers Kafka Metadata v1/v2 with bytes encoded by hand here, so it also checks the
backend's kio-based probe against an independent encoding. Configs that make it misbehave:

* ``fake.crash=1``           exit with code 3 right away, after logging a line
* ``fake.start_delay_s=S``   sleep S seconds before listening
* ``fake.list_self_only=1``  list only itself in Metadata (as if the others never registered)
* ``fake.ignore_sigterm=1``  ignore SIGTERM (only SIGKILL ends it)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAKE_MODULE = "conftest"  # `python -m conftest` with HERE on PYTHONPATH runs this file
HOST = "127.0.0.1"


# -- the stand-in node (runs in its own process; no pytest needed) ----------------------------


def _kafka_string(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def encode_metadata_response(
    correlation_id: int,
    version: int,
    brokers: list[tuple[int, int]],
    cluster_id: str | None,
    controller_id: int,
) -> bytes:
    """A whole Metadata v1/v2 response frame (size prefix included), no topics."""
    body = struct.pack(">i", correlation_id) + struct.pack(">i", len(brokers))
    for node_id, port in brokers:
        body += struct.pack(">i", node_id) + _kafka_string(HOST) + struct.pack(">i", port)
        body += _kafka_string(None)  # rack
    if version >= 2:
        body += _kafka_string(cluster_id)
    body += struct.pack(">i", controller_id) + struct.pack(">i", 0)  # no topics
    return struct.pack(">i", len(body)) + body


def _fake_cluster_id(cluster_dir: Path, role: str) -> str | None:
    # The stand-in controller keeps the cluster id in its data dir, as the real one keeps its
    # metadata, so a restart must report the same id.
    path = cluster_dir / "controller" / "fake-cluster-id"
    if role == "controller" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(uuid.uuid4().hex)
    for _ in range(200):
        if path.exists():
            return path.read_text().strip()
        time.sleep(0.01)
    return None


def _peers(cluster_dir: Path) -> list[tuple[int, int]]:
    state = json.loads((cluster_dir / "cluster.json").read_text())
    return [(b["node_id"], b["port"]) for b in state["brokers"]]


async def _serve(args: argparse.Namespace, configs: dict[str, str], cluster_id: str | None) -> None:
    cluster_dir = args.data_dir.parent
    if configs.get("fake.list_self_only") == "1":
        listed = [(args.node_id, args.port)]
    else:
        listed = _peers(cluster_dir)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (size,) = struct.unpack(">i", await reader.readexactly(4))
                frame = await reader.readexactly(size)
                api_key, version, correlation_id = struct.unpack(">hhi", frame[:8])
                if api_key != 3 or version not in (1, 2):
                    break  # what a real broker does with a request it cannot parse
                writer.write(
                    encode_metadata_response(correlation_id, version, listed, cluster_id, 0)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, HOST, args.port)
    print(f"listening on {HOST}:{args.port}", flush=True)
    done = asyncio.Event()

    def on_sigterm() -> None:
        if configs.get("fake.ignore_sigterm") == "1":
            print("SIGTERM ignored", flush=True)
            return
        print("SIGTERM: controlled shutdown", flush=True)
        done.set()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
    await done.wait()
    server.close()
    await server.wait_closed()


def fake_node_main(argv: list[str] | None = None) -> int:
    """Entry point of the stand-in node; returns its exit code."""
    parser = argparse.ArgumentParser(prog="python -m conftest")
    parser.add_argument("--node-id", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--controller")
    parser.add_argument("--config", action="append", default=[])
    args = parser.parse_args(argv)
    configs = dict(item.split("=", 1) for item in args.config)
    role = "broker" if args.controller else "controller"
    print(f"fake {role} {args.node_id} starting (configs {configs})", flush=True)
    if configs.get("fake.crash") == "1":
        print("crashing on purpose (fake.crash=1)", flush=True)
        return 3
    time.sleep(float(configs.get("fake.start_delay_s", "0")))
    args.data_dir.mkdir(parents=True, exist_ok=True)
    cluster_id = _fake_cluster_id(args.data_dir.parent, role)
    asyncio.run(_serve(args, configs, cluster_id))
    print("exiting", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(fake_node_main())


# -- fixtures (only when pytest imports this file) ----------------------------------------------

import psutil  # noqa: E402
import pytest  # noqa: E402

from kafkabook.backends.bundled import (  # noqa: E402
    BROKER_MODULE_ENV,
    CONTROLLER_MODULE_ENV,
    DATA_DIR_ENV,
    BundledBackend,
)


def _bundled_available() -> bool:
    # The same check as the top-level conftest's, without importing it by name.
    import importlib.util

    modules = ("kafkabook.broker.__main__", "kafkabook.broker.controller.__main__")
    try:
        return all(importlib.util.find_spec(m) is not None for m in modules)
    except ImportError:
        return False


def kafkabook_command() -> list[str]:
    """The installed `kafkabook` console script, else the same CLI through `python -m`."""
    script = Path(sys.executable).parent / "kafkabook"
    if script.exists():
        return [str(script)]
    found = shutil.which("kafkabook")
    return [found] if found else [sys.executable, "-m", "kafkabook.cli"]


def leftover_processes(data_dir: Path) -> list[psutil.Process]:
    """Every process whose command line mentions ``data_dir``: what a test must not leave."""
    needle = str(data_dir)
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if any(needle in arg for arg in cmdline) and proc.pid != os.getpid():
            found.append(proc)
    return found


@dataclass
class CliCluster:
    """A data dir + a free port block + the environment to run `kafkabook` against them."""

    impl: str  # "fake" or "real"
    data_dir: Path
    base_port: int
    env: dict[str, str] = field(default_factory=dict)
    brokers: int = 3

    def run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        """Run ``kafkabook ARGS --data-dir D`` and return the finished process."""
        return subprocess.run(
            [*kafkabook_command(), *args, "--data-dir", str(self.data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def up(self, *extra: str) -> subprocess.CompletedProcess[str]:
        """``cluster up --brokers N --base-port P EXTRA``."""
        args = ["cluster", "up", "--brokers", str(self.brokers), "--base-port", str(self.base_port)]
        return self.run(*args, *extra)

    def backend(self) -> BundledBackend:
        """An in-process view of the same cluster (for asserting on pids and states)."""
        return BundledBackend(data_dir=self.data_dir)

    def recorded(self) -> dict:
        return json.loads((self.data_dir / "cluster.json").read_text())


def _env_for(impl: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Never touch the user's own cluster in the cache dir, whatever a test forgets to pass.
    env[DATA_DIR_ENV] = str(data_dir)
    env.pop(BROKER_MODULE_ENV, None)
    env.pop(CONTROLLER_MODULE_ENV, None)
    if impl == "fake":
        env[BROKER_MODULE_ENV] = FAKE_MODULE
        env[CONTROLLER_MODULE_ENV] = FAKE_MODULE
        env["PYTHONPATH"] = os.pathsep.join(
            [str(HERE), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
        )
    return env


@pytest.fixture(params=["fake", "real"])
def node_impl(request: pytest.FixtureRequest) -> str:
    """Run a test against the stand-in node and against the real broker + controller."""
    if request.param == "real" and not _bundled_available():
        pytest.skip(
            "waiting for the real broker/controller (python -m kafkabook.broker[.controller])"
        )
    return request.param


def _make_cli_cluster(impl: str, tmp_path: Path, free_port_block, brokers: int) -> CliCluster:
    data_dir = tmp_path / "kb"
    return CliCluster(
        impl=impl,
        data_dir=data_dir,
        base_port=free_port_block(brokers + 1),
        env=_env_for(impl, data_dir),
        brokers=brokers,
    )


def _cleanup(cluster: CliCluster) -> None:
    if (cluster.data_dir / "cluster.json").exists():
        cluster.backend().down()
    leftovers = leftover_processes(cluster.data_dir)
    for proc in leftovers:
        proc.kill()
    psutil.wait_procs(leftovers, timeout=5)
    assert not leftovers, f"processes left running: {[p.pid for p in leftovers]}"


@pytest.fixture
def cli_cluster(node_impl: str, tmp_path: Path, free_port_block) -> Iterator[CliCluster]:
    """A 3-broker CliCluster for ``node_impl``; everything it started is stopped afterwards."""
    cluster = _make_cli_cluster(node_impl, tmp_path, free_port_block, brokers=3)
    yield cluster
    _cleanup(cluster)


@pytest.fixture
def fake_cli_cluster(tmp_path: Path, free_port_block) -> Iterator[CliCluster]:
    """A 1-broker CliCluster on the stand-in node only (for misbehaviour on request)."""
    cluster = _make_cli_cluster("fake", tmp_path, free_port_block, brokers=1)
    yield cluster
    _cleanup(cluster)


@pytest.fixture
def fake_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make in-process BundledBackends of this test run the stand-in node."""
    for name, value in _env_for("fake", Path("/nonexistent")).items():
        if name != DATA_DIR_ENV and os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
