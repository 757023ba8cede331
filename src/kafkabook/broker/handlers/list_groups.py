"""ListGroups (key 16): v0-5.

Behavior: the groups this broker coordinates (admin clients ask every broker and merge), with
their protocol type and, from v4, their state; v4's states filter and v5's types filter are
matched case-insensitively, an empty filter keeps everything. Dead groups are not listed.
While any of its offsets partitions loads, the broker answers COORDINATOR_LOAD_IN_PROGRESS.
Version notes: every group here is a classic group (group_type "classic"); KIP-848 consumer
groups do not exist in the bundled cluster yet.
"""

from __future__ import annotations

from ..groups.coordinator import coordinator_of
from . import api

GROUP_TYPE = "classic"


@api(16, "ListGroups", 0, 5)
async def handle(broker, request):
    body = request.body
    states = {s.lower() for s in getattr(body, "states_filter", ())}
    types = {t.lower() for t in getattr(body, "types_filter", ())}
    error, groups = coordinator_of(broker).list_groups()
    listed = []
    if not types or GROUP_TYPE in types:
        for group in sorted(groups, key=lambda g: g.group_id):
            if states and group.state.value.lower() not in states:
                continue
            listed.append(
                {
                    "group_id": group.group_id,
                    "protocol_type": group.protocol_type or "",
                    "group_state": group.state.value,
                    "group_type": GROUP_TYPE,
                }
            )
    return {"throttle_time": 0, "error_code": error, "groups": listed}
