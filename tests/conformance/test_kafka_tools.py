"""Apache Kafka's own command line tools against the bundled cluster.

Each tool runs as its main class with `java -cp "<jars>/*"` (the jars `make oracle-jars`
fetches), as `kafka-topics.sh` and friends do (in Kafka 4 every one of them lives in
org.apache.kafka.tools; kafka.admin.TopicCommand is gone): kafka-topics, kafka-console-producer and
-consumer with key and header properties, kafka-configs, kafka-producer-perf-test, and, where
the bundled broker offers the group APIs, kafka-consumer-perf-test and kafka-consumer-groups.
What they print is checked, and what they did is checked again over the protocol.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from kafkabook.backends.bundled import BundledBackend
from kafkabook.backends.jvm import find_java

from .kit import (
    EARLIEST,
    LATEST,
    Rec,
    Target,
    documented,
    kafka_partition,
    unique,
    wait_for,
)

pytestmark = pytest.mark.oracle

TOPICS = "org.apache.kafka.tools.TopicCommand"
CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
CONFIGS = "org.apache.kafka.tools.ConfigCommand"
GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERF = "org.apache.kafka.tools.ConsumerPerformance"

# Warnings and errors on stderr; the tools' own output on stdout untouched.
LOG4J2 = """\
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
"""


@dataclass
class Tools:
    jars: Path
    log4j: Path
    bootstrap: str
    #: A dynamic class-data-sharing archive, written by the first run and read by the others:
    #: it halves the CPU a tool needs to start (the classes come mapped, not parsed).
    archive: Path

    def run(
        self,
        main_class: str,
        *args: str,
        stdin: str | None = None,
        expect_rc: int = 0,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            find_java(),
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",  # short-lived: the C1 compiler alone starts faster
            f"-XX:{'SharedArchiveFile' if self.archive.exists() else 'ArchiveClassesAtExit'}"
            f"={self.archive}",
            "-Xlog:disable",  # nothing from the JVM's own logging on stdout
            "-Xlog:all=error:stderr",
            f"-Dlog4j2.configurationFile={self.log4j}",
            "-cp",
            f"{self.jars}/*",
            main_class,
            *args,
        ]
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == expect_rc, (
            f"{main_class.rsplit('.', 1)[-1]} {' '.join(args)} exited {done.returncode}\n"
            f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-3000:]}"
        )
        return done

    def topics(self, *args: str, expect_rc: int = 0) -> subprocess.CompletedProcess[str]:
        return self.run(TOPICS, "--bootstrap-server", self.bootstrap, *args, expect_rc=expect_rc)

    def configs(self, *args: str) -> str:
        return self.run(CONFIGS, "--bootstrap-server", self.bootstrap, *args).stdout

    def groups(self, *args: str) -> str:
        return self.run(GROUPS, "--bootstrap-server", self.bootstrap, *args).stdout


@pytest.fixture(scope="module")
def bundled(bundled_shared: BundledBackend) -> Target:
    return Target("bundled", bundled_shared)


@pytest.fixture(scope="module")
def tools(kafka_jars: Path, bundled: Target, tmp_path_factory: pytest.TempPathFactory) -> Tools:
    folder = tmp_path_factory.mktemp("tools")
    log4j = folder / "log4j2.properties"
    log4j.write_text(LOG4J2)
    return Tools(kafka_jars, log4j, bundled.bootstrap, folder / "tools.jsa")


def has_group_apis(target: Target) -> bool:
    answer = target.call("ApiVersions", client_software_name="t", client_software_version="1")
    keys = {k["api_key"] for k in answer["api_keys"]}
    return {10, 11, 12, 13, 14, 8, 9} <= keys  # FindCoordinator ... OffsetCommit/Fetch


@pytest.fixture
def groups_offered(bundled: Target) -> None:
    if not has_group_apis(bundled):
        pytest.skip("the bundled broker does not offer the group APIs (JoinGroup ...) yet")


def parse_fields(line: str) -> dict[str, str]:
    """`Topic: t\tPartition: 0\tLeader: 1 ...` -> {"Topic": "t", "Partition": "0", ...}."""
    fields = {}
    for part in line.strip().split("\t"):
        key, _, value = part.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def describe_topic(tools: Tools, name: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    out = tools.topics("--describe", "--topic", name).stdout
    header, *partitions = [line for line in out.splitlines() if line.strip()]
    return parse_fields(header), [parse_fields(p) for p in partitions]


# ---------------------------------------------------------------------------------------------
# kafka-topics


def test_kafka_topics_create_describe_alter_delete(tools: Tools, bundled: Target) -> None:
    name = unique("tool-topic")
    out = tools.topics(
        "--create",
        "--topic",
        name,
        "--partitions",
        "3",
        "--replication-factor",
        "2",
        "--config",
        "retention.ms=86400000",
    ).stdout
    assert out.strip() == f"Created topic {name}."
    bundled.wait_topic(name, 3)

    header, partitions = describe_topic(tools, name)
    assert header["Topic"] == name
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", header["TopicId"])
    assert (header["PartitionCount"], header["ReplicationFactor"]) == ("3", "2")
    # Every config not at its default: the override and the shared clusters' static
    # log.cleaner.delete.retention.ms.
    assert sorted(header["Configs"].split(",")) == [
        "delete.retention.ms=3600000",
        "retention.ms=86400000",
    ]
    metadata = bundled.partitions(name)
    for p in partitions:
        index = int(p["Partition"])
        replicas = [int(b) for b in p["Replicas"].split(",")]
        assert replicas == metadata[index]["replicas"] and len(replicas) == 2
        assert int(p["Leader"]) == replicas[0]
        assert sorted(int(b) for b in p["Isr"].split(",")) == sorted(replicas)
        # No DescribeTopicPartitions API: a documented difference (Kafka prints empty lists).
        assert (p["Elr"], p["LastKnownElr"]) == ("N/A", "N/A")
        assert documented("`kafka-topics --describe` prints `Elr: N/A` and `LastKnownElr: N/A`")
    assert sorted(int(p["Partition"]) for p in partitions) == [0, 1, 2]

    tools.topics("--alter", "--topic", name, "--partitions", "5")
    bundled.wait_topic(name, 5)

    again = tools.topics("--create", "--topic", name, "--partitions", "1", expect_rc=1)
    assert f"Topic '{name}' already exists" in again.stdout + again.stderr
    missing = tools.topics("--describe", "--topic", unique("nosuch"), expect_rc=1)
    assert "does not exist" in missing.stdout + missing.stderr

    assert name in tools.topics("--list").stdout.split()
    tools.topics("--delete", "--topic", name)
    wait_for(lambda: bundled.topic(name)["error_code"] == 3, 20, f"{name} deleted")


# ---------------------------------------------------------------------------------------------
# kafka-console-producer and kafka-console-consumer


def keys_for_partition(partition: int, partitions: int, count: int, prefix: str) -> list[str]:
    """`count` keys that Kafka's default partitioner puts in `partition`."""
    keys = []
    i = 0
    while len(keys) < count:
        key = f"{prefix}{i}"
        if kafka_partition(key.encode(), partitions) == partition:
            keys.append(key)
        i += 1
    return keys


def test_console_producer_keys_and_headers(tools: Tools, bundled: Target) -> None:
    name = bundled.create_topic(unique("tool-console"), 3, 2)
    plain_keys = [f"k{i}" for i in range(9)]
    lines = [f"{k}|value of {k}" for k in plain_keys]
    tools.run(
        CONSOLE_PRODUCER,
        "--bootstrap-server",
        tools.bootstrap,
        "--topic",
        name,
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=|",
        stdin="\n".join(lines) + "\n",
    )
    header_keys = keys_for_partition(1, 3, 2, "h")
    tools.run(
        CONSOLE_PRODUCER,
        "--bootstrap-server",
        tools.bootstrap,
        "--topic",
        name,
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=|",
        "--property",
        "parse.headers=true",
        "--property",
        "headers.delimiter=^",
        "--property",
        "headers.separator=;",
        "--property",
        "headers.key.separator=:",
        stdin=f"trace:abc;lang:py^{header_keys[0]}|first\nempty:^{header_keys[1]}|second\n",
    )
    # Where Kafka's partitioner says, with the headers as given.
    stored = {}
    for p in range(3):
        for r in bundled.fetch(name, p, 0)["records"]:
            stored[r.key.decode()] = (p, r.value.decode(), r.headers)
    expected = {k: (kafka_partition(k.encode(), 3), f"value of {k}", ()) for k in plain_keys}
    expected[header_keys[0]] = (1, "first", (("trace", b"abc"), ("lang", b"py")))
    expected[header_keys[1]] = (1, "second", (("empty", b""),))
    assert stored == expected

    in_p1 = sum(1 for p, _, _ in expected.values() if p == 1)
    out = tools.run(
        CONSOLE_CONSUMER,
        "--bootstrap-server",
        tools.bootstrap,
        "--topic",
        name,
        "--partition",
        "1",
        "--from-beginning",
        "--max-messages",
        str(in_p1),
        "--timeout-ms",
        "30000",
        "--formatter-property",
        "print.key=true",
        "--formatter-property",
        "print.partition=true",
        "--formatter-property",
        "print.offset=true",
        "--formatter-property",
        "print.headers=true",
    )
    printed = out.stdout.splitlines()
    assert f"Processed a total of {in_p1} messages" in out.stderr + out.stdout
    # One producer, then the other: partition 1 holds its plain keys in order, then the two
    # with headers.
    ordered = [(k, expected[k]) for k in plain_keys if expected[k][0] == 1]
    ordered += [(k, expected[k]) for k in header_keys]
    want = []
    for offset, (key, (_, value, headers)) in enumerate(ordered):
        shown = ",".join(f"{h}:{v.decode()}" for h, v in headers) or "NO_HEADERS"
        want.append(f"Partition:1\tOffset:{offset}\t{shown}\t{key}\t{value}")
    assert printed == want


# ---------------------------------------------------------------------------------------------
# kafka-configs


def test_kafka_configs_alter_and_describe(tools: Tools, bundled: Target) -> None:
    name = bundled.create_topic(unique("tool-configs"), 1, 3)
    topic = ("--entity-type", "topics", "--entity-name", name)
    out = tools.configs(
        *topic, "--alter", "--add-config", "retention.ms=5000,cleanup.policy=[compact,delete]"
    )
    assert out.strip() == f"Completed updating config for topic {name}."
    described = tools.configs(*topic, "--describe").splitlines()
    assert described[0] == f"Dynamic configs for topic {name} are:"
    entries = sorted(line.strip() for line in described[1:])
    assert entries[0] == (
        "cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:"
        "cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}"
    )
    # (Kafka lists no further synonym for retention.ms: a known bug, test_configs.py.)
    assert entries[1].startswith(
        "retention.ms=5000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=5000"
    )
    assert len(entries) == 2
    configs = bundled.describe_configs(2, name)["configs"]
    assert (configs["retention.ms"]["value"], configs["cleanup.policy"]["value"]) == (
        "5000",
        "compact,delete",
    )

    tools.configs(*topic, "--alter", "--delete-config", "retention.ms")
    configs = bundled.describe_configs(2, name)["configs"]
    assert (configs["retention.ms"]["config_source"], configs["cleanup.policy"]["value"]) == (
        5,  # DEFAULT_CONFIG
        "compact,delete",
    )

    broker = tools.configs("--entity-type", "brokers", "--entity-name", "1", "--describe", "--all")
    lines = {line.strip().split("=", 1)[0]: line.strip() for line in broker.splitlines()[1:]}
    assert broker.splitlines()[0] == "All configs for broker 1 are:"
    assert lines["log.retention.hours"] == (
        "log.retention.hours=100 sensitive=false synonyms={STATIC_BROKER_CONFIG:"
        "log.retention.hours=100, DEFAULT_CONFIG:log.retention.hours=168}"
    )
    assert lines["log.segment.bytes"] == (
        "log.segment.bytes=1073741824 sensitive=false synonyms={DEFAULT_CONFIG:"
        "log.segment.bytes=1073741824}"
    )


# ---------------------------------------------------------------------------------------------
# Performance tools (small record counts)


def test_producer_perf_test(tools: Tools, bundled: Target) -> None:
    name = bundled.create_topic(unique("tool-perf"), 3, 2)
    out = tools.run(
        PRODUCER_PERF,
        "--bootstrap-server",
        tools.bootstrap,
        "--topic",
        name,
        "--num-records",
        "3000",
        "--record-size",
        "100",
        "--throughput",
        "-1",
        "--command-property",
        "acks=all",
        "linger.ms=5",
    ).stdout
    summary = out.strip().splitlines()[-1]
    assert re.match(r"3000 records sent, [\d.]+ records/sec", summary), out
    ends = [bundled.list_offsets(name, p, LATEST)["offset"] for p in range(3)]
    assert sum(ends) == 3000
    assert [bundled.list_offsets(name, p, EARLIEST)["offset"] for p in range(3)] == [0, 0, 0]


def test_consumer_perf_test(tools: Tools, bundled: Target, groups_offered: None) -> None:
    name = bundled.create_topic(unique("tool-cperf"), 2, 2)
    tools.run(
        PRODUCER_PERF,
        "--bootstrap-server",
        tools.bootstrap,
        "--topic",
        name,
        "--num-records",
        "1500",
        "--record-size",
        "50",
        "--throughput",
        "-1",
    )
    out = tools.run(
        CONSUMER_PERF,
        "--bootstrap-server",
        tools.bootstrap,
        "--topic",
        name,
        "--num-records",
        "1500",
        "--timeout",
        "30000",
    ).stdout
    header, row = [line for line in out.splitlines() if line.strip()][-2:]
    stats = dict(
        zip(
            [c.strip() for c in header.split(",")], [v.strip() for v in row.split(",")], strict=True
        )
    )
    assert int(stats["data.consumed.in.nMsg"]) == 1500
    assert float(stats["data.consumed.in.MB"]) == pytest.approx(1500 * 50 / 1024 / 1024, rel=0.01)


# ---------------------------------------------------------------------------------------------
# kafka-consumer-groups


def group_rows(out: str) -> dict[int, dict[str, str]]:
    """Partition -> row of a `--describe` or `--reset-offsets` table."""
    lines = [line.split() for line in out.splitlines() if line.strip()]
    head = next(i for i, cols in enumerate(lines) if cols[:2] == ["GROUP", "TOPIC"])
    names = lines[head]
    return {
        int(dict(zip(names, cols, strict=False))["PARTITION"]): dict(zip(names, cols, strict=False))
        for cols in lines[head + 1 :]
    }


def test_consumer_groups_describe_and_reset(
    tools: Tools, bundled: Target, groups_offered: None
) -> None:
    name = bundled.create_topic(unique("tool-groups"), 3, 2)
    group = unique("tool-group")
    keys = [f"key{i}" for i in range(12)]
    for k in keys:
        bundled.produce(
            name, kafka_partition(k.encode(), 3), [Rec(f"value-{k}".encode(), key=k.encode())]
        )
    ends = {p: bundled.list_offsets(name, p, LATEST)["offset"] for p in range(3)}
    assert sum(ends.values()) == 12

    out = tools.run(
        CONSOLE_CONSUMER,
        "--bootstrap-server",
        tools.bootstrap,
        "--topic",
        name,
        "--group",
        group,
        "--from-beginning",
        "--max-messages",
        "12",
        "--timeout-ms",
        "30000",
        "--property",  # the older spelling of --formatter-property, still accepted
        "print.key=true",
    )
    deprecation = "Option --property is deprecated"
    printed = [line for line in out.stdout.splitlines() if not line.startswith(deprecation)]
    assert sorted(printed) == sorted(f"{k}\tvalue-{k}" for k in keys)

    rows = group_rows(tools.groups("--describe", "--group", group))
    assert {
        p: (r["TOPIC"], r["CURRENT-OFFSET"], r["LOG-END-OFFSET"], r["LAG"]) for p, r in rows.items()
    } == {p: (name, str(end), str(end), "0") for p, end in ends.items()}

    reset = group_rows(
        tools.groups(
            "--reset-offsets", "--group", group, "--topic", name, "--to-earliest", "--execute"
        )
    )
    assert {p: r["NEW-OFFSET"] for p, r in reset.items()} == {0: "0", 1: "0", 2: "0"}
    dry = group_rows(
        tools.groups(
            "--reset-offsets",
            "--group",
            group,
            "--topic",
            f"{name}:1",
            "--to-offset",
            "1",
            "--dry-run",
        )
    )
    assert {p: r["NEW-OFFSET"] for p, r in dry.items()} == {1: "1"}
    rows = group_rows(tools.groups("--describe", "--group", group))
    assert {p: (r["CURRENT-OFFSET"], r["LAG"]) for p, r in rows.items()} == {
        p: ("0", str(end)) for p, end in ends.items()
    }
