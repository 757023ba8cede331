"""``%kafka broker kill|stop|start|pause|resume ID`` over `kafkabook.broker`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kafkabook.magics.parsing import MagicParser, non_negative_int

EXAMPLE = """\
%kafka broker kill 2       crash broker 2 (SIGKILL)
%kafka broker start 2      bring it back with its data
%kafka broker stop 1       controlled shutdown
%kafka broker pause 3      hang it (SIGSTOP); `resume 3` continues it"""


def parser() -> MagicParser:
    p = MagicParser(
        prog="%kafka broker",
        description="Break or repair one broker of the current cluster (bundled: 0 is the "
        "controller). An external cluster cannot be broken from here.",
        example=EXAMPLE,
    )
    p.add_argument(
        "action",
        choices=["kill", "stop", "start", "pause", "resume"],
        metavar="kill|stop|start|pause|resume",
    )
    p.add_argument("node_id", type=non_negative_int, metavar="ID", help="the broker id")
    return p


def run(argv: Sequence[str]) -> Any:
    from kafkabook.api.brokers import broker

    args = parser().parse_args(argv)
    return broker.action(args.action)(args.node_id)
