"""LeaveGroup (key 13): v0-5.

Behavior: members leave at once instead of waiting for their session to expire, and the group
rebalances. From v3 a batch of members may leave, each identified by member id or, for static
members removed by an admin, by group.instance.id alone; each gets its own error.
Version notes: v0-2 name one member and carry its error at the top level.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..groups.coordinator import coordinator_of
from . import api


@api(13, "LeaveGroup", 0, 5)
async def handle(broker, request):
    body = request.body
    version = request.api_version
    if version >= 3:
        leaving = [(m.member_id, m.group_instance_id) for m in body.members]
    else:
        leaving = [(body.member_id, None)]
    error, results = coordinator_of(broker).leave_group(body.group_id, leaving)
    if version < 3:
        if error == ErrorCode.none:
            error = next((e for _, _, e in results if e != ErrorCode.none), ErrorCode.none)
        return {"throttle_time": 0, "error_code": error}
    members = [
        {"member_id": mid, "group_instance_id": iid, "error_code": e} for mid, iid, e in results
    ]
    return {"throttle_time": 0, "error_code": error, "members": members}
