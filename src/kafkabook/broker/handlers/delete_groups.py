"""DeleteGroups (key 42): v0-2.

Behavior: deletes Empty groups: a tombstone for each of the group's committed offsets and one
for the group itself, written to ``__consumer_offsets`` (acks=all). A group with members
answers NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND; a group this broker does not
coordinate NOT_COORDINATOR.
"""

from __future__ import annotations

from ..groups.coordinator import coordinator_of
from . import api


@api(42, "DeleteGroups", 0, 2)
async def handle(broker, request):
    coordinator = coordinator_of(broker)
    results = []
    for group_id in dict.fromkeys(request.body.groups_names):  # duplicates answered once
        results.append(
            {"group_id": group_id, "error_code": await coordinator.delete_group(group_id)}
        )
    return {"throttle_time": 0, "results": results}
