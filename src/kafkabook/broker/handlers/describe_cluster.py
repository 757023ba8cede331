"""DescribeCluster (key 60): v0-1.

Behavior: the cluster id, the live brokers, and a controller id; KRaft brokers name a live broker
as controller since clients cannot reach the quorum directly (as Metadata does). v1 with
endpoint_type 2 (controllers) is answered with UNSUPPORTED_ENDPOINT_TYPE: the bundled
controller speaks no Kafka protocol.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from . import api
from .metadata import NO_OPS, controller_id


@api(60, "DescribeCluster", 0, 1)
async def handle(broker, request):
    endpoint_type = getattr(request.body, "endpoint_type", 1)
    if endpoint_type != 1:
        return {
            "throttle_time": 0,
            "error_code": ErrorCode.unsupported_endpoint_type,
            "error_message": "The bundled cluster's controller does not serve Kafka clients",
            "endpoint_type": endpoint_type,
            "cluster_id": broker.cluster_id or "",
            "controller_id": -1,
            "brokers": [],
            "cluster_authorized_operations": NO_OPS,
        }
    brokers = [
        {"broker_id": b.broker_id, "host": b.host, "port": b.port, "rack": None}
        for b in sorted(broker.image.brokers.values(), key=lambda b: b.broker_id)
        if not b.fenced
    ]
    return {
        "throttle_time": 0,
        "error_code": ErrorCode.none,
        "error_message": None,
        "endpoint_type": 1,
        "cluster_id": broker.cluster_id or "",
        "controller_id": controller_id(broker),
        "brokers": brokers,
        "cluster_authorized_operations": NO_OPS,
    }
