"""Records in and out, on real Kafka and on the bundled cluster: offsets after Produce, Produce
and Fetch errors, oversized batches, timestamps, ListOffsets, DeleteRecords, the partition a
key lands in with the Python clients' default partitioner, and idempotent producers."""

from __future__ import annotations

import asyncio
import time

import pytest

from .kit import (
    EARLIEST,
    INVALID_REQUIRED_ACKS,
    INVALID_TIMESTAMP,
    LATEST,
    MAX_TIMESTAMP,
    MESSAGE_TOO_LARGE,
    NONE,
    NOT_LEADER_OR_FOLLOWER,
    OFFSET_OUT_OF_RANGE,
    OUT_OF_ORDER_SEQUENCE_NUMBER,
    UNKNOWN_TOPIC_OR_PARTITION,
    Rec,
    Target,
    batch,
    expect,
    fetch_v16,
    kafka_partition,
    murmur2,
    unique,
    wait_for,
)

pytestmark = pytest.mark.oracle

UNSUPPORTED_VERSION = 35


def follower_of(target: Target, topic: str, partition: int = 0) -> int:
    p = target.partitions(topic)[partition]
    return next(b for b in p["replicas"] if b != p["leader"])


def wait_replicated(target: Target, topic: str, partition: int, end: int) -> None:
    """Until every replica's high watermark reached `end`, so a follower answers with all."""

    def done() -> bool:
        return target.fetch(topic, partition, 0, max_bytes=1)["high_watermark"] >= end

    wait_for(done, 10, f"{target}: high watermark {end}")


# ---------------------------------------------------------------------------------------------
# Produce


def test_offsets_after_produce(target: Target) -> None:
    name = target.create_topic(unique("offsets"), 1, 3)
    bases = []
    for size in (1, 3, 2):
        answer = target.produce(name, 0, [Rec(f"v{i}".encode()) for i in range(size)])
        assert (answer["error_code"], answer["log_start_offset"]) == (NONE, 0), answer
        assert answer["log_append_time"] is None  # CreateTime topic: -1 on the wire
        bases.append(answer["base_offset"])
    assert bases == [0, 1, 4]
    assert target.list_offsets(name, 0, LATEST)["offset"] == 6
    fetched = target.fetch(name, 0, 0)
    assert (fetched["error_code"], fetched["high_watermark"], fetched["log_start_offset"]) == (
        NONE,
        6,
        0,
    )
    assert fetched["last_stable_offset"] == 6
    assert [(r.offset, r.value) for r in fetched["records"]] == [
        (0, b"v0"),
        (1, b"v0"),
        (2, b"v1"),
        (3, b"v2"),
        (4, b"v0"),
        (5, b"v1"),
    ]
    # acks=1 and acks=0 append too; acks=0 gets no answer at all.
    assert target.produce(name, 0, [Rec(b"one")], acks=1)["base_offset"] == 6
    assert target.produce(name, 0, [Rec(b"zero")], acks=0) == {}
    wait_for(lambda: target.list_offsets(name, 0, LATEST)["offset"] == 8, 10, "acks=0 record")


def test_produce_errors(target: Target) -> None:
    name = target.create_topic(unique("perr"), 1, 3)
    leader = target.leader(name)
    cases = {
        "acks=2": (name, 0, 2, leader, INVALID_REQUIRED_ACKS),
        "no such partition": (name, 5, -1, leader, UNKNOWN_TOPIC_OR_PARTITION),
        "no such topic": (unique("nosuch"), 0, -1, leader, UNKNOWN_TOPIC_OR_PARTITION),
        "not the leader": (name, 0, -1, follower_of(target, name), NOT_LEADER_OR_FOLLOWER),
    }
    got = {}
    for case, (topic, partition, acks, node, _) in cases.items():
        answer = target.produce(topic, partition, [Rec(b"x")], acks=acks, node_id=node)
        got[case] = (answer["error_code"], answer["base_offset"])
    assert got == {case: (c[-1], -1) for case, c in cases.items()}
    assert target.list_offsets(name, 0, LATEST)["offset"] == 0


def test_produce_to_a_follower_names_the_leader(target: Target) -> None:
    """KIP-951: from Produce v10 a NOT_LEADER_OR_FOLLOWER answer names the current leader and
    carries its endpoint, so a client moves to it without a Metadata round trip."""
    name = target.create_topic(unique("hint"), 1, 3)
    leader = target.leader(name)
    data = {"name": name, "partition_data": [{"index": 0, "records": batch([Rec(b"x")])}]}
    answer = target.call(
        (0, 11),  # type: ignore[arg-type]  # Produce v11: VERSIONS has v9, before KIP-951
        follower_of(target, name),
        transactional_id=None,
        acks=-1,
        timeout=10000,
        topic_data=[data],
    )
    (t,) = answer["responses"]
    (p,) = t["partition_responses"]
    assert p["error_code"] == NOT_LEADER_OR_FOLLOWER
    epoch = target.partitions(name)[0]["epoch"]
    assert p["current_leader"] == {"leader_id": leader, "leader_epoch": epoch}
    host, port = target.addresses()[leader].rsplit(":", 1)
    assert [(n["node_id"], n["host"], n["port"]) for n in answer["node_endpoints"]] == [
        (leader, host, int(port))
    ]


def test_oversized_batches(target: Target) -> None:
    name = target.create_topic(unique("big"), 1, 3, configs={"max.message.bytes": "1000"})
    assert target.produce(name, 0, [Rec(b"x" * 900)])["error_code"] == NONE
    assert target.produce(name, 0, [Rec(b"x" * 1200)])["error_code"] == MESSAGE_TOO_LARGE
    # The limit is on the batch, not the record.
    three = [Rec(b"x" * 400)] * 3
    assert target.produce(name, 0, three)["error_code"] == MESSAGE_TOO_LARGE
    # Without an override: message.max.bytes, 1048588.
    plain_topic = target.create_topic(unique("big-default"), 1, 3)
    assert (
        target.produce(plain_topic, 0, [Rec(b"x" * 1_100_000)])["error_code"] == MESSAGE_TOO_LARGE
    )
    assert target.produce(plain_topic, 0, [Rec(b"x" * 1_000_000)])["error_code"] == NONE
    assert target.list_offsets(name, 0, LATEST)["offset"] == 1


def test_debugging_replica_reads_any_replica_to_its_log_end(target: Target) -> None:
    """ListOffsets from replica id -2 (Kafka's debugging id) is answered by followers too, from
    their own log and up to their log end; a consumer (-1) asking a follower is refused."""
    name = target.create_topic(unique("debugid"), 1, 3)
    for value in (b"a", b"b", b"c"):
        assert target.produce(name, 0, [Rec(value)])["error_code"] == NONE

    def ask(node: int, replica_id: int, timestamp: int) -> tuple[int, int]:
        answer = target.call(
            "ListOffsets",
            node,
            replica_id=replica_id,
            isolation_level=0,
            topics=[
                {
                    "name": name,
                    "partitions": [
                        {"partition_index": 0, "current_leader_epoch": -1, "timestamp": timestamp}
                    ],
                }
            ],
        )
        (p,) = answer["topics"][0]["partitions"]
        return p["error_code"], p["offset"]

    # acks=all: every ISR follower holds the three records, so its log end offset is 3.
    for node in target.partitions(name)[0]["replicas"]:
        assert ask(node, -2, LATEST) == (NONE, 3), node
        assert ask(node, -2, EARLIEST) == (NONE, 0), node
    assert ask(follower_of(target, name), -1, LATEST) == (NOT_LEADER_OR_FOLLOWER, -1)


def test_old_timestamps_are_accepted(target: Target) -> None:
    name = target.create_topic(unique("old"), 1, 3)
    answer = target.produce(name, 0, [Rec(b"1970", timestamp=1000)])
    assert (answer["error_code"], answer["base_offset"]) == (NONE, 0)
    (record,) = target.fetch(name, 0, 0)["records"]
    assert record.timestamp == 1000


def test_future_timestamps_are_refused(target: Target) -> None:
    name = target.create_topic(unique("future"), 1, 3)
    ahead = int(time.time() * 1000) + 2 * 3600 * 1000
    answer = target.produce(name, 0, [Rec(b"later", timestamp=ahead)])
    assert (answer["error_code"], answer["base_offset"]) == (INVALID_TIMESTAMP, -1)
    assert [e["batch_index"] for e in answer["record_errors"]] == [0]
    assert target.list_offsets(name, 0, LATEST)["offset"] == 0


# ---------------------------------------------------------------------------------------------
# Fetch


def test_fetch_round_trip_and_errors(target: Target) -> None:
    name = target.create_topic(unique("fetch"), 1, 3)
    sent = [
        Rec(b"v0", key=b"k0", timestamp=1_700_000_000_000, headers=(("h", b"1"), ("h", b"2"))),
        Rec(None, key=b"k1", timestamp=1_700_000_000_001),
        Rec(b"", key=None, timestamp=1_700_000_000_002, headers=(("empty", b""),)),
    ]
    target.produce(name, 0, sent)
    got = target.fetch(name, 0, 0)
    assert got["error_code"] == NONE and got["aborted_transactions"] in (None, [])
    assert [(r.offset, r.key, r.value, r.timestamp, r.headers) for r in got["records"]] == [
        (i, s.key, s.value, s.timestamp, s.headers) for i, s in enumerate(sent)
    ]
    assert got["preferred_read_replica"] == -1
    # From the middle of a batch: the whole batch comes back, as Kafka sends it.
    assert [r.offset for r in target.fetch(name, 0, 1)["records"]] == [0, 1, 2]
    at_end = target.fetch(name, 0, 3)
    assert (at_end["error_code"], at_end["records"], at_end["high_watermark"]) == (NONE, [], 3)
    for offset in (4, 100, -5):
        assert target.fetch(name, 0, offset)["error_code"] == OFFSET_OUT_OF_RANGE, offset
    leader = target.leader(name)
    assert target.fetch(name, 7, 0, node_id=leader)["error_code"] == UNKNOWN_TOPIC_OR_PARTITION
    unknown = target.fetch(unique("nosuch"), 0, 0, node_id=leader)
    assert unknown["error_code"] == UNKNOWN_TOPIC_OR_PARTITION


def test_fetch_out_of_range_answer(target: Target) -> None:
    name = target.create_topic(unique("oor"), 1, 3)
    target.produce(name, 0, [Rec(b"a")])
    got = target.fetch(name, 0, 50)
    fields = ("error_code", "high_watermark", "last_stable_offset", "log_start_offset")
    assert [got[f] for f in fields] == [OFFSET_OUT_OF_RANGE, -1, -1, -1]


def test_consumer_fetch_from_a_follower(target: Target) -> None:
    name = target.create_topic(unique("follower"), 1, 3)
    target.produce(name, 0, [Rec(b"a"), Rec(b"b")])
    wait_replicated(target, name, 0, 2)
    follower = follower_of(target, name)

    def served():
        got = target.fetch(name, 0, 0, node_id=follower)
        return got if got["error_code"] != NONE or len(got["records"]) == 2 else None

    got = wait_for(served, 10, "the follower to have both records")
    assert got["error_code"] == expect(
        target,
        NONE,
        NOT_LEADER_OR_FOLLOWER,
        "a consumer `Fetch` sent to a follower answers `NOT_LEADER_OR_FOLLOWER`",
    )
    if got["error_code"] == NONE:
        assert [r.value for r in got["records"]] == [b"a", b"b"]
    else:
        # Kafka names the current leader (KIP-951) from Fetch v16 on; this v12 answer does not.
        assert got["current_leader"]["leader_id"] == -1
        (t,) = fetch_v16(target, name, follower, -1)["responses"]
        (p,) = t["partitions"]
        assert p["error_code"] == NOT_LEADER_OR_FOLLOWER
        assert p["current_leader"]["leader_id"] == target.leader(name)


# ---------------------------------------------------------------------------------------------
# ListOffsets


def test_list_offsets(target: Target) -> None:
    name = target.create_topic(unique("times"), 1, 3)
    empty = {ts: target.list_offsets(name, 0, ts) for ts in (EARLIEST, LATEST)}
    for answer in empty.values():
        assert (answer["error_code"], answer["offset"], answer["timestamp"]) == (NONE, 0, -1)
    assert target.list_offsets(name, 0, MAX_TIMESTAMP)["offset"] == -1
    base = int(time.time() * 1000) - 60_000
    # Timestamps out of order: 0, +1000 | +5000, +3000 | +4000 (three batches).
    target.produce(name, 0, [Rec(b"a", timestamp=base), Rec(b"b", timestamp=base + 1000)])
    target.produce(name, 0, [Rec(b"c", timestamp=base + 5000), Rec(b"d", timestamp=base + 3000)])
    target.produce(name, 0, [Rec(b"e", timestamp=base + 4000)])

    def at(ts: int) -> tuple[int, int]:
        answer = target.list_offsets(name, 0, ts)
        assert answer["error_code"] == NONE, answer
        found = answer["timestamp"]
        return answer["offset"], found if found < 0 else found - base

    # The first offset whose timestamp is at or after the one asked for.
    assert {
        "earliest": at(EARLIEST),
        "latest": at(LATEST),
        "max": at(MAX_TIMESTAMP),
        "before all": at(base - 1),
        "first": at(base),
        "between": at(base + 1),
        "second": at(base + 1000),
        "3500": at(base + 3500),
        "last max": at(base + 5000),
        "after all": at(base + 5001),
    } == {
        "earliest": (0, -1),
        "latest": (5, -1),
        "max": (2, 5000),
        "before all": (0, 0),
        "first": (0, 0),
        "between": (1, 1000),
        "second": (1, 1000),
        "3500": (2, 5000),
        "last max": (2, 5000),
        "after all": (-1, -1),
    }
    leader = target.leader(name)
    follower = follower_of(target, name)
    assert target.list_offsets(name, 0, LATEST, node_id=follower)["error_code"] == 6
    assert target.list_offsets(name, 3, LATEST, node_id=leader)["error_code"] == 3
    assert target.list_offsets(unique("nosuch"), 0, LATEST, node_id=leader)["error_code"] == 3


def test_list_offsets_not_found_epoch(target: Target) -> None:
    name = target.create_topic(unique("nf"), 1, 3)
    assert target.list_offsets(name, 0, MAX_TIMESTAMP)["leader_epoch"] == -1
    target.produce(name, 0, [Rec(b"a", timestamp=1000)])
    answer = target.list_offsets(name, 0, 2000)
    assert (answer["offset"], answer["leader_epoch"]) == (-1, -1)


def test_list_offsets_sentinel_of_a_later_version(target: Target) -> None:
    name = target.create_topic(unique("sentinel"), 1, 3)
    answer = target.list_offsets(name, 0, -5)
    assert (answer["error_code"], answer["offset"]) == (UNSUPPORTED_VERSION, -1)


# ---------------------------------------------------------------------------------------------
# DeleteRecords


def test_delete_records_low_watermark(target: Target) -> None:
    name = target.create_topic(unique("trim"), 1, 3)
    for i in range(5):
        target.produce(name, 0, [Rec(f"{i}a".encode()), Rec(f"{i}b".encode())])
    leader = target.leader(name)
    follower = follower_of(target, name)

    def delete(offset: int, node: int = leader) -> tuple[int, int]:
        answer = target.delete_records(name, 0, offset, node_id=node)
        return answer["error_code"], answer["low_watermark"]

    assert delete(3) == (NONE, 3)  # mid-batch: the low watermark is exactly the offset
    assert delete(1) == (NONE, 3)  # never moves back
    assert delete(11) == (OFFSET_OUT_OF_RANGE, -1)
    assert delete(3, follower) == (NOT_LEADER_OR_FOLLOWER, -1)
    assert target.list_offsets(name, 0, EARLIEST)["offset"] == 3
    assert target.fetch(name, 0, 2)["error_code"] == OFFSET_OUT_OF_RANGE
    first = target.fetch(name, 0, 3)
    assert first["log_start_offset"] == 3
    assert [r.offset for r in first["records"] if r.offset >= 3][:2] == [3, 4]
    assert delete(-1) == (NONE, 10)  # -1: up to the high watermark
    assert target.list_offsets(name, 0, EARLIEST)["offset"] == 10
    answer = target.delete_records(name, 4, 1, node_id=leader)
    assert answer["error_code"] == UNKNOWN_TOPIC_OR_PARTITION


# ---------------------------------------------------------------------------------------------
# Partitioning by key (the client decides; the broker must keep what it was given)


def test_murmur2_matches_kafka() -> None:
    # Values from Kafka's own UtilsTest (as Java ints).
    known = {b"21": -973932308, b"foobar": -790332482, b"abc": 479470107}
    known[b"a-little-bit-long-string"] = -985981536
    known[b"a-little-bit-longer-string"] = -1486304829
    known[b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"] = -58897971
    for key, java_int in known.items():
        assert murmur2(key) == java_int & 0xFFFFFFFF, key


def partitions_by_value(target: Target, topic: str, partitions: int) -> dict[bytes, int]:
    where = {}
    for p in range(partitions):
        for record in target.fetch(topic, p, 0)["records"]:
            where[record.value] = p
    return where


KEYS = [f"key-{i}".encode() for i in range(40)] + [b"", b"a", b"ab", b"abc", "ключ".encode()]


def test_kafka_python_default_partitioner(target: Target) -> None:
    from kafka import KafkaProducer

    name = target.create_topic(unique("keys-kp"), 7, 2)
    producer = KafkaProducer(bootstrap_servers=target.bootstrap, acks="all", linger_ms=5)
    try:
        futures = [producer.send(name, key=k, value=b"kp:" + k) for k in KEYS]
        meta = [f.get(timeout=30) for f in futures]
    finally:
        producer.close(timeout=10)
    expected = {b"kp:" + k: kafka_partition(k, 7) for k in KEYS}
    assert {b"kp:" + k: m.partition for k, m in zip(KEYS, meta, strict=True)} == expected
    assert partitions_by_value(target, name, 7) == expected


def test_aiokafka_default_partitioner(target: Target) -> None:
    from aiokafka import AIOKafkaProducer

    name = target.create_topic(unique("keys-aio"), 5, 2)

    async def send() -> list[int]:
        producer = AIOKafkaProducer(bootstrap_servers=target.bootstrap, acks="all")
        await producer.start()
        try:
            return [
                (await producer.send_and_wait(name, key=k, value=b"aio:" + k)).partition
                for k in KEYS
            ]
        finally:
            await producer.stop()

    got = asyncio.run(send())
    expected = {b"aio:" + k: kafka_partition(k, 5) for k in KEYS}
    assert dict(zip(expected, got, strict=True)) == expected
    assert partitions_by_value(target, name, 5) == expected


# ---------------------------------------------------------------------------------------------
# Idempotent producers


def init_producer_id(target: Target) -> tuple[int, int]:
    """InitProducerId for an idempotent (non-transactional) producer; Kafka may first answer
    COORDINATOR_LOAD_IN_PROGRESS while it fetches a block of ids, as clients retry."""

    def attempt():
        answer = target.call(
            "InitProducerId",
            transactional_id=None,
            transaction_timeout=60000,
            producer_id=-1,
            producer_epoch=-1,
        )
        return answer if answer["error_code"] == NONE else None

    answer = wait_for(attempt, 20, f"{target}: a producer id", interval=0.3)
    assert answer["producer_id"] >= 0 and answer["producer_epoch"] >= 0
    return answer["producer_id"], answer["producer_epoch"]


def test_idempotent_produce_sequences(target: Target) -> None:
    name = target.create_topic(unique("idem"), 1, 3)
    pid, epoch = init_producer_id(target)

    def send(seq: int, values: list[bytes], producer_epoch: int = epoch) -> tuple[int, int]:
        data = batch(
            [Rec(v) for v in values],
            producer_id=pid,
            producer_epoch=producer_epoch,
            base_sequence=seq,
        )
        answer = target.produce(name, 0, data)
        return answer["error_code"], answer["base_offset"]

    first = send(0, [b"a", b"b"])
    assert first == (NONE, 0)
    assert send(0, [b"a", b"b"]) == first  # a retry: the original offsets, nothing appended
    assert send(5, [b"gap"]) == (OUT_OF_ORDER_SEQUENCE_NUMBER, -1)
    assert send(1, [b"overlap"]) == (OUT_OF_ORDER_SEQUENCE_NUMBER, -1)
    assert send(2, [b"c"]) == (NONE, 2)
    assert send(0, [b"a", b"b"]) == first  # still remembered behind a newer batch
    assert send(4, [b"d"], epoch + 1) == (OUT_OF_ORDER_SEQUENCE_NUMBER, -1)
    assert send(0, [b"e"], epoch + 1) == (NONE, 3)  # a new epoch starts at sequence 0
    records = target.fetch(name, 0, 0)["records"]
    assert [(r.offset, r.value, r.producer_id, r.sequence) for r in records] == [
        (0, b"a", pid, 0),
        (1, b"b", pid, 1),
        (2, b"c", pid, 2),
        (3, b"e", pid, 0),
    ]


def test_kafka_python_idempotent_producer(target: Target) -> None:
    from kafka import KafkaProducer

    name = target.create_topic(unique("idem-kp"), 1, 3)
    producer = KafkaProducer(
        bootstrap_servers=target.bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=20,
        batch_size=200,
    )
    try:
        futures = [producer.send(name, value=f"r{i}".encode()) for i in range(30)]
        offsets = [f.get(timeout=30).offset for f in futures]
    finally:
        producer.close(timeout=10)
    assert offsets == list(range(30))
    records = target.fetch(name, 0, 0)["records"]
    assert [r.value for r in records] == [f"r{i}".encode() for i in range(30)]
    (pid,) = {r.producer_id for r in records}
    assert pid >= 0
    assert [r.sequence for r in records] == list(range(30))
