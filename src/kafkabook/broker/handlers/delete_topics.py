"""DeleteTopics (key 20): v1-6.

Behavior: deletes topics by name, or from v6 by id, through the controller; answers once this
broker's metadata no longer holds them. Unknown names answer UNKNOWN_TOPIC_OR_PARTITION,
unknown ids UNKNOWN_TOPIC_ID.
"""

from __future__ import annotations

import uuid

from ...protocol.errors import ErrorCode
from ..controller_client import ControllerError
from . import api

_ZERO = uuid.UUID(int=0)


@api(20, "DeleteTopics", 1, 6)
async def handle(broker, request):
    body = request.body
    if request.api_version >= 6:
        wanted = [(t.name, t.topic_id) for t in body.topics]
    else:
        wanted = [(name, None) for name in body.topic_names]
    results = []
    names = []
    for name, topic_id in wanted:
        if name is None and topic_id not in (None, _ZERO):
            topic = broker.image.topics_by_id.get(str(topic_id))
            if topic is None:
                results.append(
                    {
                        "name": None,
                        "topic_id": topic_id,
                        "error_code": ErrorCode.unknown_topic_id,
                        "error_message": None,
                    }
                )
                continue
            name = topic.name
        topic = broker.image.topics.get(name)
        if topic is None:
            results.append(
                {
                    "name": name,
                    "topic_id": _ZERO,
                    "error_code": ErrorCode.unknown_topic_or_partition,
                    "error_message": None,
                }
            )
            continue
        names.append(name)
        results.append(
            {
                "name": name,
                "topic_id": topic.topic_id,
                "error_code": ErrorCode.none,
                "error_message": None,
            }
        )
    if names:
        try:
            answer = await broker.controller.call("delete_topics", names=names)
            errors = {r["name"]: r for r in answer["results"] if r.get("error")}
        except (ControllerError, OSError) as exc:
            errors = {n: {"error": "REQUEST_TIMED_OUT", "message": str(exc)} for n in names}
        for r in results:
            if r["name"] in errors:
                r["error_code"] = ErrorCode[errors[r["name"]]["error"].lower()]
                r["error_message"] = errors[r["name"]].get("message")
        gone = {n for n in names if n not in errors}
        await broker.wait_for_metadata(
            lambda: not (gone & broker.image.topics.keys()), body.timeout.total_seconds() or 5
        )
    return {"throttle_time": 0, "responses": results}
