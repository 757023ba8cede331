"""SyncGroup (key 14): v0-5.

Behavior: the rebalance's second phase. The leader sends every member's assignment; once it is
stored in ``__consumer_offsets`` (acks=all) the group is Stable and every parked SyncGroup gets
its member's assignment. Followers that sync before the leader wait for it; a SyncGroup in a
Stable group returns the member's current assignment. Wrong generation: ILLEGAL_GENERATION; a
new rebalance meanwhile: REBALANCE_IN_PROGRESS.
Version notes: v5 must name the protocol type and name (INCONSISTENT_GROUP_PROTOCOL otherwise)
and gets them back.
"""

from __future__ import annotations

from ..groups.coordinator import SyncRequest, coordinator_of
from . import api


@api(14, "SyncGroup", 0, 5)
async def handle(broker, request):
    body = request.body
    req = SyncRequest(
        group_id=body.group_id,
        generation_id=body.generation_id,
        member_id=body.member_id,
        group_instance_id=getattr(body, "group_instance_id", None),
        protocol_type=getattr(body, "protocol_type", None),
        protocol_name=getattr(body, "protocol_name", None),
        assignments=tuple((a.member_id, bytes(a.assignment)) for a in body.assignments),
        version=request.api_version,
    )
    answer = await coordinator_of(broker).sync_group(req)
    return {"throttle_time": 0, **answer}
