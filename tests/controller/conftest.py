"""Shared fixtures for the controller tests.

The tests run against the source tree even when kafkabook is not installed, and the controller
subprocess gets the same import path.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))


def free_port() -> int:
    """A port nobody listens on right now (bind to 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ControllerProcess:
    """A running `python -m kafkabook.broker.controller`, restartable on the same data dir."""

    data_dir: Path
    log_path: Path
    configs: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
        args = [
            sys.executable,
            "-m",
            "kafkabook.broker.controller",
            "--node-id",
            "0",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        for key, value in self.configs.items():
            args += ["--config", f"{key}={value}"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, env=env)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop the process (SIGTERM by default) and return its exit code."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                return proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait(timeout=10)
        return proc.returncode

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def start_controller(
    tmp_path: Path,
) -> Iterator[Callable[[dict[str, str]], ControllerProcess]]:
    """Factory: start a controller process with configs; every one is stopped at teardown."""
    started: list[ControllerProcess] = []

    def start(configs: dict[str, str]) -> ControllerProcess:
        index = len(started)
        process = ControllerProcess(
            tmp_path / f"controller-{index}", tmp_path / f"controller-{index}.log", configs
        )
        started.append(process)
        process.start()
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()
            # Shown by pytest only when the test failed.
            print(f"--- {process.log_path.name}\n{process.logs()}")
