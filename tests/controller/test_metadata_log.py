"""The metadata log on disk, its replay after a kill, and the MetadataImage fold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafkabook.broker.controller.metadata_log import (
    LOG_FILE_NAME,
    MetadataLog,
    MetadataLogCorrupt,
)
from kafkabook.broker.state import MetadataImage, PartitionState

TOPIC_ID = "0b7e5a1c-0000-4000-8000-000000000001"


def sample_records() -> list[dict]:
    return [
        {"type": "controller", "controller_id": 0, "epoch": 1},
        {
            "type": "register_broker",
            "broker_id": 1,
            "host": "127.0.0.1",
            "port": 9092,
            "broker_epoch": 1,
            "incarnation": "i1",
        },
        {"type": "broker_state", "broker_id": 1, "fenced": False, "shutting_down": False},
        {"type": "topic", "name": "orders", "topic_id": TOPIC_ID},
        PartitionState((1,), (1,), 1).to_record(TOPIC_ID, 0),
        {"type": "config", "resource_type": "topic", "name": "orders", "configs": {"a": "1"}},
    ]


def test_append_and_replay(tmp_path: Path) -> None:
    log = MetadataLog.open(tmp_path)
    entries = log.append(1, sample_records()[:3])
    entries += log.append(2, sample_records()[3:])
    assert [e.offset for e in entries] == list(range(6))
    log.close()

    again = MetadataLog.open(tmp_path)
    assert again.end_offset == 6
    assert again.last_epoch == 2
    assert [e.record for e in again.read(0)] == sample_records()
    assert [e.epoch for e in again.read(0)] == [1, 1, 1, 2, 2, 2]
    image = again.replay()
    assert image.offset == 5
    assert image.topics["orders"].partitions[0].leader == 1
    assert image.configs[("topic", "orders")] == {"a": "1"}
    # Appending after a replay continues the offsets.
    assert again.append(3, [{"type": "remove_topic", "topic_id": TOPIC_ID}])[0].offset == 6
    again.close()


def test_each_line_is_one_json_entry(tmp_path: Path) -> None:
    log = MetadataLog.open(tmp_path)
    log.append(1, sample_records()[:2])
    log.close()
    lines = (tmp_path / LOG_FILE_NAME).read_text().splitlines()
    assert [json.loads(line)["offset"] for line in lines] == [0, 1]
    assert json.loads(lines[1])["record"]["type"] == "register_broker"


def test_torn_last_line_is_dropped(tmp_path: Path) -> None:
    log = MetadataLog.open(tmp_path)
    log.append(1, sample_records())
    log.close()
    path = tmp_path / LOG_FILE_NAME
    whole = path.read_bytes()
    # A kill in the middle of writing the last line: no newline, truncated JSON.
    last_line_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(whole[: last_line_start + 17])

    again = MetadataLog.open(tmp_path)
    assert again.end_offset == 5
    assert path.read_bytes() == whole[:last_line_start]  # the torn bytes are cut off
    # The lost record's offset is reused by the next append.
    assert again.append(2, [sample_records()[5]])[0].offset == 5
    again.close()
    assert MetadataLog.open(tmp_path).end_offset == 6


def test_garbage_complete_last_line_is_treated_as_torn(tmp_path: Path) -> None:
    log = MetadataLog.open(tmp_path)
    log.append(1, sample_records()[:2])
    log.close()
    path = tmp_path / LOG_FILE_NAME
    path.write_bytes(path.read_bytes() + b"\x00\x00\x00\n")
    assert MetadataLog.open(tmp_path).end_offset == 2


def test_damage_before_the_end_is_corruption(tmp_path: Path) -> None:
    log = MetadataLog.open(tmp_path)
    log.append(1, sample_records())
    log.close()
    path = tmp_path / LOG_FILE_NAME
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"offset": 2, "epo\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises(MetadataLogCorrupt):
        MetadataLog.open(tmp_path)


def test_offset_gap_is_corruption(tmp_path: Path) -> None:
    log = MetadataLog.open(tmp_path)
    log.append(1, sample_records()[:3])
    log.close()
    path = tmp_path / LOG_FILE_NAME
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[2] + lines[1])
    with pytest.raises(MetadataLogCorrupt):
        MetadataLog.open(tmp_path)


def test_read_bounds(tmp_path: Path) -> None:
    log = MetadataLog.open(tmp_path)
    log.append(1, sample_records())
    assert [e.offset for e in log.read(4)] == [4, 5]
    assert [e.offset for e in log.read(1, max_records=2)] == [1, 2]
    assert log.read(6) == []
    with pytest.raises(ValueError):
        log.read(-1)
    log.close()


def test_image_fold_last_record_wins() -> None:
    image = MetadataImage()
    image.apply_all({"offset": i, "epoch": 1, "record": r} for i, r in enumerate(sample_records()))
    assert image.live_broker_ids() == [1]
    assert image.brokers[1].broker_epoch == 1
    # A re-registration starts fenced until the controller says otherwise.
    image.apply({**sample_records()[1], "broker_epoch": 9}, offset=6)
    assert image.brokers[1].fenced and image.live_broker_ids() == []
    image.apply(PartitionState((1,), (1,), -1, 1, 1).to_record(TOPIC_ID, 0), offset=7)
    assert image.topics_by_id[TOPIC_ID].partitions[0].leader == -1
    image.apply(
        {"type": "config", "resource_type": "topic", "name": "orders", "configs": {"a": None}},
        offset=8,
    )
    assert ("topic", "orders") not in image.configs
    image.apply(
        {"type": "config", "resource_type": "topic", "name": "orders", "configs": {"b": "2"}}
    )
    image.apply({"type": "remove_topic", "topic_id": TOPIC_ID}, offset=9)
    assert image.topics == {} and image.topics_by_id == {}
    assert ("topic", "orders") not in image.configs  # a deleted topic's overrides go with it
    assert image.offset == 9
    image.reset()
    assert image == MetadataImage()


def test_image_rejects_records_it_does_not_understand() -> None:
    image = MetadataImage()
    with pytest.raises(ValueError):
        image.apply({"type": "mystery"})
    with pytest.raises(ValueError):
        image.apply(PartitionState((1,), (1,), 1).to_record("no-such-topic", 0))
