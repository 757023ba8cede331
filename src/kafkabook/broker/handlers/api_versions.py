"""ApiVersions (key 18): v0-4.

Behavior: lists every API this broker serves with its version range. A client that asks with a
version we do not know gets a v0 answer carrying UNSUPPORTED_VERSION and the ranges (KIP-511);
the server handles that case before dispatch.
Version notes: v3+ carries client software name/version (ignored); supported/finalized features
report metadata.version only.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..server import supported_ranges
from . import api

# metadata.version of Apache Kafka 3.9 (IBP 3.9-IV0); clients only display it.
METADATA_VERSION = 21


@api(18, "ApiVersions", 0, 4)
async def handle(broker, request):
    return {
        "error_code": ErrorCode.none,
        "api_keys": supported_ranges(),
        "throttle_time": 0,
        "supported_features": [
            {"name": "metadata.version", "min_version": 1, "max_version": METADATA_VERSION}
        ],
        "finalized_features_epoch": broker.image.offset,
        "finalized_features": [
            {
                "name": "metadata.version",
                "max_version_level": METADATA_VERSION,
                "min_version_level": METADATA_VERSION,
            }
        ],
        "zk_migration_ready": False,
    }
