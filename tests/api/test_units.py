"""Pure parts of the API: display objects, formatter, settings, versions, errors, the loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from kafkabook.api import loop
from kafkabook.api.consume import ConsumedRecord, MessageFormatter, Records
from kafkabook.api.display import Message, Table
from kafkabook.api.errors import KafkabookError, check, error_name, magic_hints
from kafkabook.api.groups import decode_assignment, encode_assignment
from kafkabook.api.produce import producer_settings, to_bytes
from kafkabook.api.requests import api_name, choose_version


def test_table_renders_three_ways():
    table = Table(["topic", "partitions"], [("orders", 3), ("<b>", None)], title="2 topics")
    assert repr(table).splitlines() == ["2 topics", "topic   partitions", "orders  3", "<b>"]
    html = table._repr_html_()
    assert "<th>topic</th>" in html and "&lt;b&gt;" in html and "<b>" not in html
    df = table.df
    assert df["topic"].tolist() == ["orders", "<b>"] and df["partitions"].iloc[0] == 3
    assert list(table) == [("orders", 3), ("<b>", None)] and len(table) == 2


def test_message_is_text_with_details():
    msg = Message("Created topic orders.", topic="orders")
    assert repr(msg) == "Created topic orders." and msg.topic == "orders"
    assert msg == "Created topic orders."
    with pytest.raises(AttributeError):
        _ = msg.nothing


RECORD = ConsumedRecord("orders", 2, 41, 1700000000000, 0, b"k", b"v", (("h", b"1"), ("n", None)))


def test_formatter_defaults_print_the_value_only():
    assert MessageFormatter().format(RECORD) == "v"


def test_formatter_every_field_in_kafkas_order():
    fmt = MessageFormatter.from_properties(
        {
            "print.timestamp": "true",
            "print.partition": "true",
            "print.offset": "true",
            "print.headers": "true",
            "print.key": "true",
            "key.separator": "|",
        }
    )
    assert fmt.format(RECORD) == "CreateTime:1700000000000|Partition:2|Offset:41|h:1,n:null|k|v"


def test_formatter_nulls_and_no_headers():
    fmt = MessageFormatter.from_properties(
        {"print.key": "true", "print.headers": "true", "null.literal": "NIL"}
    )
    record = ConsumedRecord("t", 0, 0, 5, 1, None, None)
    assert fmt.format(record) == "NO_HEADERS\tNIL\tNIL"


def test_formatter_rejects_unknown_properties():
    with pytest.raises(KafkabookError, match=r"unknown property 'print.keys'"):
        MessageFormatter.from_properties({"print.keys": "true"})


def test_records_text_html_iter_df():
    records = Records("orders", [RECORD], MessageFormatter(print_key=True))
    assert repr(records) == "k\tv"
    assert list(records) == [RECORD] and records.values == ["v"] and records.keys == ["k"]
    assert "<td>v</td>" in records._repr_html_()
    assert records.df.loc[0, "offset"] == 41
    assert "streamed above" in repr(Records("orders", [RECORD], streamed=True))
    assert "0 records" in repr(Records("orders", []))


def test_producer_settings():
    assert producer_settings() == {"acks": "all"}  # Kafka's default, not aiokafka's 1
    assert producer_settings(acks="-1") == {"acks": "all"}
    assert producer_settings({"acks": "1", "compression.type": "none"}) == {"acks": 1}
    assert producer_settings({"enable.idempotence": "true", "acks": "all"})["enable_idempotence"]
    for bad, message in (
        ({"acks": "2"}, "acks must be"),
        ({"compression.type": "brotli"}, "compression must be"),
        ({"linger.ms": "soon"}, "is not a int"),
        ({"bootstrap.servers": "x"}, "unknown or unsupported producer config"),
        ({"enable.idempotence": "true", "acks": "1"}, "needs acks=all"),
        ({"acks": "0", "compression.type": "zip"}, "compression must be"),
    ):
        with pytest.raises(KafkabookError, match=message):
            producer_settings(bad)


def test_to_bytes():
    assert to_bytes("é") == "é".encode() and to_bytes(b"\x00") == b"\x00"
    assert to_bytes(None) is None and to_bytes([1, {"a": 2}]) == b'[1, {"a": 2}]'


def test_choose_version():
    assert choose_version(3, (0, 12), max_version=12) == 12
    assert choose_version(3, (0, 9)) == 9
    with pytest.raises(KafkabookError, match="does not support FindCoordinator"):
        choose_version(10, None)
    with pytest.raises(KafkabookError, match="supports ListOffsets v0-0"):
        choose_version(2, (0, 0), min_version=1)
    assert api_name(44) == "IncrementalAlterConfigs"


def test_assignment_bytes_round_trip():
    assignment = {"orders": [0, 2], "payments": [1]}
    assert decode_assignment(encode_assignment(assignment, version=3)) == assignment
    assert decode_assignment(b"\x00") == {}
    assert decode_assignment(None) == {}


def test_errors_render_as_one_line():
    error = KafkabookError("topic 'x' does not exist: %kafka topics --list shows the topics")
    assert error._render_traceback_() == [f"error: {error}"]
    with pytest.raises(KafkabookError, match="topic orders: TOPIC_ALREADY_EXISTS"):
        check(36, "topic orders", "exists")
    assert error_name(38) == "INVALID_REPLICATION_FACTOR" and error_name(9999) == "ERROR_9999"
    assert (
        magic_hints("see `kafkabook cluster up --data-dir /x`")
        == "see %kafka cluster up --data-dir /x"
    )


def test_the_loop_is_one_background_thread():
    async def where():
        return threading.current_thread().name, asyncio.get_running_loop()

    name, first = loop.run(where())
    assert name == "kafkabook-loop"
    assert loop.run(where())[1] is first
    with pytest.raises(KafkabookError, match=r"no answer within 0.05 s"):
        loop.run(asyncio.sleep(10), timeout=0.05)


def test_the_loop_works_inside_a_running_loop():
    """What a Jupyter kernel does: a magic called while the caller's thread runs a loop."""

    async def caller():
        async def answer():
            return 42

        return loop.run(answer())

    assert asyncio.run(caller()) == 42


def test_import_kafkabook_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, kafkabook; "
        "print(sorted(m for m in ('aiokafka', 'pandas', 'IPython', 'kio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_kb_broker_survives_importing_the_broker_package():
    import kafkabook as kb
    import kafkabook.broker.records as records

    assert callable(kb.broker.kill)
    assert kb.broker.records is records
