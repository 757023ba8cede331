"""One consumer group member in its own process, driven over stdin/stdout (tests SIGKILL it).

    python tests/groups/member.py CLIENT BOOTSTRAP GROUP TOPIC CLIENT_ID [--instance-id ID]

CLIENT is confluent-kafka, kafka-python or aiokafka. The member subscribes to TOPIC with a 6 s
session timeout and 1 s heartbeats, auto commit off, and prints JSON lines:

    {"event": "ready"}
    {"event": "assignment", "partitions": [0, 2]}       from its first join, on every change
    {"event": "records", "records": [[partition, offset, value], ...]}
    {"event": "committed"}                              after a "commit" command
    {"event": "commit_failed", "error": "..."}          when the commit failed (a rebalance)
    {"event": "closed"}                                 after a "close" command (LeaveGroup)

Commands on stdin, one per line: ``commit`` (synchronous commit of the consumed positions),
``close`` (close the consumer, which leaves the group, and exit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import queue
import sys
import threading
import time

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1000


def emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def command_queue() -> queue.Queue[str]:
    commands: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            commands.put(line.strip())
        commands.put("close")  # the test went away: leave

    threading.Thread(target=read, daemon=True).start()
    return commands


def next_command(commands: queue.Queue[str]) -> str | None:
    try:
        return commands.get_nowait()
    except queue.Empty:
        return None


def join_listener(base: type, joined: threading.Event):
    """A rebalance listener (kafka-python's or aiokafka's ``base``) that notes the first join.

    Before its first join a consumer's assignment is empty, exactly like an idle member's; only
    the assignment callback tells them apart.
    """

    class JoinListener(base):
        def on_partitions_revoked(self, revoked) -> None:
            pass

        def on_partitions_assigned(self, assigned) -> None:
            joined.set()

    return JoinListener()


def report_assignment(joined: threading.Event, assignment, last: list[int] | None):
    """Print the assignment when it changed since ``last``, once the member has joined."""
    current = sorted(tp.partition for tp in assignment)
    if joined.is_set() and current != last:
        emit("assignment", partitions=current)
        return current
    return last


def run_confluent(args, commands) -> None:
    from confluent_kafka import Consumer, KafkaException

    config = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "client.id": args.client_id,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }
    if args.instance_id:
        config["group.instance.id"] = args.instance_id
    consumer = Consumer(config)
    joined = threading.Event()
    consumer.subscribe([args.topic], on_assign=lambda *_: joined.set())
    emit("ready")
    last = None
    while True:
        batch = consumer.consume(100, 0.2)
        got = [[m.partition(), m.offset(), m.value().decode()] for m in batch if not m.error()]
        if got:
            emit("records", records=got)
        last = report_assignment(joined, consumer.assignment(), last)
        command = next_command(commands)
        if command == "commit":
            try:
                consumer.commit(asynchronous=False)
                emit("committed")
            except KafkaException as exc:  # e.g. a rebalance meanwhile: poll, then retry
                emit("commit_failed", error=str(exc))
        elif command == "close":
            consumer.close()
            emit("closed")
            return


def run_kafka_python(args, commands) -> None:
    from kafka import ConsumerRebalanceListener, KafkaConsumer
    from kafka.errors import KafkaError

    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        client_id=args.client_id,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **({"group_instance_id": args.instance_id} if args.instance_id else {}),
    )
    # kafka-python 3.0.12 loses a rebalance's result when a group leader that assigned without
    # the topic's metadata rejoins once it arrives and that JoinGroup outlasts a poll(): the
    # member never gets its partitions and its session expires (against any broker). A
    # metadata refresh after subscribe(), before the first poll, avoids that rejoin.
    joined = threading.Event()
    consumer.subscribe([args.topic], listener=join_listener(ConsumerRebalanceListener, joined))
    while args.topic not in consumer.topics():
        time.sleep(0.1)
    emit("ready")
    last = None
    while True:
        polled = consumer.poll(timeout_ms=200)
        got = [[r.partition, r.offset, r.value.decode()] for rs in polled.values() for r in rs]
        if got:
            emit("records", records=got)
        last = report_assignment(joined, consumer.assignment(), last)
        command = next_command(commands)
        if command == "commit":
            try:
                consumer.commit()
                emit("committed")
            except KafkaError as exc:
                emit("commit_failed", error=repr(exc))
        elif command == "close":
            consumer.close()
            emit("closed")
            return


async def run_aiokafka(args, commands) -> None:
    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
    from aiokafka.errors import KafkaError

    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        client_id=args.client_id,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **({"group_instance_id": args.instance_id} if args.instance_id else {}),
    )
    joined = threading.Event()
    consumer.subscribe([args.topic], listener=join_listener(ConsumerRebalanceListener, joined))
    await consumer.start()
    emit("ready")
    last = None
    while True:
        polled = await consumer.getmany(timeout_ms=200)
        got = [[r.partition, r.offset, r.value.decode()] for rs in polled.values() for r in rs]
        if got:
            emit("records", records=got)
        last = report_assignment(joined, consumer.assignment(), last)
        command = next_command(commands)
        if command == "commit":
            try:
                await consumer.commit()
                emit("committed")
            except KafkaError as exc:
                emit("commit_failed", error=repr(exc))
        elif command == "close":
            await consumer.stop()
            emit("closed")
            return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("client", choices=["confluent-kafka", "kafka-python", "aiokafka"])
    parser.add_argument("bootstrap")
    parser.add_argument("group")
    parser.add_argument("topic")
    parser.add_argument("client_id")
    parser.add_argument("--instance-id")
    args = parser.parse_args()
    if os.environ.get("MEMBER_LOG_LEVEL"):
        logging.basicConfig(
            level=os.environ["MEMBER_LOG_LEVEL"],
            stream=sys.stderr,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )
    commands = command_queue()
    if args.client == "confluent-kafka":
        run_confluent(args, commands)
    elif args.client == "kafka-python":
        run_kafka_python(args, commands)
    else:
        asyncio.run(run_aiokafka(args, commands))


if __name__ == "__main__":
    main()
