"""DescribeQuorum (key 55): v0-2.

Behavior: the state of the metadata quorum (`__cluster_metadata`, partition 0), asked of the
controller: its leader (the controller's node id), epoch, high watermark, and the voters and
observers (the brokers) with their metadata log end offsets. Brokers forward it, as Kafka's do.
Version notes: v1 adds fetch timestamps, v2 the voters' directory ids and listener endpoints.
"""

from __future__ import annotations

import uuid

from ...protocol.errors import ErrorCode
from ..controller_client import ControllerError
from . import api

METADATA_TOPIC = "__cluster_metadata"


def _replica(state: dict) -> dict:
    return {
        "replica_id": state["id"],
        "replica_directory_id": uuid.UUID(int=0),
        "log_end_offset": state.get("log_end_offset", -1),
        "last_fetch_timestamp": state.get("last_fetch_ms", -1),
        "last_caught_up_timestamp": state.get("last_caught_up_ms", -1),
    }


@api(55, "DescribeQuorum", 0, 2)
async def handle(broker, request):
    asked = [(t.topic_name, p.partition_index) for t in request.body.topics for p in t.partitions]
    if asked != [(METADATA_TOPIC, 0)]:
        return {
            "error_code": ErrorCode.invalid_request,
            "error_message": "Only __cluster_metadata-0 has a quorum",
            "topics": [],
            "nodes": [],
        }
    try:
        quorum = await broker.controller.call("describe_quorum")
    except (ControllerError, OSError) as exc:
        return {
            "error_code": ErrorCode.not_leader_or_follower,
            "error_message": str(exc),
            "topics": [],
            "nodes": [],
        }
    partition = {
        "partition_index": 0,
        "error_code": ErrorCode.none,
        "error_message": None,
        "leader_id": quorum["leader_id"],
        "leader_epoch": quorum["leader_epoch"],
        "high_watermark": quorum["high_watermark"],
        "current_voters": [_replica(v) for v in quorum.get("voters", [])],
        "observers": [_replica(o) for o in quorum.get("observers", [])],
    }
    nodes = [
        {
            "node_id": v["id"],
            "listeners": [
                {"name": "CONTROLLER", "host": v.get("host", "127.0.0.1"), "port": v.get("port", 0)}
            ],
        }
        for v in quorum.get("voters", [])
    ]
    return {
        "error_code": ErrorCode.none,
        "error_message": None,
        "topics": [{"topic_name": METADATA_TOPIC, "partitions": [partition]}],
        "nodes": nodes,
    }
