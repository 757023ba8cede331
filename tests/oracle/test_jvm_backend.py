"""The jvm backend against real Apache Kafka brokers.

Tests that take `jvm_cluster` are marked `oracle` by conftest.py and share one 3-broker
cluster; the others check the backend's error paths and need neither Java nor the jars.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from kafkabook.backends.base import BackendError, UnsupportedOperation
from kafkabook.backends.external import ExternalBackend, fetch_metadata
from kafkabook.backends.jvm import (
    DEFAULT_KAFKA_VERSION,
    JvmBackend,
    find_java,
    find_kafka_jar,
    free_ports,
    storage_tool_class,
)

REPO = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def brokers_up(backend: JvmBackend) -> list[tuple[str, int]]:
    return [(n.host, n.port) for n in backend.status().brokers if n.state == "running"]


def metadata_from_any(backend: JvmBackend, topics=None):
    for address in brokers_up(backend):
        try:
            return fetch_metadata(address, topics=topics, timeout=3.0)
        except BackendError:
            continue
    return None


def partition_state(backend: JvmBackend, topic: str):
    md = metadata_from_any(backend, topics=[topic])
    if md is None or topic not in md.topics or not md.topics[topic]:
        return None
    return md.partition(topic, 0)


def create_topic(bootstrap: str, name: str, partitions: int = 1, rf: int = 3) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=rf)])
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", retries=20, request_timeout_ms=15000
    )
    try:
        for v in values:
            producer.send(topic, value=v).get(timeout=30)
    finally:
        producer.close()


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[bytes]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(r.value for r in records)
        return got
    finally:
        consumer.close()


# ---------------------------------------------------------------------------------------------
# Against the running cluster (marked oracle by conftest.py)


def test_cluster_is_up_with_three_brokers_and_bounded_memory(jvm_cluster: JvmBackend):
    status = jvm_cluster.status()
    assert status.backend == "jvm"
    assert [b.node_id for b in status.brokers] == [1, 2, 3]
    assert all(b.state == "running" and b.pid for b in status.brokers)
    assert [c.node_id for c in status.controllers] == [1, 2, 3]  # combined mode
    assert all(b.host == "127.0.0.1" for b in status.nodes)
    md = fetch_metadata(status.bootstrap.split(",")[0])
    assert md.broker_ids == {1, 2, 3}
    assert md.cluster_id == jvm_cluster.cluster().cluster_id
    rss = jvm_cluster.rss()
    assert set(rss) == {1, 2, 3}
    # -Xmx512m: a broker's resident set stays well under a gigabyte.
    assert all(100 * 2**20 < r < 1024 * 2**20 for r in rss.values()), rss
    ready = getattr(jvm_cluster, "session_ready_seconds", None)
    print(f"\nready after {ready:.1f}s; RSS MiB:", {k: v >> 20 for k, v in rss.items()})
    # Each process really listens on 127.0.0.1 only.
    for node in status.nodes:
        conns = psutil.Process(node.pid).net_connections(kind="tcp")
        listening = {c.laddr for c in conns if c.status == psutil.CONN_LISTEN}
        assert all(addr.ip == "127.0.0.1" for addr in listening), listening


def test_rf3_topic_produce_consume_and_leader_failover(jvm_cluster: JvmBackend):
    bootstrap = jvm_cluster.bootstrap
    topic = f"failover-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, rf=3)
    p = wait_for(
        lambda: (s := partition_state(jvm_cluster, topic)) and len(s.isr) == 3 and s,
        30,
        "a 3-replica ISR",
    )
    assert sorted(p.replicas) == [1, 2, 3]

    first = [f"before-{i}".encode() for i in range(20)]
    produce(bootstrap, topic, first)
    assert consume_all(bootstrap, topic, len(first)) == first

    leader = p.leader
    t0 = time.monotonic()
    jvm_cluster.kill(leader)
    states = {n.node_id: n.state for n in jvm_cluster.status().brokers}
    assert states[leader] == "killed"
    assert all(st == "running" for n, st in states.items() if n != leader)

    def new_leader():
        s = partition_state(jvm_cluster, topic)
        return s is not None and s.leader not in (leader, -1) and s

    moved = wait_for(new_leader, 60, "a new leader")
    failover = time.monotonic() - t0
    print(f"\nleader {leader} -> {moved.leader} in {failover:.1f}s")
    assert leader not in moved.isr

    # Still writable with acks=all on the two survivors, and nothing acknowledged was lost.
    survivors = ",".join(f"{h}:{port}" for h, port in brokers_up(jvm_cluster))
    second = [f"after-{i}".encode() for i in range(10)]
    produce(survivors, topic, second)
    assert consume_all(survivors, topic, 30) == first + second

    jvm_cluster.start(leader)
    assert {n.node_id: n.state for n in jvm_cluster.status().brokers}[leader] == "running"
    back = wait_for(
        lambda: (s := partition_state(jvm_cluster, topic)) and len(s.isr) == 3 and s,
        60,
        "the restarted broker back in the ISR",
    )
    assert leader in back.isr


def test_controlled_stop_moves_leadership_and_start_rejoins(jvm_cluster: JvmBackend):
    bootstrap = jvm_cluster.bootstrap
    topic = f"stop-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, rf=3)
    p = wait_for(
        lambda: (s := partition_state(jvm_cluster, topic)) and len(s.isr) == 3 and s, 30, "ISR 3"
    )
    leader = p.leader
    pid = {n.node_id: n.pid for n in jvm_cluster.status().brokers}[leader]
    jvm_cluster.stop(leader)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert {n.node_id: n.state for n in jvm_cluster.status().brokers}[leader] == "stopped"
    # A controlled shutdown hands leadership over before the process exits.
    s = wait_for(lambda: partition_state(jvm_cluster, topic), 10, "metadata")
    assert s.leader not in (leader, -1)
    jvm_cluster.start(leader)
    assert fetch_metadata(
        next(f"{n.host}:{n.port}" for n in jvm_cluster.status().brokers if n.node_id == leader)
    ).broker_ids == {1, 2, 3}


def test_pause_and_resume(jvm_cluster: JvmBackend):
    victim = 3
    jvm_cluster.pause(victim)
    node = next(n for n in jvm_cluster.status().brokers if n.node_id == victim)
    assert node.state == "paused"
    assert psutil.Process(node.pid).status() == psutil.STATUS_STOPPED
    # A paused broker holds its socket open but answers nothing.
    with pytest.raises(BackendError):
        fetch_metadata((node.host, node.port), timeout=1.5)
    jvm_cluster.resume(victim)
    assert next(n for n in jvm_cluster.status().brokers if n.node_id == victim).state == "running"
    assert fetch_metadata((node.host, node.port), timeout=10).broker_ids >= {victim}


def test_external_backend_sees_the_jvm_cluster(jvm_cluster: JvmBackend):
    ext = ExternalBackend(jvm_cluster.bootstrap)
    status = ext.status()
    assert [(b.node_id, b.host, b.port) for b in status.brokers] == [
        (b.node_id, b.host, b.port) for b in jvm_cluster.status().brokers
    ]
    assert all(b.pid is None for b in status.brokers)
    with pytest.raises(UnsupportedOperation):
        ext.kill(1)


def test_kafka_cli_tool_lists_topics(jvm_cluster: JvmBackend):
    topic = f"cli-{uuid.uuid4().hex[:8]}"
    create_topic(jvm_cluster.bootstrap, topic, rf=2)
    cmd = jvm_cluster.tool_command(
        "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", jvm_cluster.bootstrap, "--list"
    )
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert topic in out.stdout.split()


def test_down_stops_everything_and_up_reattaches_with_data(jvm_cluster: JvmBackend):
    bootstrap = jvm_cluster.bootstrap
    topic = f"persist-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, rf=3)
    wait_for(lambda: partition_state(jvm_cluster, topic), 30, "the topic")
    values = [f"v{i}".encode() for i in range(5)]
    produce(bootstrap, topic, values)
    pids = [n.pid for n in jvm_cluster.status().brokers]
    ports = [n.port for n in jvm_cluster.status().nodes]

    jvm_cluster.down()
    assert all(n.state == "stopped" and n.pid is None for n in jvm_cluster.status().nodes)
    for pid in pids:
        assert not psutil.pid_exists(pid), f"pid {pid} left behind (zombie?)"
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
    assert not list(Path(jvm_cluster.data_dir).glob("node-*.pid"))

    # A new backend object over the same directory: same ports, same cluster, same data.
    again = JvmBackend(
        jvm_cluster.data_dir, brokers=3, jars_dir=jvm_cluster.jars_dir, fast_failover=True
    )
    status = again.up()
    assert status.bootstrap == bootstrap
    assert consume_all(bootstrap, topic, len(values)) == values
    # Reattaching to a running cluster starts nothing new, and the session's backend object
    # sees the processes that `again` started as running.
    before = [n.pid for n in again.status().brokers]
    assert [n.pid for n in JvmBackend(again.data_dir, brokers=3).up().brokers] == before
    assert [(n.pid, n.state) for n in jvm_cluster.status().brokers] == [
        (pid, "running") for pid in before
    ]


def test_separate_controller_with_a_dynamic_quorum(oracle_jars: Path, tmp_path: Path):
    """kraft.py's other shape: a controller-only node 0, two pure brokers, KIP-853 quorum."""
    backend = JvmBackend(
        tmp_path / "sep", brokers=2, jars_dir=oracle_jars, mode="separate", quorum="dynamic"
    )
    try:
        status = backend.up()
        assert [(n.role, n.node_id) for n in status.nodes] == [
            ("controller", 0),
            ("broker", 1),
            ("broker", 2),
        ]
        props = (tmp_path / "sep" / "config" / "node-1.properties").read_text()
        assert "controller.quorum.bootstrap.servers=" in props
        assert fetch_metadata(status.bootstrap.split(",")[1]).broker_ids == {1, 2}
        topic = f"sep-{uuid.uuid4().hex[:8]}"
        create_topic(status.bootstrap, topic, rf=2)
        wait_for(lambda: partition_state(backend, topic), 30, "the topic")
        produce(status.bootstrap, topic, [b"x", b"y"])
        assert consume_all(status.bootstrap, topic, 2) == [b"x", b"y"]
        # Brokers stop before the controller they need for a controlled shutdown: no waiting
        # out the stop timeout.
        t0 = time.monotonic()
        backend.down()
        assert time.monotonic() - t0 < 30
    finally:
        backend.down()
    assert all(n.state == "stopped" for n in backend.status().nodes)


def test_up_refuses_a_different_shape(jvm_cluster: JvmBackend):
    with pytest.raises(BackendError, match="3-broker"):
        JvmBackend(jvm_cluster.data_dir, brokers=1, jars_dir=jvm_cluster.jars_dir).up()


# ---------------------------------------------------------------------------------------------
# Error paths and helpers: no Java, no jars needed


def test_missing_jars_is_one_clear_line(tmp_path: Path):
    empty = tmp_path / "libs"
    empty.mkdir()
    backend = JvmBackend(tmp_path / "d", jars_dir=empty, java=sys.executable)
    with pytest.raises(BackendError) as err:
        backend.up()
    msg = str(err.value)
    assert msg == f"Apache Kafka jars not found in {empty}: run `make oracle-jars`"
    assert "\n" not in msg


def test_missing_java_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(BackendError, match=r"Java not found .*install a JDK 17\+") as err:
        find_java()
    assert "\n" not in str(err.value)
    with pytest.raises(BackendError, match="Java not found"):
        JvmBackend(tmp_path / "d", jars_dir=tmp_path).up()


def test_kafka_jar_detection(tmp_path: Path):
    import zipfile

    jar = tmp_path / "kafka_2.13-9.8.7.jar"
    with zipfile.ZipFile(jar, "w") as zf:
        zf.writestr("kafka/tools/StorageTool.class", b"\xca\xfe\xba\xbe")
    (tmp_path / "kafka_2.13-9.8.7-test.jar").write_bytes(b"")
    (tmp_path / "kafka-clients-9.8.7.jar").write_bytes(b"")
    assert find_kafka_jar(tmp_path) == (jar, "9.8.7")
    assert storage_tool_class(jar) == "kafka.tools.StorageTool"
    (tmp_path / "kafka_2.13-1.0.0.jar").write_bytes(b"")
    with pytest.raises(BackendError, match="several Kafka versions"):
        find_kafka_jar(tmp_path)
    other = tmp_path / "other.jar"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("kafka/Kafka.class", b"")
    with pytest.raises(BackendError, match="no StorageTool"):
        storage_tool_class(other)


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(6)
    assert len(set(ports)) == 6
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_data_dir_of_another_backend_is_refused(tmp_path: Path):
    (tmp_path / "cluster.json").write_text('{"backend": "bundled"}')
    with pytest.raises(BackendError, match="holds a bundled cluster"):
        JvmBackend(tmp_path).status()


def test_status_before_up_is_empty_and_faults_need_a_cluster(tmp_path: Path):
    backend = JvmBackend(tmp_path / "nothing")
    assert backend.status().nodes == ()
    for op in (backend.kill, backend.stop, backend.pause, backend.resume, backend.start):
        with pytest.raises(BackendError, match="call up"):
            op(1)
    backend.down()  # nothing to stop: no error


def test_default_version_matches_the_pom_and_the_script():
    pom = (REPO / "oracle" / "pom.xml").read_text()
    assert f"<kafka.version>{DEFAULT_KAFKA_VERSION}</kafka.version>" in pom
    script = REPO / "scripts" / "oracle-jars.sh"
    assert os.access(script, os.X_OK)
    out = subprocess.run(
        ["bash", str(script), "--check"],
        capture_output=True,
        text=True,
        env={**os.environ, "KAFKABOOK_ORACLE_DIR": "/nonexistent/kafkabook-oracle"},
        timeout=30,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"oracle-jars: Apache Kafka {DEFAULT_KAFKA_VERSION} jars not found in "
        "/nonexistent/kafkabook-oracle/libs: run `make oracle-jars`"
    )


def test_a_crashed_process_shows_as_killed(tmp_path: Path):
    """A node whose process vanished without kill()/stop() is reported as killed."""
    backend = JvmBackend(tmp_path)
    state = backend._new_state()
    # A process that is no Kafka at all: the backend must not take its pid for a broker.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        state["nodes"]["1"] = {"pid": sleeper.pid, "state": "running"}
        backend._save_state(state)
        states = {n.node_id: n.state for n in backend.status().brokers}
        assert states[1] == "killed"
        assert states[2] == "stopped"
    finally:
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait()
