"""JoinGroup (key 11): v0-9.

Behavior: the classic rebalance's first phase, decided by the group coordinator
(``broker/groups``). A member without an id gets one; from v4 a dynamic member first gets
MEMBER_ID_REQUIRED with its new id and must join again with it (KIP-394). The request is parked
until every known member has rejoined (or the rebalance timeout removes those that did not),
then every member learns the new generation, the selected protocol and the leader, and the
leader also gets every member's metadata. Static members (group.instance.id, v5+) rejoin under
a new id without a rebalance when nothing changed; a v9+ returning leader is told to skip the
assignment. Session timeouts outside group.min/max.session.timeout.ms answer
INVALID_SESSION_TIMEOUT.
Version notes: v0 has no rebalance timeout (the session timeout is used); before v7 a missing
protocol name is sent as "".
"""

from __future__ import annotations

from ..groups.coordinator import JoinRequest, coordinator_of
from ..groups.wire import client_host, millis
from . import api


@api(11, "JoinGroup", 0, 9)
async def handle(broker, request):
    body = request.body
    version = request.api_version
    session_ms = millis(body.session_timeout)
    req = JoinRequest(
        group_id=body.group_id,
        member_id=body.member_id,
        group_instance_id=getattr(body, "group_instance_id", None),
        session_timeout_ms=session_ms,
        rebalance_timeout_ms=millis(body.rebalance_timeout) if version >= 1 else session_ms,
        protocol_type=body.protocol_type,
        protocols=tuple((p.name, bytes(p.metadata)) for p in body.protocols),
        client_id=request.client_id or "",
        client_host=client_host(),
        version=version,
        reason=getattr(body, "reason", None),
    )
    answer = await coordinator_of(broker).join_group(req)
    if version < 7 and answer["protocol_name"] is None:
        answer["protocol_name"] = ""
    return {"throttle_time": 0, **answer}
