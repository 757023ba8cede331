"""Fixtures for tests in a real browser: Debian's Chromium driven by Playwright, and JupyterLab.

Chromium is Debian's package (``apt-get install chromium``, done here when running as root),
never Playwright's download: Playwright only drives it, through ``executable_path``. Without
Chromium or the ``playwright`` package the tests skip with the reason, except under CI, where
a browser suite that cannot run is a failure.

`jupyter_lab` starts JupyterLab on a free port with a token, in a temporary directory holding
a copy of ``notebooks/tests`` (so runs never write outputs into the repository; a test that
runs a lesson writes its copy there too, ``lab.root``), with its own config, settings and
runtime directories. Notebook windowing is off, so every cell stays in the page while the test
reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks" / "tests"
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed with apt-get when missing and we are root."""
    if not CHROMIUM.exists():
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            unavailable("no /usr/bin/chromium: install it with `sudo apt-get install chromium`")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium"],
        ):
            run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
            if run.returncode != 0:
                unavailable(f"{' '.join(command)} failed: {run.stderr.strip()[-300:]}")
    if not CHROMIUM.exists():
        unavailable("apt-get installed no /usr/bin/chromium")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    flags: Path
    log: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def flag(self, name: str, text: str) -> None:
        """Let a waiting notebook cell go on (written whole, then renamed into place)."""
        tmp = self.flags / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(self.flags / name)

    def read_flag(self, name: str) -> str | None:
        """What the notebook wrote back under ``name`` (None until it has)."""
        path = self.flags / name
        return path.read_text() if path.exists() else None


def _write_settings(settings: Path) -> None:
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for name, content in files.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


@pytest.fixture
def jupyter_lab(tmp_path: Path) -> Iterator[callable]:
    """``start(env)`` -> a running JupyterLab whose kernels see ``env``; stopped afterwards."""
    if shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None:
        unavailable("JupyterLab is not installed (pip install -e '.[lab]')")
    started: list[tuple[subprocess.Popen[bytes], Lab]] = []

    def start(env: dict[str, str]) -> Lab:
        root = tmp_path / "lab"
        shutil.copytree(NOTEBOOKS, root)
        flags = tmp_path / "flags"
        flags.mkdir()
        settings = tmp_path / "settings"
        _write_settings(settings)
        port, token = free_port(), secrets.token_hex(16)
        full_env = {
            **os.environ,
            **env,
            "KAFKABOOK_TEST_FLAGS": str(flags),
            "KAFKABOOK_SESSION_FILE": str(tmp_path / "session.json"),
            "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
            "IPYTHONDIR": str(tmp_path / "ipython"),
        }
        command = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.token={token}",
            "--ServerApp.open_browser=False",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        log = tmp_path / "jupyter.log"
        proc = subprocess.Popen(
            command,
            env=full_env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        lab = Lab(url=url, token=token, root=root, flags=flags, log=log)
        started.append((proc, lab))
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        return lab

    yield start
    for proc, lab in started:
        stop_lab(proc, lab)


def stop_lab(proc: subprocess.Popen[bytes], lab: Lab) -> None:
    """Shut JupyterLab down with its kernels; kill whatever is left of it by pid.

    Kernels run in sessions of their own, so a signal to the server's process group misses
    them: ask the server to shut down (it stops its kernels), then kill the leftovers.
    """
    import psutil

    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.Error:
        family = []
    request = urllib.request.Request(
        f"{lab.url}/api/shutdown?token={lab.token}", method="POST", data=b""
    )
    try:
        urllib.request.urlopen(request, timeout=10).close()
        proc.wait(30)
    except (OSError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
    for member in family:
        with contextlib.suppress(psutil.Error):
            if member.is_running():
                member.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
