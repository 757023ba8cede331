"""Metadata (key 3): v0-12.

Behavior: brokers are the live (unfenced) brokers; topics are all topics (null list, or an empty
list at v0) or the requested ones by name or, from v10, by id. A missing topic is auto-created
when both the request (v4+) and auto.create.topics.enable allow it, answering
UNKNOWN_TOPIC_OR_PARTITION meanwhile, as Kafka's KRaft brokers do. A partition without a
leader answers LEADER_NOT_AVAILABLE with leader -1; replicas on dead brokers are offline.
Version notes: authorized operations are not computed (no ACLs yet): -2147483648.
"""

from __future__ import annotations

import uuid

from ...protocol.errors import ErrorCode
from ..groups.coordinator import OFFSETS_TOPIC
from ..topics import topic_name_error
from . import api
from .find_coordinator import create_offsets_topic

NO_OPS = -(2**31)


def controller_id(broker) -> int:
    """KRaft brokers report a live broker as "controller" since clients cannot reach the quorum."""
    live = broker.live_broker_ids()
    return live[0] if live else -1


def partition_entries(broker, topic) -> list[dict]:
    live = set(broker.live_broker_ids())
    entries = []
    for index in sorted(topic.partitions):
        state = topic.partitions[index]
        entries.append(
            {
                "error_code": ErrorCode.none
                if state.leader >= 0
                else ErrorCode.leader_not_available,
                "partition_index": index,
                "leader_id": state.leader,
                "leader_epoch": state.leader_epoch,
                "replica_nodes": list(state.replicas),
                "isr_nodes": list(state.isr),
                "offline_replicas": [r for r in state.replicas if r not in live],
            }
        )
    return entries


def topic_entry(broker, topic) -> dict:
    return {
        "error_code": ErrorCode.none,
        "name": topic.name,
        "topic_id": topic.topic_id,
        "is_internal": topic.name.startswith("__"),
        "partitions": partition_entries(broker, topic),
        "topic_authorized_operations": NO_OPS,
    }


def missing_topic(name: str | None, topic_id, code: ErrorCode) -> dict:
    return {
        "error_code": code,
        "name": name,
        "topic_id": topic_id,
        "is_internal": False,
        "partitions": [],
        "topic_authorized_operations": NO_OPS,
    }


@api(3, "Metadata", 0, 12)
async def handle(broker, request):
    version = request.api_version
    body = request.body
    requested = body.topics
    topics = []
    if requested is None or (version == 0 and not requested):
        topics = [topic_entry(broker, t) for t in broker.image.topics.values()]
    else:
        allow_auto = getattr(body, "allow_auto_topic_creation", True)
        to_create = []
        for wanted in requested:
            topic_id = getattr(wanted, "topic_id", None)
            if wanted.name is None and topic_id is not None and topic_id != uuid.UUID(int=0):
                topic = broker.image.topics_by_id.get(str(topic_id))
                topics.append(
                    topic_entry(broker, topic)
                    if topic
                    else missing_topic(None, topic_id, ErrorCode.unknown_topic_id)
                )
                continue
            topic = broker.image.topics.get(wanted.name)
            if topic is not None:
                topics.append(topic_entry(broker, topic))
            elif topic_name_error(wanted.name):
                topics.append(missing_topic(wanted.name, None, ErrorCode.invalid_topic_exception))
            elif allow_auto and broker.config("auto.create.topics.enable") == "true":
                to_create.append(wanted.name)
                # KRaft brokers answer UNKNOWN_TOPIC_OR_PARTITION while the topic is created.
                topics.append(
                    missing_topic(wanted.name, None, ErrorCode.unknown_topic_or_partition)
                )
            else:
                topics.append(
                    missing_topic(wanted.name, None, ErrorCode.unknown_topic_or_partition)
                )
        if OFFSETS_TOPIC in to_create:
            # With the group coordinator's layout (50 compacted partitions), not the defaults.
            to_create.remove(OFFSETS_TOPIC)
            create_offsets_topic(broker)
        if to_create:
            await broker.auto_create_topics(to_create)
    brokers = [
        {"node_id": b.broker_id, "host": b.host, "port": b.port, "rack": None}
        for b in sorted(broker.image.brokers.values(), key=lambda b: b.broker_id)
        if not b.fenced
    ]
    return {
        "throttle_time": 0,
        "brokers": brokers,
        "cluster_id": broker.cluster_id,
        "controller_id": controller_id(broker),
        "topics": topics,
        "cluster_authorized_operations": NO_OPS,
    }
