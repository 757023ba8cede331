"""``%kafka configs``: kafka-configs' flags over `kafkabook.configs`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from IPython.core.error import UsageError

from kafkabook.magics.parsing import MagicParser, comma_list

EXAMPLE = """\
%kafka configs --describe --entity-type topics --entity-name orders
%kafka configs --describe --entity-type brokers --entity-name 1 --all
%kafka configs --alter --entity-type topics --entity-name orders \\
    --add-config retention.ms=60000,cleanup.policy=compact
%kafka configs --alter --entity-type topics --entity-name orders --delete-config retention.ms"""


def parser() -> MagicParser:
    p = MagicParser(
        prog="%kafka configs",
        description="Describe or change topic and broker configs, with kafka-configs' flags.",
        example=EXAMPLE,
    )
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--describe", action="store_true", help="show configs")
    action.add_argument("--alter", action="store_true", help="add or delete configs")
    p.add_argument("--entity-type", choices=["topics", "brokers"], required=True)
    p.add_argument("--entity-name", metavar="X", help="topic name or broker id")
    p.add_argument("--entity-default", action="store_true", help="brokers: the cluster default")
    p.add_argument("--add-config", metavar="K=V,K=V", help="configs to set")
    p.add_argument("--delete-config", metavar="K,K", help="configs to remove")
    p.add_argument("--all", action="store_true", help="--describe: every config, not only dynamic")
    return p


def run(argv: Sequence[str]) -> Any:
    from kafkabook.api.configs import configs

    args = parser().parse_args(argv)
    if args.entity_default and args.entity_name:
        raise UsageError("give --entity-name or --entity-default, not both")
    if not args.entity_name and not args.entity_default:
        raise UsageError("this needs --entity-name X (or --entity-default for brokers)")
    if args.entity_default and args.entity_type != "brokers":
        raise UsageError("--entity-default is for --entity-type brokers")
    name = None if args.entity_default else args.entity_name
    if args.describe:
        if args.add_config or args.delete_config:
            raise UsageError("--add-config and --delete-config go with --alter")
        return configs.describe(args.entity_type, name, all=args.all)
    add = {}
    for item in comma_list(args.add_config or ""):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--add-config item {item!r} is not KEY=VALUE")
        add[key.strip()] = value
    delete = comma_list(args.delete_config or "")
    if not add and not delete:
        raise UsageError("--alter needs --add-config K=V,... or --delete-config K,...")
    return configs.alter(args.entity_type, name, add=add, delete=delete)
