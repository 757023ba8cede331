"""Heartbeat (key 12): v0-4.

Behavior: keeps a member's session alive for another session timeout (the one it asked for in
JoinGroup); a member that stops heartbeating is removed and the group rebalances. Answers
REBALANCE_IN_PROGRESS while the group prepares a rebalance (the
member must rejoin), ILLEGAL_GENERATION for another generation, UNKNOWN_MEMBER_ID or
FENCED_INSTANCE_ID for a member the group does not know as such. While the coordinator loads
its partition it answers success without looking, as Kafka does.
"""

from __future__ import annotations

from ..groups.coordinator import coordinator_of
from . import api


@api(12, "Heartbeat", 0, 4)
async def handle(broker, request):
    body = request.body
    error = coordinator_of(broker).heartbeat(
        body.group_id, body.generation_id, body.member_id, getattr(body, "group_instance_id", None)
    )
    return {"throttle_time": 0, "error_code": error}
