"""Entry point of a broker process: `python -m kafkabook.broker --node-id 1 --port 9092 ...`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kafkabook.broker", description="A kafkabook broker."
    )
    parser.add_argument("--node-id", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--controller", required=True, help="HOST:PORT of the controller")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    from .broker import Broker

    host, _, port = args.controller.rpartition(":")
    configs = dict(item.split("=", 1) for item in args.config)
    broker = Broker(args.node_id, args.host, args.port, args.data_dir, (host, int(port)), configs)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(broker.shutdown()))
    await broker.run()


def main(argv: list[str] | None = None) -> None:
    # kio registers hypothesis strategies whenever hypothesis is importable, which costs a
    # broker up to seconds of start-up (hypothesis builds a Unicode table). A broker never
    # needs them, so hide hypothesis before the broker (and kio) is imported.
    sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s broker-{args.node_id} %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
