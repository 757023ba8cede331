"""Every magic against a real bundled cluster, through an IPython shell."""

from __future__ import annotations

import re

import pytest
from IPython.core.error import UsageError

from kafkabook.api.errors import KafkabookError


def kafka(ip, line):
    return ip.run_line_magic("kafka", line)


def consume(ip, line):
    return ip.run_line_magic("consume", line)


def produce(ip, line, cell):
    return ip.run_cell_magic("produce", line, cell)


def test_cluster_up_reattaches_and_status(ip, kb_cluster):
    info = kafka(ip, f"cluster up --data-dir {kb_cluster.data_dir}")
    text = repr(info)
    assert "reattached to the running cluster" in text
    assert text.splitlines()[-1] == f"bootstrap: {kb_cluster.bootstrap}"
    assert info.bootstrap == kb_cluster.bootstrap
    assert "<table" in info._repr_html_()
    status = kafka(ip, "cluster status")
    assert [r[0] for r in status] == ["controller", "broker", "broker", "broker"]
    assert {r[4] for r in status} == {"running"}


def test_session_remembers_its_cluster_after_a_restart(ip, kb_cluster, isolated_session):
    kafka(ip, f"cluster up --data-dir {kb_cluster.data_dir}")
    isolated_session.close_clients()
    isolated_session.cluster = None  # what a kernel restart leaves behind
    assert "orders-never" not in kafka(ip, "topics --list")  # found without `cluster up`
    isolated_session.cluster = None
    info = kafka(ip, "cluster up")
    assert "reattached" in repr(info) and info.data_dir == str(kb_cluster.data_dir)


def test_topics_create_list_describe_alter_delete(ip, kb_cluster, unique):
    name = unique("orders")
    created = kafka(
        ip,
        f"topics --create --topic {name} --partitions 2 --replication-factor 2 "
        "--config retention.ms=600000",
    )
    assert repr(created) == f"Created topic {name}."
    assert name in kafka(ip, "topics --list")
    described = kafka(ip, f"topics --describe --topic {name}")
    lines = repr(described).splitlines()
    assert re.fullmatch(
        rf"Topic: {name}\tTopicId: [A-Za-z0-9_-]{{22}}\tPartitionCount: 2\t"
        rf"ReplicationFactor: 2\tConfigs: retention.ms=600000",
        lines[0],
    )
    assert re.fullmatch(
        rf"\tTopic: {name}\tPartition: 0\tLeader: [123]\tReplicas: \d,\d\tIsr: \d,\d", lines[1]
    )
    assert len(lines) == 3
    assert described.df.shape == (2, 6)
    assert repr(kafka(ip, f"topics --alter --topic {name} --partitions 3")) == (
        f"Topic {name} now has 3 partitions."
    )
    assert len(kafka(ip, f"topics --describe --topic {name}")[name].partitions) == 3
    assert repr(kafka(ip, f"topics --delete --topic {name}")) == f"Deleted topic {name}."
    assert name not in kafka(ip, "topics --list")


def test_topics_errors_are_one_line(ip, kb_cluster, unique):
    name = unique("dup")
    kafka(ip, f"topics --create --topic {name} --partitions 1")
    with pytest.raises(KafkabookError, match=f"topic '{name}' already exists: %kafka topics "):
        kafka(ip, f"topics --create --topic {name}")
    assert "already exists" in repr(kafka(ip, f"topics --create --topic {name} --if-not-exists"))
    with pytest.raises(
        KafkabookError, match="topic 'missing-x' does not exist: %kafka topics --list"
    ):
        kafka(ip, "topics --describe --topic missing-x")
    with pytest.raises(KafkabookError, match="replication factor 4 is more than the 3 brokers"):
        kafka(ip, f"topics --create --topic {unique()} --replication-factor 4")
    with pytest.raises(KafkabookError, match="has 1 partitions: Kafka only adds partitions"):
        kafka(ip, f"topics --alter --topic {name} --partitions 1")
    with pytest.raises(UsageError, match="--create needs --topic"):
        kafka(ip, "topics --create")
    with pytest.raises(UsageError, match="unrecognized argument --bogus"):
        kafka(ip, "topics --list --bogus")
    with pytest.raises(KafkabookError, match="is not a valid topic name"):
        kafka(ip, "topics --create --topic bad/name")
    for error in (KafkabookError("x"),):
        assert len(error._render_traceback_()) == 1


def test_topics_if_exists_and_if_not_exists(ip, kb_cluster, unique):
    name = unique("maybe")
    missing = f"Topic {name} does not exist."
    assert repr(kafka(ip, f"topics --delete --topic {name} --if-exists")) == missing
    not_altered = kafka(ip, f"topics --alter --topic {name} --partitions 2 --if-exists")
    assert repr(not_altered) == missing and not not_altered.details["altered"]
    assert repr(kafka(ip, f"topics --describe --topic {name} --if-exists")) == "(no topics)"
    created = kafka(ip, f"topics --create --topic {name} --partitions 1 --if-not-exists")
    assert repr(created) == f"Created topic {name}." and created.details["created"]
    again = kafka(ip, f"topics --create --topic {name} --partitions 1 --if-not-exists")
    assert repr(again) == f"Topic {name} already exists." and not again.details["created"]
    assert kafka(ip, f"topics --describe --topic {name} --if-exists")[name].name == name
    altered = kafka(ip, f"topics --alter --topic {name} --partitions 2 --if-exists")
    assert repr(altered) == f"Topic {name} now has 2 partitions." and altered.details["altered"]
    deleted = kafka(ip, f"topics --delete --topic {name} --if-exists")
    assert repr(deleted) == f"Deleted topic {name}." and deleted.details["deleted"]
    with pytest.raises(KafkabookError, match=f"topic '{name}' does not exist"):
        kafka(ip, f"topics --delete --topic {name}")


def test_produce_then_consume_with_keys_and_properties(ip, kb_cluster, unique):
    topic = unique("kv")
    kafka(ip, f"topics --create --topic {topic} --partitions 1")
    sent = produce(
        ip, f"{topic} --key-separator '|' --acks all", "alice|book\nbob|pen\n\ncarol|ink\n"
    )
    assert [(r[0], r[1], r[2], r[3]) for r in sent] == [
        (0, 0, "alice", "book"),
        (0, 1, "bob", "pen"),
        (0, 2, "carol", "ink"),
    ]
    assert repr(sent).splitlines()[0] == f"3 records to {topic}"
    records = consume(
        ip,
        f"{topic} --from-beginning --property print.key=true "
        "--property key.separator=: --property print.offset=true",
    )
    assert repr(records) == "Offset:0:alice:book\nOffset:1:bob:pen\nOffset:2:carol:ink"
    assert records.values == ["book", "pen", "ink"]
    assert records.df["key"].tolist() == ["alice", "bob", "carol"]
    assert "<table" in records._repr_html_()
    two = consume(ip, f"{topic} --from-beginning --max-messages 2")
    assert repr(two) == "book\npen"
    one = consume(ip, f"{topic} --partition 0 --offset 2 --property print.partition=true")
    assert repr(one) == "Partition:0\tink"


def test_produce_headers_null_marker_and_tab_default(ip, kb_cluster, unique):
    topic = unique("hdr")
    kafka(ip, f"topics --create --topic {topic} --partitions 1")
    produce(
        ip,
        f"{topic} --headers --property parse.key=true --property key.separator='|' "
        "--property headers.delimiter=';' --property null.marker=NULL",
        "source:web,trace:42;k1|hello\nsource:NULL;k2|NULL\nNULL;NULL|v3\n",
    )
    records = consume(
        ip, f"{topic} --from-beginning --property print.headers=true --property print.key=true"
    )
    assert repr(records) == (
        "source:web,trace:42\tk1\thello\nsource:null\tk2\tnull\nNO_HEADERS\tnull\tv3"
    )
    produce(ip, f"{topic} --property parse.key=true", "tabbed\tvalue\n")  # TAB is the default
    assert consume(ip, f"{topic} --partition 0 --offset 3").keys == ["tabbed"]


def test_a_bad_line_sends_nothing(ip, kb_cluster, unique):
    topic = unique("bad")
    kafka(ip, f"topics --create --topic {topic} --partitions 1")
    with pytest.raises(KafkabookError) as info:
        produce(ip, f"{topic} --key-separator '|'", "a|1\nno separator here\nb|2\n")
    message = str(info.value)
    assert message.startswith("line 2: no key separator '|' in 'no separator here'")
    assert "nothing was sent" in message
    assert len(info.value._render_traceback_()) == 1
    assert len(consume(ip, f"{topic} --from-beginning --timeout 1")) == 0
    sent = produce(
        ip, f"{topic} --key-separator '|' --property ignore.error=true", "a|1\nno separator here\n"
    )
    assert [(r[2], r[3]) for r in sent] == [("a", "1"), (None, "no separator here")]
    with pytest.raises(
        KafkabookError, match=r"headers.delimiter and headers.separator may not be equal"
    ):
        produce(ip, f"{topic} --headers --property headers.delimiter=,", "x")


def test_produce_json_partition_and_compression(ip, kb_cluster, unique):
    topic = unique("json")
    kafka(ip, f"topics --create --topic {topic} --partitions 3")
    sent = produce(
        ip,
        f"{topic} --json --partition 2 --compression gzip",
        '{"id": 1, "item": "book"}\n[1, 2]\n',
    )
    assert {r[0] for r in sent} == {2}
    assert consume(ip, f"{topic} --from-beginning").values == ['{"id":1,"item":"book"}', "[1,2]"]
    with pytest.raises(UsageError, match=r"line 1: '\{oops' is not JSON"):
        produce(ip, f"{topic} --json", "{oops\n")
    with pytest.raises(UsageError, match="argument --compression: invalid choice"):
        produce(ip, f"{topic} --compression brotli", "x\n")
    with pytest.raises(KafkabookError, match="unknown or unsupported producer config 'foo'"):
        produce(ip, f"{topic} --producer-property foo=1", "x\n")


def test_consume_from_the_end_waits_for_timeout(ip, kb_cluster, unique):
    topic = unique("late")
    kafka(ip, f"topics --create --topic {topic} --partitions 1")
    produce(ip, topic, "old\n")
    records = consume(ip, f"{topic} --timeout 0.5")
    assert len(records) == 0
    assert "--from-beginning reads what is there" in repr(records)


def test_consume_follow_streams_in_a_terminal(ip, kb_cluster, unique, capsys):
    topic = unique("follow")
    kafka(ip, f"topics --create --topic {topic} --partitions 1")
    produce(ip, topic, "one\ntwo\n")
    records = consume(ip, f"{topic} --from-beginning --follow --max-messages 2")
    assert capsys.readouterr().out == "one\ntwo\n"
    assert records.values == ["one", "two"] and "streamed above" in repr(records)


def test_consume_errors(ip, kb_cluster, unique):
    with pytest.raises(KafkabookError, match="topic 'nope-x' does not exist"):
        consume(ip, "nope-x --from-beginning")
    topic = unique("err")
    kafka(ip, f"topics --create --topic {topic} --partitions 2")
    with pytest.raises(KafkabookError, match=f"topic '{topic}' has partitions 0-1, not 5"):
        consume(ip, f"{topic} --partition 5")
    with pytest.raises(KafkabookError, match="--offset needs --partition"):
        consume(ip, f"{topic} --offset 3")
    with pytest.raises(KafkabookError, match="--offset takes a number, earliest or latest"):
        consume(ip, f"{topic} --partition 0 --offset soon")
    with pytest.raises(UsageError, match="argument --max-messages: must be 1 or more"):
        consume(ip, f"{topic} --max-messages 0")
    with pytest.raises(KafkabookError, match=r"unknown property 'print.keys'"):
        consume(ip, f"{topic} --property print.keys=true")


def test_configs_describe_and_alter(ip, kb_cluster, unique):
    topic = unique("cfg")
    kafka(ip, f"topics --create --topic {topic} --partitions 1")
    done = kafka(
        ip,
        f"configs --alter --entity-type topics --entity-name {topic} "
        "--add-config retention.ms=60000,cleanup.policy=compact",
    )
    assert repr(done) == f"Completed updating config for topic {topic}."
    described = kafka(ip, f"configs --describe --entity-type topics --entity-name {topic}")
    lines = repr(described).splitlines()
    assert lines[0] == f"Dynamic configs for topic {topic} are:"
    assert lines[1].startswith("  cleanup.policy=compact sensitive=false synonyms={")
    assert lines[2].startswith("  retention.ms=60000 sensitive=false")
    assert described["retention.ms"] == "60000"
    kafka(
        ip,
        f"configs --alter --entity-type topics --entity-name {topic} "
        "--delete-config cleanup.policy",
    )
    assert "cleanup.policy" not in kafka(
        ip, f"configs --describe --entity-type topics --entity-name {topic}"
    )
    everything = kafka(ip, f"configs --describe --entity-type topics --entity-name {topic} --all")
    assert everything["cleanup.policy"] == "delete" and len(everything) > 10
    assert len(kafka(ip, "configs --describe --entity-type brokers --entity-name 1 --all")) > 10
    with pytest.raises(KafkabookError, match=r"Unknown topic config name: bogus.name"):
        kafka(
            ip,
            f"configs --alter --entity-type topics --entity-name {topic} --add-config bogus.name=1",
        )
    with pytest.raises(UsageError, match="argument --entity-type: invalid choice"):
        kafka(ip, "configs --describe --entity-type users --entity-name x")


def test_help_on_every_subcommand(ip):
    overview = repr(kafka(ip, "help"))
    for magic in (
        "%kafka cluster",
        "%kafka topics",
        "%kafka groups",
        "%kafka configs",
        "%kafka broker",
        "%kafka connect",
        "%consume",
        "%%produce",
    ):
        assert magic in overview
    for line in (
        "cluster --help",
        "connect --help",
        "topics --help",
        "groups --help",
        "configs --help",
        "broker --help",
    ):
        text = repr(kafka(ip, line))
        assert text.startswith(f"usage: %kafka {line.split()[0]}") and "example:\n  %kafka" in text
    assert "example:\n  %consume" in repr(consume(ip, "--help"))
    assert "example:\n  %%produce" in repr(ip.run_line_magic("produce", "--help"))
    with pytest.raises(UsageError, match="%%produce is a cell magic"):
        ip.run_line_magic("produce", "orders")
    with pytest.raises(UsageError, match="unknown command 'topic'"):
        kafka(ip, "topic --list")


def test_debug_shows_the_traceback(ip, kb_cluster):
    with pytest.raises(KafkabookError) as info:
        kafka(ip, "topics --describe --topic nope-y --debug")
    assert info.value.show_traceback
    with pytest.raises(KafkabookError) as info:
        kafka(ip, "topics --describe --topic nope-y")
    assert not info.value.show_traceback


def test_connect_to_an_external_cluster(ip, kb_cluster):
    info = kafka(
        ip, f"connect {kb_cluster.bootstrap} --config client.id=nb --config sasl.password=hunter2"
    )
    text = repr(info) + info._repr_html_()
    assert "hunter2" not in text and "sasl.password=*****" in text
    assert info.backend == "external"
    assert isinstance(list(kafka(ip, "topics --list")), list)
    with pytest.raises(KafkabookError, match="cannot kill broker 1: the external backend"):
        kafka(ip, "broker kill 1")


def test_a_dead_cluster_is_one_line(ip, free_port_block):
    port = free_port_block(1)
    with pytest.raises(KafkabookError) as info:
        kafka(ip, f"connect 127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in str(info.value)
    assert len(info.value._render_traceback_()) == 1
    with pytest.raises(KafkabookError, match="no cluster: %kafka cluster up starts one"):
        kafka(ip, "topics --list")


def test_broker_kill_start_and_the_replication_factor_hint(
    ip, bundled_cluster_factory, unique, isolated_session
):
    backend = bundled_cluster_factory(brokers=3, fresh=True)
    kafka(ip, f"cluster up --data-dir {backend.data_dir}")
    killed = kafka(ip, "broker kill 3")
    assert [r[4] for r in killed if r[1] == 3] == ["killed"]
    # The controller fences broker 3 after its session times out; until then it may still
    # count it. Wait for the error Kafka gives once only 2 brokers are live.
    import time

    deadline = time.monotonic() + 30
    while True:
        try:
            kafka(ip, f"topics --create --topic {unique()} --replication-factor 3")
        except KafkabookError as exc:
            assert str(exc) == (
                "replication factor 3 is more than the 2 live brokers: start one with "
                "%kafka broker start 3, or use --replication-factor 2"
            )
            break
        assert time.monotonic() < deadline, "broker 3 was never fenced"
        time.sleep(0.5)
    with pytest.raises(
        KafkabookError,
        match=r"broker 3 is not running \(it is killed\): "
        r"%kafka broker start 3",
    ):
        kafka(ip, "broker stop 3")
    started = kafka(ip, "broker start 3")
    assert [r[4] for r in started if r[1] == 3] == ["running"]
    paused = kafka(ip, "broker pause 2")
    assert [r[4] for r in paused if r[1] == 2] == ["paused"]
    assert [r[4] for r in kafka(ip, "broker resume 2") if r[1] == 2] == ["running"]
    down = kafka(ip, "cluster down")
    assert "the data stays" in repr(down) or "stopped" in repr(down)
    assert {r[4] for r in kafka(ip, "cluster status") if r[0] == "broker"} <= {"stopped"}
    assert "restarted" in repr(kafka(ip, "cluster up"))
