"""InitProducerId (key 22): v0-5.

Behavior: an idempotent producer (no transactional id) gets a fresh producer id with epoch 0,
taken from a block the controller allocated to this broker. From v3 a producer may present its
current id and epoch to have the epoch bumped (KIP-360) after a sequence error; an exhausted
epoch gets a new id instead.
Version notes: transactional ids need the transaction coordinator, which does not exist yet:
they are answered with COORDINATOR_NOT_AVAILABLE (docs/differences.md).
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..controller_client import ControllerError
from . import api

MAX_EPOCH = 32767


@api(22, "InitProducerId", 0, 5)
async def handle(broker, request):
    body = request.body
    if body.transactional_id is not None:
        return {
            "throttle_time": 0,
            "error_code": ErrorCode.coordinator_not_available,
            "producer_id": -1,
            "producer_epoch": -1,
        }
    current_id = getattr(body, "producer_id", -1)
    current_epoch = getattr(body, "producer_epoch", -1)
    if current_id >= 0 and 0 <= current_epoch < MAX_EPOCH:
        return {
            "throttle_time": 0,
            "error_code": ErrorCode.none,
            "producer_id": current_id,
            "producer_epoch": current_epoch + 1,
        }
    try:
        pid = await broker.producer_ids.next()
    except (ControllerError, OSError):
        return {
            "throttle_time": 0,
            "error_code": ErrorCode.coordinator_load_in_progress,
            "producer_id": -1,
            "producer_epoch": -1,
        }
    return {
        "throttle_time": 0,
        "error_code": ErrorCode.none,
        "producer_id": pid,
        "producer_epoch": 0,
    }
