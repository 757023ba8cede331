"""FindCoordinator (key 10): v0-6.

Behavior: a group's coordinator is the leader of its ``__consumer_offsets`` partition,
``abs(groupId.hashCode()) % partitions`` with Java's String.hashCode. The first lookup creates
the topic through the controller (offsets.topic.num.partitions partitions, replication factor
min(offsets.topic.replication.factor, live brokers), compacted) and answers
COORDINATOR_NOT_AVAILABLE, as does any lookup while the partition has no live leader; clients
retry. v4+ looks up a batch of keys at once.
Version notes: key type 1 (transactions) and 2 (share groups) answer COORDINATOR_NOT_AVAILABLE
until those coordinators exist; other key types INVALID_REQUEST. v0-3 carry Kafka's error
message ("NONE" on success, as Kafka sends).
"""

from __future__ import annotations

import asyncio
import logging

from ...protocol.errors import ErrorCode
from ..controller_client import ControllerError
from ..groups.coordinator import OFFSETS_TOPIC, coordinator_of
from ..groups.offsets_codec import partition_for
from . import api

log = logging.getLogger("kafkabook.groups")

GROUP, TRANSACTION, SHARE = 0, 1, 2
MESSAGES = {
    ErrorCode.coordinator_not_available: "The coordinator is not available.",
    ErrorCode.invalid_request: "This most likely occurs because of a request being malformed by "
    "the client library or the message was sent to an incompatible broker. See the broker logs for "
    "more details.",
}
NO_NODE = (-1, "", -1)


def create_offsets_topic(broker) -> None:
    """Ask the controller for __consumer_offsets once at a time (lookups meanwhile answer
    COORDINATOR_NOT_AVAILABLE; the clients retry)."""
    pending = getattr(broker, "_offsets_topic_creation", None)
    if pending is not None and not pending.done():
        return

    async def create() -> None:
        live = max(1, len(broker.live_broker_ids()))
        rf = min(int(broker.config("offsets.topic.replication.factor")), live)
        try:
            answer = await broker.controller.call(
                "create_topics",
                topics=[
                    {
                        "name": OFFSETS_TOPIC,
                        "num_partitions": int(broker.config("offsets.topic.num.partitions")),
                        "replication_factor": rf,
                        "assignments": None,
                        "configs": {
                            "cleanup.policy": "compact",
                            "compression.type": "producer",
                            "segment.bytes": broker.config("offsets.topic.segment.bytes"),
                        },
                    }
                ],
                validate_only=False,
            )
            result = answer.get("results", [{}])[0]
            if result.get("error") not in (None, "NONE", "TOPIC_ALREADY_EXISTS"):
                log.warning(
                    "creating %s failed: %s %s",
                    OFFSETS_TOPIC,
                    result.get("error"),
                    result.get("message"),
                )
        except (ControllerError, OSError) as exc:
            log.warning("creating %s failed: %s", OFFSETS_TOPIC, exc)

    broker._offsets_topic_creation = asyncio.get_running_loop().create_task(create())


def lookup(broker, key_type: int, key: str) -> tuple[ErrorCode, tuple[int, str, int]]:
    """(error, (node_id, host, port)) of the coordinator for one key."""
    if key_type in (TRANSACTION, SHARE):
        return ErrorCode.coordinator_not_available, NO_NODE
    if key_type != GROUP:
        return ErrorCode.invalid_request, NO_NODE
    topic = broker.image.topics.get(OFFSETS_TOPIC)
    if topic is None or not topic.partitions:
        create_offsets_topic(broker)
        return ErrorCode.coordinator_not_available, NO_NODE
    state = topic.partitions.get(partition_for(key, len(topic.partitions)))
    node = broker.image.brokers.get(state.leader) if state is not None else None
    if node is None or not node.live:
        return ErrorCode.coordinator_not_available, NO_NODE
    return ErrorCode.none, (node.broker_id, node.host, node.port)


@api(10, "FindCoordinator", 0, 6)
async def handle(broker, request):
    body = request.body
    version = request.api_version
    coordinator_of(broker)  # make sure this broker's coordinator follows its partitions
    key_type = getattr(body, "key_type", GROUP)
    if version >= 4:
        coordinators = []
        for key in body.coordinator_keys:
            error, (node_id, host, port) = lookup(broker, key_type, key)
            coordinators.append(
                {
                    "key": key,
                    "node_id": node_id,
                    "host": host,
                    "port": port,
                    "error_code": error,
                    "error_message": None,
                }
            )
        return {"throttle_time": 0, "coordinators": coordinators}
    error, (node_id, host, port) = lookup(broker, key_type, body.key)
    message = "NONE" if error == ErrorCode.none else MESSAGES.get(error)
    return {
        "throttle_time": 0,
        "error_code": error,
        "error_message": message,
        "node_id": node_id,
        "host": host,
        "port": port,
    }
