"""DescribeGroups (key 15): v0-6.

Behavior: each group's state, protocol type and members (member id, group.instance.id, client
id, client host). In the Stable state the protocol name is reported as protocol data and each
member comes with its metadata for that protocol and its assignment; in other states both are
empty, as in Kafka. A group this broker does not coordinate answers NOT_COORDINATOR (or
COORDINATOR_LOAD_IN_PROGRESS while it loads).
Version notes: an unknown group is reported in state Dead with no error before v6 and with
GROUP_ID_NOT_FOUND from v6 (KIP-1043). Authorized operations (v3+, on request) are every
operation on a group (READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS): there are no
ACLs yet.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..groups.coordinator import coordinator_of
from ..groups.state import GroupState
from . import api

NO_OPERATIONS = -(2**31)
#: READ(3), DELETE(6), DESCRIBE(8), DESCRIBE_CONFIGS(10), ALTER_CONFIGS(11) as a bit field.
GROUP_OPERATIONS = sum(1 << op for op in (3, 6, 8, 10, 11))


def _error(group_id: str, error: ErrorCode, state: str = "", message: str | None = None) -> dict:
    return {
        "error_code": error,
        "error_message": message,
        "group_id": group_id,
        "group_state": state,
        "protocol_type": "",
        "protocol_data": "",
        "members": [],
        "authorized_operations": NO_OPERATIONS,
    }


@api(15, "DescribeGroups", 0, 6)
async def handle(broker, request):
    body = request.body
    version = request.api_version
    include_ops = getattr(body, "include_authorized_operations", False)
    coordinator = coordinator_of(broker)
    described = []
    for group_id in body.groups:
        error, group = coordinator.describe_group(group_id)
        if error == ErrorCode.group_id_not_found:
            if version >= 6:
                described.append(_error(group_id, error, "Dead", f"Group {group_id} not found."))
            else:
                described.append(_error(group_id, ErrorCode.none, "Dead"))
            continue
        if group is None:
            described.append(_error(group_id, error))
            continue
        stable = group.state is GroupState.STABLE
        members = [
            {
                "member_id": m.member_id,
                "group_instance_id": m.group_instance_id,
                "client_id": m.client_id,
                "client_host": m.client_host,
                "member_metadata": m.metadata(group.protocol_name) if stable else b"",
                "member_assignment": m.assignment if stable else b"",
            }
            for m in group.members.values()
        ]
        described.append(
            {
                "error_code": ErrorCode.none,
                "error_message": None,
                "group_id": group_id,
                "group_state": group.state.value,
                "protocol_type": group.protocol_type or "",
                "protocol_data": (group.protocol_name or "") if stable else "",
                "members": members,
                "authorized_operations": GROUP_OPERATIONS if include_ops else NO_OPERATIONS,
            }
        )
    return {"throttle_time": 0, "groups": described}
