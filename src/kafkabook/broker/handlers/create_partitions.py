"""CreatePartitions (key 37): v0-3.

Behavior: raises a topic's partition count through the controller (new replicas placed as for
a new topic, or as assigned); INVALID_PARTITIONS when the count does not grow,
UNKNOWN_TOPIC_OR_PARTITION for unknown topics. validate_only changes nothing.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..controller_client import ControllerError
from . import api


@api(37, "CreatePartitions", 0, 3)
async def handle(broker, request):
    body = request.body
    specs = [
        {
            "name": t.name,
            "count": t.count,
            "assignments": [list(a.broker_ids) for a in t.assignments] if t.assignments else None,
        }
        for t in body.topics
    ]
    try:
        answer = await broker.controller.call(
            "create_partitions", topics=specs, validate_only=body.validate_only
        )
        outcomes = answer["results"]
    except (ControllerError, OSError) as exc:
        outcomes = [
            {"name": s["name"], "error": "REQUEST_TIMED_OUT", "message": str(exc)} for s in specs
        ]
    results = []
    grown = {}
    for spec, outcome in zip(specs, outcomes, strict=True):
        if outcome.get("error"):
            results.append(
                {
                    "name": spec["name"],
                    "error_code": ErrorCode[outcome["error"].lower()],
                    "error_message": outcome.get("message"),
                }
            )
        else:
            results.append(
                {"name": spec["name"], "error_code": ErrorCode.none, "error_message": None}
            )
            if not body.validate_only:
                grown[spec["name"]] = spec["count"]

    def visible() -> bool:
        topics = broker.image.topics
        return all(n in topics and len(topics[n].partitions) >= c for n, c in grown.items())

    if grown:
        await broker.wait_for_metadata(visible, body.timeout.total_seconds() or 5)
    return {"throttle_time": 0, "results": results}
