"""``%%produce TOPIC``: one record per line, with the console producer's properties."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from IPython.core.error import UsageError

from kafkabook.magics.parsing import MagicParser, key_value, key_values, non_negative_int, unescape

EXAMPLE = """\
%%produce orders
first record
second record

%%produce orders --key-separator '|'
customer-1|ordered a book

%%produce orders --property parse.key=true --property key.separator=: --headers \\
    --property headers.delimiter=';' --acks all
source:web,trace:42;customer-2:ordered a pen

%%produce orders --json
{"id": 1, "item": "book"}"""

SEPARATORS = ("key.separator", "headers.delimiter", "headers.separator", "headers.key.separator")


def parser() -> MagicParser:
    p = MagicParser(
        prog="%%produce",
        description="Send each non-blank line of the cell as one record. A line that does not "
        "parse stops the cell before anything is sent (unless ignore.error=true).",
        example=EXAMPLE,
    )
    p.add_argument("topic", metavar="TOPIC")
    p.add_argument(
        "--property",
        action="append",
        type=key_value,
        metavar="KEY=VALUE",
        help="parse.key, key.separator (TAB), parse.headers, headers.delimiter (TAB), "
        "headers.separator (,), headers.key.separator (:), null.marker, ignore.error",
    )
    p.add_argument(
        "--producer-property",
        action="append",
        type=key_value,
        metavar="KEY=VALUE",
        help="a producer config: acks, compression.type, linger.ms, batch.size, ...",
    )
    p.add_argument("--key-separator", metavar="S", help="parse keys, split at S")
    p.add_argument("--headers", action="store_true", help="parse headers (parse.headers=true)")
    p.add_argument("--acks", choices=["0", "1", "all", "-1"])
    p.add_argument("--partition", type=non_negative_int, metavar="P", help="send all to P")
    p.add_argument("--compression", choices=["none", "gzip", "snappy", "lz4", "zstd"])
    p.add_argument("--json", action="store_true", help="each line is one JSON value")
    return p


def run(argv: Sequence[str], cell: str | None) -> Any:
    from kafkabook.api.lines import LineFormat, ProducerRecord, parse_lines
    from kafkabook.api.produce import produce

    args = parser().parse_args(argv)
    if cell is None:
        raise UsageError(
            "%%produce is a cell magic: put it on the first line of a cell and one record per "
            "line below it (%produce --help shows an example)"
        )
    props = key_values(args.property)
    props = {
        k: (unescape(v) if k in SEPARATORS or k == "null.marker" else v) for k, v in props.items()
    }
    if args.key_separator is not None:
        props["parse.key"] = "true"
        props["key.separator"] = unescape(args.key_separator)
    if args.headers:
        props["parse.headers"] = "true"
    fmt = LineFormat.from_properties(props)
    parsed = parse_lines(cell or "", fmt)
    parsed.raise_first()
    records = list(parsed.records)
    if args.json:
        decoded = []
        for number, record in zip(parsed.line_numbers, records, strict=True):
            text = "" if record.value is None else record.value.decode()
            try:
                value = json.loads(text)
            except ValueError as exc:
                if fmt.ignore_error:
                    decoded.append(record)
                    continue
                raise UsageError(
                    f"line {number}: {text!r} is not JSON ({exc.msg}); nothing was sent"
                ) from None
            compact = json.dumps(value, separators=(",", ":")).encode()
            decoded.append(ProducerRecord(compact, record.key, record.headers, record.partition))
        records = decoded
    if not records:
        raise UsageError("the cell has no lines to send: write one record per line below %%produce")
    return produce(
        args.topic,
        records,
        partition=args.partition,
        acks=args.acks,
        compression=args.compression,
        config=key_values(args.producer_property),
    )
