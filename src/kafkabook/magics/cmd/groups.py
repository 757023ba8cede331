"""``%kafka groups``: kafka-consumer-groups' flags over `kafkabook.groups`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from IPython.core.error import UsageError

from kafkabook.magics.parsing import MagicParser, whole_number

EXAMPLE = """\
%kafka groups --list
%kafka groups --describe --group g1
%kafka groups --reset-offsets --group g1 --topic orders --to-earliest --dry-run
%kafka groups --reset-offsets --group g1 --topic orders:0,1 --shift-by -2 --execute
%kafka groups --delete --group g1"""


def parser() -> MagicParser:
    p = MagicParser(
        prog="%kafka groups",
        description="List, describe, reset the offsets of, or delete consumer groups.",
        example=EXAMPLE,
    )
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--list", action="store_true", help="list the groups")
    action.add_argument("--describe", action="store_true", help="members, offsets and lag")
    action.add_argument("--reset-offsets", action="store_true", help="move committed offsets")
    action.add_argument("--delete", action="store_true", help="delete an inactive group")
    p.add_argument("--group", metavar="G")
    p.add_argument(
        "--topic", metavar="T[:P,P...]", help="--reset-offsets: topic, or its partitions"
    )
    target = p.add_mutually_exclusive_group()
    target.add_argument("--to-earliest", action="store_true")
    target.add_argument("--to-latest", action="store_true")
    target.add_argument("--to-offset", type=whole_number, metavar="N")
    target.add_argument("--shift-by", type=whole_number, metavar="N")
    target.add_argument("--to-datetime", metavar="ISO", help="e.g. 2024-05-01T12:00:00")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="show the new offsets (default)")
    mode.add_argument("--execute", action="store_true", help="commit the new offsets")
    return p


def _topic_spec(text: str) -> tuple[str, list[int] | None]:
    topic, sep, parts = text.partition(":")
    if not sep:
        return topic, None
    try:
        return topic, [int(p) for p in parts.split(",") if p.strip()]
    except ValueError:
        raise UsageError(f"--topic {text!r}: partitions are whole numbers, as orders:0,1") from None


def run(argv: Sequence[str]) -> Any:
    from kafkabook.api.groups import groups

    args = parser().parse_args(argv)
    if args.list:
        return groups.list()
    if not args.group:
        raise UsageError("this needs --group G (see %kafka groups --help)")
    if args.describe:
        return groups.describe(args.group)
    if args.delete:
        return groups.delete(args.group)
    if not args.topic:
        raise UsageError("--reset-offsets needs --topic T (see %kafka groups --help)")
    topic, partitions = _topic_spec(args.topic)
    to = "earliest" if args.to_earliest else "latest" if args.to_latest else None
    if to is None and args.to_offset is None and args.shift_by is None and not args.to_datetime:
        raise UsageError(
            "--reset-offsets needs one of --to-earliest, --to-latest, --to-offset N, "
            "--shift-by N, --to-datetime ISO"
        )
    return groups.reset_offsets(
        args.group,
        topic,
        to=to,
        offset=args.to_offset,
        shift_by=args.shift_by,
        to_datetime=args.to_datetime,
        partitions=partitions,
        execute=args.execute,
    )
