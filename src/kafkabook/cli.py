"""The `kafkabook` command: start, inspect and break the bundled cluster from a terminal.

It only wraps `kafkabook.backends.bundled.BundledBackend`; whatever it does, a notebook can do
with `kafkabook.Cluster`. Errors are one line (``error: ...``, exit code 2), never a traceback.

>>> main(["cluster", "up", "--brokers", "1", "--data-dir", "/tmp/kb-one"])   # doctest: +SKIP
started the controller and 1 broker(s) in 0.61 s; data in /tmp/kb-one
...
bootstrap: 127.0.0.1:9092
0
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from kafkabook.backends.base import BackendError

EXIT_ERROR = 2  # the same code argparse uses for usage errors: "you asked for something wrong"
EXIT_INTERNAL = 1
DEBUG_ENV = "KAFKABOOK_DEBUG"

DESCRIPTION = """\
Run a real multi-broker Kafka cluster of local Python processes (the bundled backend).
Each broker and the controller is an OS process on 127.0.0.1 that keeps running after this
command returns; the data directory (default: the user cache dir, or $KAFKABOOK_DATA_DIR)
identifies the cluster, so later commands and notebooks find it again."""

EXAMPLES = """\
examples:
  kafkabook cluster up                      3 brokers on 127.0.0.1:9092-9094, controller on 9095
  kafkabook cluster up --brokers 1 --data-dir /tmp/kb1 --base-port 19092
  kafkabook cluster up --config log.segment.bytes=1048576
  kafkabook cluster status                  every node: role, id, port, pid, state
  kafkabook broker kill 2                   crash broker 2 (SIGKILL)
  kafkabook broker start 2                  bring it back with its data
  kafkabook broker pause 3                  hang broker 3 (SIGSTOP); `resume 3` continues it
  kafkabook cluster down                    stop everything; the data stays for the next `up`

The last line of `cluster up` and `cluster status` is `bootstrap: HOST:PORT,...`:
  kcat -b "$(kafkabook cluster status | tail -1 | cut -d' ' -f2)" -L"""

BROKER_ACTIONS = {
    "kill": "crash the broker: SIGKILL",
    "stop": "controlled shutdown: SIGTERM, then wait for the process to exit",
    "start": "start a stopped or killed broker again, on its port and with its data",
    "pause": "hang the broker: SIGSTOP (its sockets stay open)",
    "resume": "continue a paused broker: SIGCONT",
}


def _broker_count(text: str) -> int:
    from kafkabook.backends.bundled import MAX_BROKERS

    value = _int(text)
    if not 1 <= value <= MAX_BROKERS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_BROKERS}, not {value}")
    return value


def _port(text: str) -> int:
    value = _int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _config_item(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is our one-line ``error:`` plus a pointer to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; `kafkabook --help` prints it with examples."""
    parser = _Parser(
        prog="kafkabook",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir",
        metavar="D",
        help="the cluster's directory (default: $KAFKABOOK_DATA_DIR or the user cache dir)",
    )

    cluster = commands.add_parser(
        "cluster",
        help="start, inspect or stop the whole cluster",
        description="Start, inspect or stop the whole bundled cluster.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cluster_commands = cluster.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = cluster_commands.add_parser(
        "up",
        parents=[data_dir],
        help="start the cluster (or reattach to it) and wait until every broker answers",
        description=(
            "Start a controller and N brokers, each a detached process on 127.0.0.1, and return "
            "once every broker answers Metadata. On a data dir whose cluster is running this "
            "reattaches (starts nothing); on one whose cluster is stopped it restarts it with "
            "its data, ports and cluster id. The last line printed is `bootstrap: ...`."
        ),
    )
    up.add_argument(
        "--brokers",
        type=_broker_count,
        metavar="N",
        help="number of brokers, 1 to 9 (default 3, or what the data dir holds)",
    )
    up.add_argument(
        "--base-port",
        type=_port,
        metavar="P",
        help="brokers listen on P, P+1, ...; the controller on the next port. "
        "Without it: 9092 upward, or free ports if those are taken",
    )
    up.add_argument(
        "--config",
        action="append",
        type=_config_item,
        default=[],
        metavar="KEY=VALUE",
        help="a Kafka config for every process (repeatable)",
    )
    up.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        metavar="S",
        help="give up if the cluster is not ready after S seconds (default 20)",
    )
    cluster_commands.add_parser(
        "status",
        parents=[data_dir],
        help="every node's role, id, port, pid and state",
        description="Show every node (role, id, address, pid, state) and the bootstrap servers.",
    )
    cluster_commands.add_parser(
        "down",
        parents=[data_dir],
        help="stop every process (brokers first); the data stays",
        description=(
            "Stop the brokers (SIGTERM, then SIGKILL after a timeout), then the controller. "
            "The data stays in the data dir for the next `cluster up`."
        ),
    )

    broker = commands.add_parser(
        "broker",
        help="kill, stop, start, pause or resume one broker",
        description="Break or repair one node. ID is a broker id (1..N); 0 is the controller.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    broker_commands = broker.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, summary in BROKER_ACTIONS.items():
        sub = broker_commands.add_parser(
            action, parents=[data_dir], help=summary, description=summary + "."
        )
        sub.add_argument("node_id", type=_int, metavar="ID", help="broker id (0: the controller)")
    return parser


def _version() -> str:
    from kafkabook import __version__

    return f"kafkabook {__version__}"


def run(args: argparse.Namespace) -> int:
    """Carry out parsed arguments; BackendError propagates to `main`."""
    from kafkabook.backends.bundled import DEFAULT_READY_TIMEOUT, BundledBackend

    def say(message: str) -> None:
        print(message, flush=True)

    if args.command == "cluster" and args.action == "up":
        backend = BundledBackend(
            data_dir=args.data_dir,
            brokers=args.brokers,
            base_port=args.base_port,
            configs=dict(args.config) if args.config else None,
            ready_timeout=args.timeout or DEFAULT_READY_TIMEOUT,
            on_event=say,
        )
        print(backend.up())
        return 0

    backend = BundledBackend(data_dir=args.data_dir, on_event=say)
    if args.command == "cluster" and args.action == "status":
        status = backend.status()
        print(f"cluster {backend.cluster_id or '(id not known yet)'} in {backend.data_dir}")
        print(status)
    elif args.command == "cluster" and args.action == "down":
        backend.down()
    elif args.command == "broker":
        getattr(backend, args.action)(args.node_id)
        print(backend.status())
    else:  # pragma: no cover - argparse only lets the commands above through
        raise AssertionError(args)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kafkabook` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        # Notes carry details that do not fit the one line, like the tail of a failing log.
        for note in getattr(exc, "__notes__", ()):
            print(note, file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc} "
            f"(set {DEBUG_ENV}=1 for a traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
