"""Fixtures for tests against a real Apache Kafka (the "oracle").

`jvm_cluster` is one 3-broker JVM cluster for the whole session: starting one costs ~10-15 s
on a 2-core machine, so every oracle test shares it. Each test gets it back with all brokers
running (a test that killed, stopped or paused a broker is undone after it).

Any test that uses `jvm_cluster` or `oracle_jars` is marked `oracle`. Without Java or the jars
the tests skip with the reason; under CI (CI=true) they fail instead, so a broken oracle never
looks green.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from kafkabook.backends.base import BackendError
from kafkabook.backends.jvm import JvmBackend, default_jars_dir, find_java, find_kafka_jar

REPO = Path(__file__).resolve().parents[2]
ORACLE_SCRIPT = REPO / "scripts" / "oracle-jars.sh"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip, except under CI, where a missing oracle is a failure."""
    if in_ci():
        pytest.fail(f"oracle unavailable under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needs_oracle = {"jvm_cluster", "jvm_session_cluster", "oracle_jars"}
    for item in items:
        if needs_oracle & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.oracle)


def _jars_dir() -> Path:
    env = os.environ.get("KAFKABOOK_ORACLE_JARS")
    return Path(env) if env else default_jars_dir()


@pytest.fixture(scope="session")
def oracle_jars() -> Path:
    """The directory of Kafka jars; fetched with scripts/oracle-jars.sh if Maven is there."""
    try:
        find_java()
    except BackendError as exc:
        unavailable(str(exc))
    jars = _jars_dir()
    try:
        find_kafka_jar(jars)
        return jars
    except BackendError as exc:
        missing = str(exc)
    if "KAFKABOOK_ORACLE_JARS" in os.environ:
        unavailable(f"{missing} (KAFKABOOK_ORACLE_JARS names it, so nothing is fetched)")
    if not shutil.which("mvn"):
        unavailable(f"{missing} (and no Maven to fetch them)")
    run = subprocess.run(["bash", str(ORACLE_SCRIPT)], capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        tail = (run.stderr.strip().splitlines() or ["no output"])[-1]
        unavailable(f"{missing}; fetching them failed: {tail}")
    return Path(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def jvm_session_cluster(
    oracle_jars: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JvmBackend]:
    backend = JvmBackend(
        tmp_path_factory.mktemp("jvm-cluster"),
        brokers=3,
        jars_dir=oracle_jars,
        fast_failover=True,
    )
    try:
        t0 = time.monotonic()
        backend.up()
        backend.session_ready_seconds = time.monotonic() - t0  # type: ignore[attr-defined]
        yield backend
    finally:
        backend.down()
    # Every JVM this session started is gone and reaped: no zombies, no stray brokers.
    left = [
        p.pid
        for p in psutil.Process().children(recursive=True)
        if "java" in (p.name() if p.is_running() else "")
    ]
    assert not left, f"JVMs left behind after down(): {left}"


@pytest.fixture
def jvm_cluster(jvm_session_cluster: JvmBackend) -> Iterator[JvmBackend]:
    """The session's JVM cluster with every broker running, before and after the test."""
    _heal(jvm_session_cluster)
    yield jvm_session_cluster
    _heal(jvm_session_cluster)


def _heal(backend: JvmBackend) -> None:
    status = backend.status()
    seen = set()
    for node in status.nodes:
        if node.node_id in seen:
            continue
        seen.add(node.node_id)
        if node.state == "paused":
            backend.resume(node.node_id)
        elif node.state in ("stopped", "killed"):
            backend.start(node.node_id)
