"""The notebook magics: ``%kafka``, ``%consume`` and ``%%produce``.

``%load_ext kafkabook`` registers them. Each is a thin parser: it splits the line, parses it
with argparse (a bad argument is IPython's one-line UsageError, never SystemExit), calls one
function of the Python API and returns its result, which renders as an HTML table in Jupyter
and as plain text in a terminal. Kafka and cluster errors come out as one line; ``--debug``
anywhere in the line (or ``$KAFKABOOK_DEBUG=1``) shows the traceback instead.

>>> ip = get_ipython()                                        # doctest: +SKIP
>>> ip.run_line_magic("kafka", "topics --list")              # doctest: +SKIP
orders
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

from kafkabook.api.errors import KafkabookError
from kafkabook.magics.parsing import Help, HelpRequested, split_line

SUBCOMMANDS = ("cluster", "connect", "topics", "groups", "configs", "broker", "show", "help")


def _show(argv: list[str]) -> Any:
    """%kafka show cluster|hashing|offsets|groups|timeline: the live widgets of kafkabook.viz."""
    from kafkabook.viz import show

    return show.run(argv)


def _dispatch_kafka(argv: Sequence[str]) -> Any:
    from kafkabook.magics.cmd import broker, cluster, configs, groups, help, topics

    if not argv or argv[0] in ("help", "--help", "-h"):
        return help.run()
    command, rest = argv[0], list(argv[1:])
    handlers: dict[str, Callable[[list[str]], Any]] = {
        "cluster": cluster.cluster,
        "connect": cluster.connect,
        "topics": topics.run,
        "groups": groups.run,
        "configs": configs.run,
        "broker": broker.run,
        "show": _show,
    }
    handler = handlers.get(command)
    if handler is None:
        raise UsageError(
            f"unknown command {command!r}: use one of {', '.join(SUBCOMMANDS)} "
            "(%kafka help lists them)"
        )
    return handler(rest)


def run_magic(fn: Callable[..., Any], line: str, *extra: Any) -> Any:
    """Parse ``line``, call ``fn(argv, *extra)`` and turn failures into one-line errors."""
    argv, debug = split_line(line)
    try:
        return fn(argv, *extra)
    except HelpRequested as wanted:
        return Help(wanted.text)
    except UsageError:
        raise
    except KafkabookError as exc:
        exc.show_traceback = debug
        raise
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if debug:
            raise
        raise KafkabookError(
            f"unexpected {type(exc).__name__}: {exc} (add --debug for the traceback, "
            "and please report it)"
        ) from exc


@magics_class
class KafkaMagics(Magics):
    """``%kafka SUBCOMMAND ...``, ``%consume TOPIC ...`` and ``%%produce TOPIC``."""

    @line_magic("kafka")
    def kafka(self, line: str = "") -> Any:
        """Run a kafkabook command: ``%kafka help`` lists them.

        %kafka cluster up|down|status, %kafka connect BOOTSTRAP, %kafka topics ...,
        %kafka groups ..., %kafka configs ..., %kafka broker ACTION ID.
        """
        return run_magic(_dispatch_kafka, line)

    @line_magic("consume")
    def consume(self, line: str = "") -> Any:
        """Read records from a topic: ``%consume orders --from-beginning`` (``--help``)."""
        from kafkabook.magics.cmd import consume

        return run_magic(consume.run, line)

    @line_cell_magic("produce")
    def produce(self, line: str = "", cell: str | None = None) -> Any:
        """Send each line of the cell as a record: ``%%produce orders`` (``%produce --help``)."""
        from kafkabook.magics.cmd import produce

        return run_magic(produce.run, line, cell)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kafkabook``: register the magics."""
    ipython.register_magics(KafkaMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext kafkabook``: nothing to undo beyond IPython's own bookkeeping."""
