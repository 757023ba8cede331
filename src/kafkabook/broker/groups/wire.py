"""Small helpers the group handlers share to read kio request bodies of every version."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

ZERO_UUID = uuid.UUID(int=0)
_MS = datetime.timedelta(milliseconds=1)


def millis(value: Any) -> int:
    """A kio duration field (a timedelta) as integer milliseconds."""
    if isinstance(value, datetime.timedelta):
        return value // _MS
    return int(value)


def client_host() -> str:
    """The requesting client's address as Kafka reports it (InetAddress.toString: "/127.0.0.1").

    The server records each request's client address in a context variable; brokers bind
    loopback only, hence the fallback.
    """
    from ..server import CLIENT_ADDRESS

    peer = CLIENT_ADDRESS.get()
    return f"/{peer[0]}" if peer else "/127.0.0.1"


def topic_id_of(broker: Any, name: str) -> uuid.UUID | None:
    topic = broker.image.topics.get(name)
    return uuid.UUID(topic.topic_id) if topic is not None else None


def topic_name_of(broker: Any, topic_id: uuid.UUID | None) -> str | None:
    if topic_id is None:
        return None
    topic = broker.image.topics_by_id.get(str(topic_id))
    return topic.name if topic is not None else None
