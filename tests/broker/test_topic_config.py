"""A broker's effective topic configs follow the metadata records that change them."""

from __future__ import annotations

from pathlib import Path

from kafkabook.broker.broker import Broker


def test_topic_config_follows_config_records_and_topic_deletion(tmp_path: Path) -> None:
    broker = Broker(1, "127.0.0.1", 0, tmp_path, ("127.0.0.1", 1), {"message.max.bytes": "5000"})
    image = broker.image
    image.apply({"type": "topic", "name": "t", "topic_id": "id-t"}, offset=0)
    assert broker.topic_config("t", "max.message.bytes") == "5000"  # the broker's setting

    image.apply({"type": "config", "resource_type": "topic", "name": "t",
                 "configs": {"max.message.bytes": "2000"}}, offset=1)  # fmt: skip
    assert broker.topic_config("t", "max.message.bytes") == "2000"

    image.apply({"type": "config", "resource_type": "broker", "name": "",
                 "configs": {"min.insync.replicas": "2"}}, offset=2)  # fmt: skip
    assert broker.topic_config("t", "min.insync.replicas") == "2"

    image.apply({"type": "remove_topic", "topic_id": "id-t"}, offset=3)
    assert broker.topic_config("t", "max.message.bytes") == "5000"
