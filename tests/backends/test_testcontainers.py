"""The testcontainers backend: configuration and container command without Docker, and an
end-to-end run that needs a Docker engine (skipped with the reason when none answers)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from kafkabook.backends.base import BackendError
from kafkabook.backends.external import fetch_metadata
from kafkabook.backends.kraft import parse_properties
from kafkabook.backends.testcontainers import (
    DEFAULT_IMAGE,
    PROPERTIES_ENV,
    TestcontainersBackend,
    alias,
    container_env,
    container_script,
    docker_engine_problem,
    plan_container_cluster,
)

CID = "MkU3OEVBNTcwNTJENDM2Qg"


def test_three_brokers_advertise_aliases_inside_and_loopback_outside():
    cluster = plan_container_cluster(brokers=3, host_ports=[31001, 31002, 31003], cluster_id=CID)
    assert [n.node_id for n in cluster.controllers] == [1, 2, 3]
    p = cluster.properties(3)
    assert p["listeners"] == (
        "INTERNAL://0.0.0.0:19092,EXTERNAL://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093"
    )
    assert p["advertised.listeners"] == (
        "INTERNAL://kafka-3:19092,EXTERNAL://127.0.0.1:31003,CONTROLLER://kafka-3:9093"
    )
    assert p["inter.broker.listener.name"] == "INTERNAL"
    assert p["controller.quorum.voters"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    assert p["listener.security.protocol.map"] == (
        "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    )
    assert p["offsets.topic.replication.factor"] == "3"
    assert cluster.bootstrap_servers() == "127.0.0.1:31001,127.0.0.1:31002,127.0.0.1:31003"
    assert alias(3) == "kafka-3"


@pytest.mark.parametrize(
    ("brokers", "voters"), [(1, [1]), (2, [1]), (3, [1, 2, 3]), (5, [1, 2, 3])]
)
def test_voter_count(brokers, voters):
    cluster = plan_container_cluster(brokers=brokers, host_ports=list(range(1, brokers + 1)))
    assert [n.node_id for n in cluster.controllers] == voters
    for node in cluster.nodes:
        has_ctl = "CONTROLLER://" in cluster.properties(node.node_id)["listeners"]
        assert has_ctl is (node.node_id in voters)


def test_overrides_and_fast_failover_reach_the_properties():
    cluster = plan_container_cluster(
        brokers=1, host_ports=[1], fast_failover=True, overrides={"num.partitions": "4"}
    )
    p = cluster.properties(1)
    assert p["num.partitions"] == "4"
    assert p["broker.session.timeout.ms"] == "3000"
    assert p["offsets.topic.replication.factor"] == "1"


def test_plan_rejects_wrong_port_count():
    with pytest.raises(ValueError, match="host ports"):
        plan_container_cluster(brokers=2, host_ports=[1])


def _fake_kafka_bin(tmp_path: Path, format_rc: int = 0) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    (bin_dir / "kafka-storage.sh").write_text(
        f'#!/bin/sh\necho "storage $*" >> {log}\nexit {format_rc}\n'
    )
    (bin_dir / "kafka-server-start.sh").write_text(
        f'#!/bin/sh\necho "start $*" >> {log}\ncp "$1" {tmp_path}/seen.properties\n'
    )
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return bin_dir


def test_container_script_writes_the_properties_formats_then_starts(tmp_path: Path):
    cluster = plan_container_cluster(brokers=3, host_ports=[31001, 31002, 31003], cluster_id=CID)
    bin_dir = _fake_kafka_bin(tmp_path)
    env = {**container_env(cluster, 2), "PATH": os.environ["PATH"]}
    props = str(tmp_path / "server.properties")
    script = container_script(cluster, 2, kafka_bin=str(bin_dir), properties_path=props)
    run = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, timeout=30)
    assert run.returncode == 0, run.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        f"storage format --config {props} --cluster-id {CID} --ignore-formatted",
        f"start {props}",
    ]
    seen = (tmp_path / "seen.properties").read_text()
    assert seen == cluster.server_properties(2)
    assert parse_properties(seen)["node.id"] == "2"


def test_container_script_does_not_start_when_format_fails(tmp_path: Path):
    cluster = plan_container_cluster(brokers=1, host_ports=[31001], cluster_id=CID)
    bin_dir = _fake_kafka_bin(tmp_path, format_rc=3)
    env = {**container_env(cluster, 1), "PATH": os.environ["PATH"]}
    run = subprocess.run(
        [
            "/bin/sh",
            "-c",
            container_script(
                cluster, 1, kafka_bin=str(bin_dir), properties_path=str(tmp_path / "p")
            ),
        ],
        env=env,
        capture_output=True,
        timeout=30,
    )
    assert run.returncode == 3
    assert [c.split()[0] for c in (tmp_path / "calls").read_text().splitlines()] == ["storage"]
    assert (tmp_path / "p").read_text() == cluster.server_properties(1)


def test_container_env():
    cluster = plan_container_cluster(brokers=1, host_ports=[31001], cluster_id=CID)
    env = container_env(cluster, 1, heap="-Xmx256m")
    assert env == {PROPERTIES_ENV: cluster.server_properties(1), "KAFKA_HEAP_OPTS": "-Xmx256m"}


def test_default_image_follows_the_oracle_version():
    from kafkabook.backends.jvm import DEFAULT_KAFKA_VERSION

    assert DEFAULT_IMAGE.split(":") == ["apache/kafka", DEFAULT_KAFKA_VERSION]
    assert TestcontainersBackend().image == DEFAULT_IMAGE


def test_missing_packages_are_one_clear_line(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "testcontainers", None)
    with pytest.raises(BackendError) as err:
        TestcontainersBackend(brokers=1).up()
    assert str(err.value) == (
        "the testcontainers backend needs the docker package: "
        "pip install 'kafkabook[containers]', or use the bundled backend (the default), "
        "which needs no Docker"
    )


def test_no_engine_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    pytest.importorskip("docker", reason="the containers extra is not installed")
    pytest.importorskip("testcontainers", reason="the containers extra is not installed")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    backend = TestcontainersBackend(brokers=1)
    with pytest.raises(BackendError) as err:
        backend.up()
    msg = str(err.value)
    assert msg.startswith(f"no Docker engine answers at unix://{tmp_path}/no-docker.sock: ")
    assert "bundled backend" in msg
    assert "\n" not in msg
    assert backend.status().nodes == ()


def test_faults_before_up_need_containers():
    backend = TestcontainersBackend(brokers=1)
    for op in (backend.kill, backend.stop, backend.start, backend.pause, backend.resume):
        with pytest.raises(BackendError, match="call up"):
            op(1)
    backend.down()
    backend.remove()


# ---------------------------------------------------------------------------------------------
# End to end, with a Docker engine


@pytest.fixture(scope="module")
def docker_cluster():
    problem = docker_engine_problem()
    if problem:
        pytest.skip(f"needs a Docker engine: {problem}")
    backend = TestcontainersBackend(brokers=3, fast_failover=True)
    try:
        backend.up()
        yield backend
    finally:
        backend.down()
        backend.remove()


@pytest.mark.docker
def test_three_containers_fail_over_and_recover(docker_cluster: TestcontainersBackend):
    from kafka.admin import KafkaAdminClient, NewTopic

    status = docker_cluster.status()
    assert [(b.node_id, b.host, b.state) for b in status.brokers] == [
        (1, "127.0.0.1", "running"),
        (2, "127.0.0.1", "running"),
        (3, "127.0.0.1", "running"),
    ]
    topic = f"tc-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=status.bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=3)])
    finally:
        admin.close()

    def partition():
        for b in docker_cluster.status().brokers:
            if b.state != "running":
                continue
            try:
                md = fetch_metadata((b.host, b.port), topics=[topic], timeout=3)
                if md.topics.get(topic):
                    return md.partition(topic, 0)
            except BackendError:
                continue
        return None

    deadline = time.monotonic() + 60
    while (p := partition()) is None or len(p.isr) < 3:
        assert time.monotonic() < deadline, "the topic never got 3 in-sync replicas"
        time.sleep(0.5)
    leader = p.leader
    docker_cluster.kill(leader)
    assert {b.node_id: b.state for b in docker_cluster.status().brokers}[leader] == "killed"
    deadline = time.monotonic() + 60
    while (p := partition()) is None or p.leader in (leader, -1):
        assert time.monotonic() < deadline, "no new leader after the kill"
        time.sleep(0.5)
    docker_cluster.start(leader)
    docker_cluster.pause(leader)
    assert {b.node_id: b.state for b in docker_cluster.status().brokers}[leader] == "paused"
    docker_cluster.resume(leader)
    docker_cluster.stop(leader)
    assert {b.node_id: b.state for b in docker_cluster.status().brokers}[leader] == "stopped"
    docker_cluster.up()
    assert all(b.state == "running" for b in docker_cluster.status().brokers)
