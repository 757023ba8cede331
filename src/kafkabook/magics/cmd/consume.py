"""``%consume TOPIC ...``: kafka-console-consumer's flags over `kafkabook.consume`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kafkabook.magics.parsing import (
    MagicParser,
    key_value,
    key_values,
    non_negative_int,
    positive_int,
    seconds,
    unescape,
)

EXAMPLE = """\
%consume orders --from-beginning --max-messages 10
%consume orders --from-beginning --property print.key=true --property key.separator='|'
%consume orders --partition 0 --offset 5 --property print.offset=true
%consume orders --group g1 --from-beginning
records = %consume orders --from-beginning          then records.df, list(records)
%consume orders --follow                            stream until interrupted (or --max-messages)"""


def parser() -> MagicParser:
    p = MagicParser(
        prog="%consume",
        description="Read records from a topic, shown as the console consumer would print them "
        "(an HTML table in Jupyter). Reading history stops once caught up; reading from the "
        "end waits --timeout seconds for new records.",
        example=EXAMPLE,
    )
    p.add_argument("topic", metavar="TOPIC")
    p.add_argument("--from-beginning", action="store_true", help="start at the earliest offset")
    p.add_argument("--group", metavar="G", help="join this consumer group and commit")
    p.add_argument("--max-messages", type=positive_int, metavar="N")
    p.add_argument("--timeout", type=seconds, metavar="S", help="stop after S idle seconds")
    p.add_argument("--partition", type=non_negative_int, metavar="P")
    p.add_argument("--offset", metavar="O|earliest|latest", help="start offset (with --partition)")
    p.add_argument(
        "--isolation-level",
        choices=["read_committed", "read_uncommitted"],
        default="read_uncommitted",
    )
    p.add_argument(
        "--property",
        action="append",
        type=key_value,
        metavar="KEY=VALUE",
        help="formatter: print.key, print.value, print.partition, print.offset, print.headers, "
        "print.timestamp, key.separator, line.separator, headers.separator, null.literal",
    )
    p.add_argument("--follow", action="store_true", help="stream until interrupted")
    return p


def run(argv: Sequence[str]) -> Any:
    from kafkabook.api.consume import consume

    args = parser().parse_args(argv)
    properties = {k: unescape(v) for k, v in key_values(args.property).items()}
    return consume(
        args.topic,
        from_beginning=args.from_beginning,
        group=args.group,
        max_messages=args.max_messages,
        timeout=args.timeout,
        partition=args.partition,
        offset=args.offset,
        isolation_level=args.isolation_level,
        properties=properties,
        follow=args.follow,
    )
