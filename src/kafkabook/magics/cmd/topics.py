"""``%kafka topics``: kafka-topics' flags over `kafkabook.topics`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from IPython.core.error import UsageError

from kafkabook.magics.parsing import MagicParser, key_value, key_values, positive_int

EXAMPLE = """\
%kafka topics --create --topic orders --partitions 3 --replication-factor 2 \\
    --config retention.ms=600000
%kafka topics --list
%kafka topics --describe --topic orders
%kafka topics --alter --topic orders --partitions 6
%kafka topics --delete --topic orders --if-exists"""


def parser() -> MagicParser:
    p = MagicParser(
        prog="%kafka topics",
        description="Create, list, describe, alter or delete topics, with kafka-topics' flags.",
        example=EXAMPLE,
    )
    action = p.add_mutually_exclusive_group(required=True)
    for flag, text in (
        ("--create", "create a topic"),
        ("--list", "list the topics"),
        ("--describe", "partitions, leaders, replicas, ISR and configs"),
        ("--alter", "add partitions"),
        ("--delete", "delete a topic"),
    ):
        action.add_argument(flag, action="store_true", help=text)
    p.add_argument("--topic", metavar="T", help="the topic")
    p.add_argument("--partitions", type=positive_int, metavar="N")
    p.add_argument("--replication-factor", type=positive_int, metavar="R")
    p.add_argument(
        "--config",
        action="append",
        type=key_value,
        metavar="KEY=VALUE",
        help="a topic config for --create (repeatable)",
    )
    p.add_argument("--if-not-exists", action="store_true", help="--create: no error if it exists")
    p.add_argument(
        "--if-exists",
        action="store_true",
        help="--delete, --alter, --describe: no error if the topic does not exist",
    )
    p.add_argument("--exclude-internal", action="store_true", help="--list: skip __ topics")
    return p


def run(argv: Sequence[str]) -> Any:
    from kafkabook.api.topics import topics

    args = parser().parse_args(argv)
    needs_topic = args.create or args.alter or args.delete
    action = next(a for a in ("create", "list", "describe", "alter", "delete") if getattr(args, a))
    if needs_topic and not args.topic:
        raise UsageError(f"--{action} needs --topic T (see %kafka topics --help)")
    # kafka-topics refuses these combinations too, rather than ignoring the flag.
    if args.if_exists and action not in ("alter", "delete", "describe"):
        raise UsageError(f"--if-exists goes with --alter, --delete or --describe, not --{action}")
    if args.if_not_exists and action != "create":
        raise UsageError(f"--if-not-exists goes with --create, not --{action}")
    if args.list:
        return topics.list(exclude_internal=args.exclude_internal)
    if args.describe:
        return topics.describe(args.topic, if_exists=args.if_exists)
    if args.create:
        return topics.create(
            args.topic,
            partitions=args.partitions,
            replication_factor=args.replication_factor,
            config=key_values(args.config),
            if_not_exists=args.if_not_exists,
        )
    if args.alter:
        if args.partitions is None:
            raise UsageError("--alter needs --partitions N (Kafka can only add partitions)")
        return topics.alter(args.topic, partitions=args.partitions, if_exists=args.if_exists)
    return topics.delete(args.topic, if_exists=args.if_exists)
