"""ElectLeaders (key 43): v0-2.

Behavior: preferred (0) or unclean (1) leader election through the controller, for the listed
partitions or (null list) for every partition. Per partition: ELECTION_NOT_NEEDED when the
preferred replica already leads, PREFERRED_LEADER_NOT_AVAILABLE when it is down or out of the
ISR, ELIGIBLE_LEADERS_NOT_AVAILABLE when an unclean election finds no live replica,
UNKNOWN_TOPIC_OR_PARTITION for unknown partitions. v0 has no election type (preferred).
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..controller_client import ControllerError
from . import api


@api(43, "ElectLeaders", 0, 2)
async def handle(broker, request):
    body = request.body
    election_type = getattr(body, "election_type", 0)
    wanted = None
    if body.topic_partitions is not None:
        wanted = [
            {"topic": t.topic, "partition": p} for t in body.topic_partitions for p in t.partitions
        ]
    try:
        answer = await broker.controller.call(
            "elect_leaders", election_type=election_type, partitions=wanted
        )
        outcomes = answer["results"]
    except (ControllerError, OSError) as exc:
        return {
            "throttle_time": 0,
            "error_code": ErrorCode.request_timed_out,
            "replica_election_results": [
                {
                    "topic": w["topic"],
                    "partition_result": [
                        {
                            "partition_id": w["partition"],
                            "error_code": ErrorCode.request_timed_out,
                            "error_message": str(exc),
                        }
                    ],
                }
                for w in wanted or []
            ],
        }
    by_topic: dict[str, list[dict]] = {}
    for outcome in outcomes:
        error = outcome.get("error")
        by_topic.setdefault(outcome["topic"], []).append(
            {
                "partition_id": outcome["partition"],
                "error_code": ErrorCode[error.lower()] if error else ErrorCode.none,
                "error_message": outcome.get("message"),
            }
        )
    return {
        "throttle_time": 0,
        "error_code": ErrorCode.none,
        "replica_election_results": [
            {"topic": t, "partition_result": r} for t, r in by_topic.items()
        ],
    }
