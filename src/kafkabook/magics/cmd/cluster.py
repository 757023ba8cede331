"""``%kafka cluster up|down|status`` and ``%kafka connect``: which cluster the session uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kafkabook.magics.parsing import MagicParser, key_value, key_values, positive_int

CLUSTER_EXAMPLE = """\
%kafka cluster up --brokers 3             start (or reattach to) a bundled cluster
%kafka cluster up --data-dir /tmp/kb1     another cluster, kept in /tmp/kb1
%kafka cluster status                     every node: role, id, address, pid, state
%kafka cluster down                       stop it; the data stays for the next `up`"""

CONNECT_EXAMPLE = """\
%kafka connect localhost:9092
%kafka connect broker.example:9093 --config security.protocol=SASL_SSL \\
    --config sasl.mechanism=PLAIN --config sasl.username=me --config sasl.password=..."""


def cluster_parser() -> MagicParser:
    parser = MagicParser(
        prog="%kafka cluster",
        description="Start, inspect or stop the session's cluster. On a bundled cluster that "
        "is already running (after a kernel restart too), `up` reattaches and starts nothing.",
        example=CLUSTER_EXAMPLE,
    )
    parser.add_argument("action", choices=["up", "down", "status"], metavar="up|down|status")
    parser.add_argument("--brokers", type=positive_int, metavar="N", help="number of brokers")
    parser.add_argument(
        "--backend",
        choices=["bundled", "jvm", "testcontainers"],
        help="bundled (Python processes, default), jvm (Kafka's jars), testcontainers (Docker)",
    )
    parser.add_argument("--data-dir", metavar="D", help="the cluster's directory")
    parser.add_argument("--base-port", type=positive_int, metavar="P", help="first broker port")
    parser.add_argument(
        "--config",
        action="append",
        type=key_value,
        metavar="KEY=VALUE",
        help="a Kafka config for every broker (repeatable)",
    )
    return parser


def cluster(argv: Sequence[str]) -> Any:
    from kafkabook.api import session

    args = cluster_parser().parse_args(argv)
    if args.action == "up":
        return session.cluster_up(
            args.brokers,
            backend=args.backend,
            data_dir=args.data_dir,
            base_port=args.base_port,
            configs=key_values(args.config) or None,
        )
    extra = [
        flag
        for flag, value in (
            ("--brokers", args.brokers),
            ("--backend", args.backend),
            ("--data-dir", args.data_dir),
            ("--base-port", args.base_port),
            ("--config", args.config),
        )
        if value
    ]
    if extra:
        from IPython.core.error import UsageError

        raise UsageError(f"{extra[0]} goes with `cluster up`, not `cluster {args.action}`")
    if args.action == "status":
        return session.cluster_status()
    return session.cluster_down()


def connect_parser() -> MagicParser:
    parser = MagicParser(
        prog="%kafka connect",
        description="Use a Kafka cluster you already run. --config passes client settings "
        "(SASL/SSL) to every client; secrets are never shown back.",
        example=CONNECT_EXAMPLE,
    )
    parser.add_argument("bootstrap", metavar="BOOTSTRAP", help="host:port[,host:port...]")
    parser.add_argument(
        "--config",
        action="append",
        type=key_value,
        metavar="KEY=VALUE",
        help="a client setting (repeatable), e.g. security.protocol=SASL_SSL",
    )
    return parser


def connect(argv: Sequence[str]) -> Any:
    from kafkabook.api import session

    args = connect_parser().parse_args(argv)
    return session.connect(args.bootstrap, key_values(args.config))
