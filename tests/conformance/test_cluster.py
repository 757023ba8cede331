"""The cluster as a whole: the API versions the scenarios rely on, and DescribeCluster."""

from __future__ import annotations

import re

import pytest

from .kit import NONE, Target, expect
from .wire import VERSIONS

pytestmark = pytest.mark.oracle

UNSUPPORTED_ENDPOINT_TYPE = 115
MISMATCHED_ENDPOINT_TYPE = 114
NO_AUTHORIZED_OPERATIONS = -(2**31)  # INT32_MIN: "not asked for"


def test_scenario_versions_are_offered(target: Target) -> None:
    answer = target.call(
        "ApiVersions", client_software_name="conformance", client_software_version="1"
    )
    assert answer["error_code"] == NONE
    ranges = {k["api_key"]: (k["min_version"], k["max_version"]) for k in answer["api_keys"]}
    missing = {
        name: (key, version, ranges.get(key))
        for name, (key, version) in VERSIONS.items()
        if key not in ranges or not ranges[key][0] <= version <= ranges[key][1]
    }
    assert missing == {}


def describe_cluster(target: Target, endpoint_type: int = 1, node_id: int | None = None) -> dict:
    return target.call(
        "DescribeCluster",
        node_id,
        include_cluster_authorized_operations=False,
        endpoint_type=endpoint_type,
    )


def test_describe_cluster(target: Target) -> None:
    answers = [describe_cluster(target, node_id=n) for n in sorted(target.addresses())]
    for answer in answers:
        assert (answer["error_code"], answer["error_message"], answer["endpoint_type"]) == (
            NONE,
            None,
            1,
        )
        brokers = answer["brokers"]
        assert [(b["broker_id"], b["host"], b["rack"]) for b in brokers] == [
            (1, "127.0.0.1", None),
            (2, "127.0.0.1", None),
            (3, "127.0.0.1", None),
        ]
        assert {b["broker_id"]: f"127.0.0.1:{b['port']}" for b in brokers} == target.addresses()
        # KRaft: clients are told a live broker, which forwards controller requests.
        assert answer["controller_id"] in {1, 2, 3}
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", answer["cluster_id"])
        assert answer["cluster_authorized_operations"] == NO_AUTHORIZED_OPERATIONS
    # Every broker names the same cluster; Metadata agrees.
    assert len({a["cluster_id"] for a in answers}) == 1
    assert target.metadata([])["cluster_id"] == answers[0]["cluster_id"]


def test_describe_cluster_other_endpoint_types(target: Target) -> None:
    controllers = describe_cluster(target, endpoint_type=2)
    assert controllers["error_code"] == expect(
        target,
        MISMATCHED_ENDPOINT_TYPE,
        UNSUPPORTED_ENDPOINT_TYPE,
        "which answers `UNSUPPORTED_ENDPOINT_TYPE` because the controller has no Kafka listener",
    )
    assert controllers["brokers"] == []
    unknown = describe_cluster(target, endpoint_type=3)
    assert (unknown["error_code"], unknown["brokers"]) == (UNSUPPORTED_ENDPOINT_TYPE, [])
