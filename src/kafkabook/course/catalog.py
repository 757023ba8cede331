"""Every exercise of the course: its question, hint, worked solution, and where the truth is.

The ``expected`` functions read the running cluster (through `kafkabook.course.state`) when the
learner checks, or state a fact of Kafka's design. The ``solution`` strings are the code a
learner could write in the exercise cell (they assign ``answer``); the course tests run the
lessons with them in strict mode.
"""

from __future__ import annotations

from typing import Any

from kafkabook.course import state
from kafkabook.course.checker import Exercise, registry


def _is_int(value: Any) -> bool:
    try:
        int(str(value).strip())
    except ValueError:
        return False
    return True


def _off_by_one(answer: Any, expected: Any) -> bool:
    return _is_int(answer) and abs(int(str(answer).strip()) - int(expected)) == 1


# -- lesson 01: topics, partitions, offsets ------------------------------------------------------

registry.add(
    Exercise(
        "01.1",
        "How many partitions does parcel-scans have?",
        expected=lambda: len(state.partitions("parcel-scans")),
        hint="%kafka topics --describe --topic parcel-scans prints PartitionCount.",
        solution="""
answer = len(kb.topics.describe("parcel-scans")["parcel-scans"].partitions)
""",
    ),
    Exercise(
        "01.2",
        "What offset will the next record written to partition 0 of parcel-scans get?",
        expected=lambda: state.offsets("parcel-scans")[0],
        hint="offsets start at 0 and count up by one per record of the partition: the next one is "
        "the number of records partition 0 has ever received (its log end offset).",
        traps=(
            (
                lambda a, e: _is_int(a) and int(a) == e - 1,
                "that is the offset of the last record already there; the next one comes after it.",
            ),
        ),
        solution="""
last = %consume parcel-scans --partition 0 --offset earliest
answer = last.records[-1].offset + 1
""",
    ),
    Exercise(
        "01.3",
        "What is the value of the record at partition 2, offset 1?",
        expected=lambda: state.record_at("parcel-scans", 2, 1).value_text,
        hint="%consume parcel-scans --partition 2 --offset 1 --max-messages 1 reads exactly that "
        "record; copy its value as a string.",
        solution="""
found = %consume parcel-scans --partition 2 --offset 1 --max-messages 1
answer = found.values[0]
""",
    ),
    Exercise(
        "01.4",
        "Which broker is the leader of partition 1 of parcel-scans?",
        expected=lambda: state.partition("parcel-scans", 1).leader,
        hint="%kafka topics --describe --topic parcel-scans: the Leader column of Partition: 1.",
        solution="""
described = %kafka topics --describe --topic parcel-scans
answer = described["parcel-scans"].partitions[1].leader
""",
    ),
)


# -- lesson 02: producers, keys, hashing ---------------------------------------------------------


def _java_partition(key: str, partitions: int) -> int:
    from aiokafka.partitioner import murmur2

    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


def _wrong_formula(key: str, partitions: int) -> int:
    from aiokafka.partitioner import murmur2

    h = murmur2(key.encode("utf-8"))
    signed = h - 2**32 if h >= 2**31 else h
    return abs(signed) % (partitions - 1)


def _never_reached() -> int:
    reached = {_wrong_formula(f"key-{i}", 3) for i in range(2000)}
    [missing] = sorted(set(range(3)) - reached)
    return missing


registry.add(
    Exercise(
        "02.1",
        'Which partition does a Java producer choose for key "customer-42" with 6 partitions?',
        expected=lambda: _java_partition("customer-42", 6),
        hint="use kafka_partition(key, partitions) from the lesson, with 6 partitions, not 3.",
        traps=(
            (
                lambda a, e: int(a) == _wrong_formula("customer-42", 6),
                "that is the notes' wrong formula: Kafka takes the modulo by numPartitions, and "
                "toPositive rather than abs.",
            ),
        ),
        solution="""
answer = kafka_partition("customer-42", 6)
""",
    ),
    Exercise(
        "02.2",
        "How many different partitions of orders hold records with key alice?",
        expected=lambda: len({r.partition for r in state.records("orders") if r.key == b"alice"}),
        hint="read orders from the beginning and collect the partitions of the records whose key "
        "is alice: the orders sent after --alter may hash elsewhere.",
        solution="""
everything = %consume orders --from-beginning
answer = len({r.partition for r in everything if r.key_text == "alice"})
""",
    ),
    Exercise(
        "02.3",
        "Which partition of orders-rdkafka holds carol's record sent by the default partitioner?",
        expected=lambda: next(
            r.partition
            for r in state.records("orders-rdkafka")
            if r.key == b"carol" and r.value == b"sent by the default partitioner"
        ),
        hint="librdkafka_default['carol'] recorded it; or read orders-rdkafka with "
        "print.partition and print.key.",
        solution="""
answer = librdkafka_default["carol"]
""",
    ),
    Exercise(
        "02.4",
        "With the wrong formula and 3 partitions, which partition never receives a keyed record?",
        expected=_never_reached,
        hint="x % (3 - 1) can only be 0 or 1.",
        solution="""
answer = ({0, 1, 2} - {wrong_formula(k, 3) for k in keys}).pop()
""",
    ),
)


# -- lesson 03: consumers, deserializers, poison pills -------------------------------------------


def _poison_offset() -> int:
    import json

    for r in state.records("shipments"):
        try:
            json.loads(r.value or b"")
        except ValueError:
            return r.offset
    raise LookupError("shipments holds no record that is not JSON")


def _dlq_source() -> str:
    first = state.records("shipments-dlq")[0]
    return dict(first.headers)["source"].decode()


registry.add(
    Exercise(
        "03.1",
        "At which offset of shipments is the poison pill?",
        expected=_poison_offset,
        hint="read shipments from the beginning with print.offset=true and find the line that is "
        "not JSON; or try json.loads on each record.",
        solution="""
def is_json(value):
    try:
        json.loads(value)
        return True
    except ValueError:
        return False

answer = next(r.offset() for r in read_all("shipments") if not is_json(r.value()))
""",
    ),
    Exercise(
        "03.2",
        "What is the sum of the raw integers stored in readings?",
        expected=lambda: sum(
            __import__("struct").unpack(">i", r.value)[0] for r in state.records("readings")
        ),
        hint="each value is 4 bytes, big-endian: struct.unpack('>i', value)[0]; add them up "
        "without dividing by 10.",
        traps=(
            (
                lambda a, e: abs(float(a) * 10 - e) < 0.5,
                "that is in degrees: the integers are tenths of a degree.",
            ),
        ),
        solution="""
answer = sum(struct.unpack(">i", msg.value())[0] for msg in read_all("readings"))
""",
    ),
    Exercise(
        "03.3",
        "What is the value of the source header of the first record in shipments-dlq?",
        expected=_dlq_source,
        hint="%consume shipments-dlq --from-beginning --property print.headers=true shows it; "
        "or take dict(record.headers)['source'] of the first record and decode it.",
        solution="""
dead = %consume shipments-dlq --from-beginning
answer = dict(dead[0].headers)["source"].decode()
""",
    ),
)


# -- lesson 04: consumer groups and committed offsets --------------------------------------------

registry.add(
    Exercise(
        "04.1",
        "What is the total lag of group dispatch now?",
        expected=lambda: state.group("dispatch").lag,
        hint="%kafka groups --describe --group dispatch: add up the LAG column.",
        solution="""
described = %kafka groups --describe --group dispatch
answer = described.lag
""",
    ),
    Exercise(
        "04.2",
        "After the reset, what is group billing's committed offset for partition 0 of rides?",
        expected=lambda: state.committed("billing", "rides")[0],
        hint="--to-earliest moves the offset to the first offset still in the log; "
        "%kafka groups --describe --group billing shows CURRENT-OFFSET.",
        solution="""
described = %kafka groups --describe --group billing
answer = next(row[3] for row in described.rows if row[1] == "rides" and row[2] == 0)
""",
    ),
    Exercise(
        "04.3",
        "How many partitions does __consumer_offsets have on this cluster?",
        expected=lambda: len(state.partitions("__consumer_offsets")),
        hint="%kafka topics --describe --topic __consumer_offsets prints PartitionCount.",
        solution="""
offsets_topic = %kafka topics --describe --topic __consumer_offsets
answer = len(offsets_topic["__consumer_offsets"].partitions)
""",
    ),
    Exercise(
        "04.4",
        "A group of 5 consumers subscribes to rides. How many get no partition?",
        expected=lambda: max(5 - len(state.partitions("rides")), 0),
        hint="each partition has exactly one owner in the group; count the partitions of rides.",
        solution="""
answer = 5 - len(kb.topics.describe("rides")["rides"].partitions)
""",
    ),
)


# -- lesson 05: delivery semantics ---------------------------------------------------------------


def _values(topic: str) -> list[bytes | None]:
    return [r.value for r in state.records(topic)]


registry.add(
    Exercise(
        "05.1",
        "How many payments never made it into ledger-at-most-once?",
        expected=lambda: len(set(_values("payments")) - set(_values("ledger-at-most-once"))),
        hint="compare the payments topic with the ledger: which payment ids are missing?",
        solution="""
paid = %consume payments --from-beginning
booked = %consume ledger-at-most-once --from-beginning
answer = len(set(paid.values) - set(booked.values))
""",
    ),
    Exercise(
        "05.2",
        "How many extra (duplicate) entries does ledger-at-least-once hold?",
        expected=lambda: (
            len(_values("ledger-at-least-once")) - len(set(_values("ledger-at-least-once")))
        ),
        hint="entries minus distinct payments.",
        solution="""
entries = %consume ledger-at-least-once --from-beginning
answer = len(entries.values) - len(set(entries.values))
""",
    ),
    Exercise(
        "05.3",
        "How many copies of payment-1 does dup-plain hold?",
        expected=lambda: _values("dup-plain").count(b"payment-1"),
        hint="read dup-plain from the beginning and count the records whose value is payment-1.",
        solution="""
plain = %consume dup-plain --from-beginning
answer = plain.values.count("payment-1")
""",
    ),
    Exercise(
        "05.4",
        "Which acks setting does an idempotent producer require?",
        expected=lambda: "all",
        hint="the broker must have the batch on every in-sync replica before it answers.",
        traps=((lambda a, e: str(a).strip() == "-1", "-1 means the same; write its name."),),
        solution="""
answer = "all"
""",
    ),
)


# -- lesson 06: replication, ISR, acks -----------------------------------------------------------


def _tolerated(topic: str) -> int:
    import kafkabook as kb

    info = kb.topics.describe(topic)[topic]
    min_isr = int(kb.configs.describe("topics", topic, all=True).as_dict()["min.insync.replicas"])
    return info.replication_factor - min_isr


registry.add(
    Exercise(
        "06.1",
        "With RF 3 and min.insync.replicas=2, how many brokers can be down for acks=all writes?",
        expected=lambda: _tolerated("accounts"),
        hint="replication factor N, min.insync.replicas M: acks=all keeps working with N-M down.",
        traps=(
            (
                lambda a, e: int(a) == e + 1,
                "that many replicas can be lost without losing data (N-1), but writes with "
                "acks=all stop earlier.",
            ),
        ),
        solution="""
answer = 3 - 2
""",
    ),
    Exercise(
        "06.2",
        "Which error did the broker answer the acks=all write with when two brokers were down?",
        expected=lambda: "NOT_ENOUGH_REPLICAS",
        hint="look at the delivery report in `refused`: its .name().",
        traps=(
            (
                lambda a, e: "AFTER_APPEND" in str(a).upper(),
                "that one comes when the ISR shrinks after the leader appended; here the leader "
                "refused before appending.",
            ),
        ),
        solution="""
answer = refused[0].name()
""",
    ),
    Exercise(
        "06.3",
        "Which broker is the preferred leader of partition 0 of accounts?",
        expected=lambda: state.partition("accounts", 0).replicas[0],
        hint="the first broker of the Replicas list in %kafka topics --describe --topic accounts.",
        solution="""
answer = kb.topics.describe("accounts")["accounts"].partitions[0].replicas[0]
""",
    ),
    Exercise(
        "06.4",
        "How many records does accounts hold now?",
        expected=lambda: state.record_count("accounts"),
        hint="count what %consume accounts --from-beginning returns (the refused write is not "
        "there).",
        solution="""
everything = %consume accounts --from-beginning
answer = len(everything)
""",
    ),
)


# -- lesson 07: failover -------------------------------------------------------------------------

registry.add(
    Exercise(
        "07.1",
        "How many times has the leadership of partition 0 of telemetry changed?",
        expected=lambda: state.partition("telemetry", 0).leader_epoch,
        hint="count the rows of partition 0 in `changes` whose leader differs from the row "
        "before (away from the killed broker, and back); the leader epoch counts the same.",
        solution="""
p0 = history[history.partition == 0]
answer = int((p0.leader != p0.leader.shift()).sum() - 1)
""",
    ),
    Exercise(
        "07.2",
        "Which broker leads partition 0 of telemetry now?",
        expected=lambda: state.partition("telemetry", 0).leader,
        hint="%kafka topics --describe --topic telemetry; it is back on the preferred leader.",
        solution="""
answer = kb.topics.describe("telemetry")["telemetry"].partitions[0].leader
""",
    ),
    Exercise(
        "07.3",
        "How many records does telemetry hold?",
        expected=lambda: state.record_count("telemetry"),
        hint="len() of %consume telemetry --from-beginning.",
        solution="""
answer = len(stored)
""",
    ),
)


# -- lesson 08: KRaft and the controller ---------------------------------------------------------

registry.add(
    Exercise(
        "08.1",
        "What is the node id of the active controller?",
        expected=lambda: state.controller_quorum().leader_id,
        hint="describe_quorum().leader_id: the Raft leader of __cluster_metadata.",
        traps=(
            (
                lambda a, e: int(a) >= 1,
                "that is a broker: the Metadata API names a broker as 'controller' in KRaft; ask "
                "the quorum instead.",
            ),
        ),
        solution="""
answer = describe_quorum().leader_id
""",
    ),
    Exercise(
        "08.2",
        "How many observers follow the metadata log on this cluster?",
        expected=lambda: len(state.controller_quorum().observers),
        hint="the observers of describe_quorum() are the brokers reading the metadata log.",
        solution="""
answer = len(describe_quorum().observers)
""",
    ),
    Exercise(
        "08.3",
        "With 5 controllers, how many can fail while metadata can still change?",
        expected=lambda: (5 - 1) // 2,
        hint="Raft needs a majority of the voters: 2f+1 voters survive f failures.",
        solution="""
answer = (5 - 1) // 2
""",
    ),
    Exercise(
        "08.4",
        "From which Kafka version on does Kafka run without ZooKeeper only?",
        expected=lambda: "4.0",
        hint="look at the timeline table: the release that removed ZooKeeper.",
        traps=(
            (
                lambda a, e: str(a).strip() in ("3.3", "3.3.0"),
                "3.3 made KRaft production-ready; ZooKeeper was still there until later.",
            ),
        ),
        solution="""
answer = "4.0"
""",
    ),
)


# -- lesson 09: the quickstart -------------------------------------------------------------------

registry.add(
    Exercise(
        "09.1",
        "In which partition of demo-3-partitions did keyB land?",
        expected=lambda: next(
            r.partition for r in state.records("demo-3-partitions") if r.key == b"keyB"
        ),
        hint="%consume demo-3-partitions --from-beginning --property print.partition=true "
        "--property print.key=true",
        solution="""
seen = %consume demo-3-partitions --from-beginning
answer = next(r.partition for r in seen if r.key_text == "keyB")
""",
    ),
    Exercise(
        "09.2",
        "What is the value of header headerB on the record with key myKey7?",
        expected=lambda: next(
            dict(r.headers)["headerB"].decode()
            for r in state.records("quickstart-events")
            if r.key == b"myKey7"
        ),
        hint="read quickstart-events with print.headers=true and print.key=true; find myKey7.",
        solution="""
seen = %consume quickstart-events --from-beginning
answer = next(dict(r.headers)["headerB"].decode() for r in seen if r.key_text == "myKey7")
""",
    ),
    Exercise(
        "09.3",
        "How many records of quickstart-events has consumer-group2 consumed?",
        expected=lambda: sum(state.committed("consumer-group2", "quickstart-events").values()),
        hint="%kafka groups --describe --group consumer-group2: CURRENT-OFFSET of partition 0.",
        solution="""
described = %kafka groups --describe --group consumer-group2
answer = sum(row[3] for row in described.rows if row[1] == "quickstart-events")
""",
    ),
)


# -- lesson 10: Kafka compared with queues -------------------------------------------------------

registry.add(
    Exercise(
        "10.1",
        "How many records has group archive consumed from print-jobs?",
        expected=lambda: sum(state.committed("archive", "print-jobs").values()),
        hint="%kafka groups --describe --group archive: add up CURRENT-OFFSET.",
        solution="""
described = %kafka groups --describe --group archive
answer = sum(row[3] for row in described.rows if row[1] == "print-jobs")
""",
    ),
    Exercise(
        "10.2",
        "How many consumers of one group can read print-jobs at the same time?",
        expected=lambda: len(state.partitions("print-jobs")),
        hint="one consumer per partition at most.",
        solution="""
answer = len(kb.topics.describe("print-jobs")["print-jobs"].partitions)
""",
    ),
    Exercise(
        "10.3",
        "Does a Kafka consumer get records by push or by pull?",
        expected=lambda: "pull",
        hint="who sends the Fetch request?",
        solution="""
answer = "pull"
""",
    ),
)
