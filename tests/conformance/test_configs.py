"""Configs as clients see them: DescribeConfigs names, values, sources and synonyms of topic and
broker configs, and the answers of (Incremental)AlterConfigs, on real Kafka and on the bundled
cluster. Both shared clusters run with the same static broker configs (SHARED_CONFIGS), so a
topic config can come from the topic (DYNAMIC_TOPIC_CONFIG), from server.properties
(STATIC_BROKER_CONFIG) or from the default (DEFAULT_CONFIG).
"""

from __future__ import annotations

from typing import Any

import pytest

from .kit import (
    ELR,
    INVALID_CONFIG,
    INVALID_REQUEST,
    INVALID_TOPIC_EXCEPTION,
    NONE,
    SHARED_CONFIGS,
    UNKNOWN_TOPIC_OR_PARTITION,
    Target,
    documented,
    documented_default,
    unique,
    wait_for,
)

pytestmark = pytest.mark.oracle

TOPIC, BROKER = 2, 4
# DescribeConfigs config_source
DYNAMIC_TOPIC_CONFIG = 1
DYNAMIC_DEFAULT_BROKER_CONFIG = 3
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5
# config_type
BOOLEAN, STRING, INT, LONG, DOUBLE, LIST = 1, 2, 3, 5, 6, 7
# IncrementalAlterConfigs operations
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3

OVERRIDES = {"retention.ms": "60000", "cleanup.policy": "compact", "max.message.bytes": "2000"}


def shape(entry: dict[str, Any]) -> tuple:
    return (
        entry["value"],
        entry["config_source"],
        entry["read_only"],
        entry["is_sensitive"],
        entry["config_type"],
    )


def topic_pair(pair: tuple[Target, Target], overrides: dict[str, str]) -> list[dict]:
    """The same topic on both clusters; the DescribeConfigs `configs` of each."""
    described = []
    for target in pair:
        name = target.create_topic(unique("cfg"), 1, 3, configs=overrides)
        result = target.describe_configs(TOPIC, name)
        assert result["error_code"] == NONE
        described.append(result["configs"])
    return described


def test_topic_configs_described(target: Target) -> None:
    name = target.create_topic(unique("cfg"), 1, 3, configs=OVERRIDES)
    configs = target.describe_configs(TOPIC, name)["configs"]
    expected = {
        "retention.ms": ("60000", DYNAMIC_TOPIC_CONFIG, False, False, LONG),
        "cleanup.policy": ("compact", DYNAMIC_TOPIC_CONFIG, False, False, LIST),
        "max.message.bytes": ("2000", DYNAMIC_TOPIC_CONFIG, False, False, INT),
        "delete.retention.ms": ("3600000", STATIC_BROKER_CONFIG, False, False, LONG),
        "segment.bytes": ("1073741824", DEFAULT_CONFIG, False, False, INT),
        "compression.type": ("producer", DEFAULT_CONFIG, False, False, STRING),
        "min.cleanable.dirty.ratio": ("0.5", DEFAULT_CONFIG, False, False, DOUBLE),
        "unclean.leader.election.enable": ("false", DEFAULT_CONFIG, False, False, BOOLEAN),
        "message.timestamp.type": ("CreateTime", DEFAULT_CONFIG, False, False, STRING),
    }
    assert {k: shape(configs[k]) for k in expected} == expected
    # The overrides' synonyms start with the topic's own entry; the static one names the
    # broker config it came from.
    for key, value in OVERRIDES.items():
        assert configs[key]["synonyms"][0] == {
            "name": key,
            "value": value,
            "source": DYNAMIC_TOPIC_CONFIG,
        }
    assert configs["delete.retention.ms"]["synonyms"][0] == {
        "name": "log.cleaner.delete.retention.ms",
        "value": "3600000",
        "source": STATIC_BROKER_CONFIG,
    }
    # Asking for some keys answers those that exist; asking for none answers all.
    some = target.describe_configs(TOPIC, name, keys=["retention.ms", "no.such", "segment.ms"])
    assert sorted(some["configs"]) == ["retention.ms", "segment.ms"]
    assert target.describe_configs(TOPIC, name, keys=[])["configs"].keys() == configs.keys()


def test_topic_config_names(pair: tuple[Target, Target]) -> None:
    kafka, bundled = topic_pair(pair, {})
    assert sorted(bundled) == sorted(kafka)


@pytest.mark.parametrize("overrides", [{}, OVERRIDES], ids=["plain", "overrides"])
def test_topic_config_values_and_sources(pair: tuple[Target, Target], overrides: dict) -> None:
    kafka, bundled = topic_pair(pair, overrides)
    differ = {}
    for name in sorted(set(kafka) & set(bundled)):
        k, b = shape(kafka[name]), shape(bundled[name])
        if k == b:
            continue
        if (
            name == "min.insync.replicas"
            and k[1] == DYNAMIC_DEFAULT_BROKER_CONFIG
            and b[1] == DEFAULT_CONFIG
            and (k[0], *k[2:]) == (b[0], *b[2:])
            and documented(ELR)
        ):
            continue
        differ[name] = {"kafka": k, "bundled": b}
    assert differ == {}


@pytest.mark.parametrize("overrides", [{}, OVERRIDES], ids=["plain", "overrides"])
def test_topic_config_synonyms(pair: tuple[Target, Target], overrides: dict) -> None:
    kafka, bundled = topic_pair(pair, overrides)
    differ = {}
    for name in sorted((set(kafka) & set(bundled)) - {"min.insync.replicas"}):
        if kafka[name]["synonyms"] != bundled[name]["synonyms"]:
            differ[name] = {"kafka": kafka[name]["synonyms"], "bundled": bundled[name]["synonyms"]}
    assert differ == {}


@pytest.mark.parametrize("overrides", [{}, OVERRIDES], ids=["plain", "overrides"])
def test_create_topics_configs(pair: tuple[Target, Target], overrides: dict) -> None:
    """CreateTopics (v5+) answers with every topic config of the new topic, its value and
    source; there retention.ms derived from a static log.retention.hours is STATIC."""
    answers = []
    for target in pair:
        spec = {"name": unique("cfgnew"), "num_partitions": 1, "replication_factor": 3}
        (result,) = target.create_topics([spec | {"configs": overrides}], validate_only=True)
        assert result["error_code"] == NONE
        answers.append({c["name"]: c for c in result["configs"]})
    kafka, bundled = answers
    assert sorted(bundled) == sorted(kafka)
    differ = {}
    for name in sorted(kafka):
        k, b = kafka[name], bundled[name]
        if k == b:
            continue
        if (
            name == "min.insync.replicas"
            and (k["config_source"], b["config_source"])
            == (DYNAMIC_DEFAULT_BROKER_CONFIG, DEFAULT_CONFIG)
            and k | {"config_source": DEFAULT_CONFIG} == b
            and documented(ELR)
        ):
            continue
        differ[name] = {"kafka": k, "bundled": b}
    assert differ == {}
    assert kafka["retention.ms"]["config_source"] == (
        DYNAMIC_TOPIC_CONFIG if "retention.ms" in overrides else STATIC_BROKER_CONFIG
    )


def test_retention_ms_follows_log_retention_hours(target: Target) -> None:
    assert SHARED_CONFIGS["log.retention.hours"] == "100"
    name = target.create_topic(unique("hours"), 1, 3)
    entry = target.describe_configs(TOPIC, name)["configs"]["retention.ms"]
    assert entry["value"] == str(100 * 3_600_000)


def test_message_timestamp_after_max_ms_default(target: Target) -> None:
    name = target.create_topic(unique("after"), 1, 3)
    entry = target.describe_configs(TOPIC, name)["configs"]["message.timestamp.after.max.ms"]
    assert (entry["value"], entry["config_source"]) == ("3600000", DEFAULT_CONFIG)


# ---------------------------------------------------------------------------------------------
# Broker configs


def kafka_default(entry: dict[str, Any]) -> str | None:
    """Kafka's own default of a broker config: its DEFAULT_CONFIG synonym."""
    if entry["config_source"] == DEFAULT_CONFIG:
        return entry["value"]
    defaults = [s["value"] for s in entry["synonyms"] if s["source"] == DEFAULT_CONFIG]
    return defaults[0] if defaults else None


def test_broker_configs_match_kafka(pair: tuple[Target, Target]) -> None:
    """Every broker config the bundled cluster describes exists in Kafka, with Kafka's value,
    source and flags, or with a default docs/differences.md lists. The jvm backend writes a
    few settings of its own into server.properties (replication of the internal topics, the
    rebalance delay): for those the bundled value must be Kafka's default or a documented one.
    """
    jvm, bundled = pair
    kafka = jvm.describe_configs(BROKER, "1")["configs"]
    ours = bundled.describe_configs(BROKER, "1")["configs"]
    assert set(ours) - set(kafka) == set()
    differ = {}
    for name in sorted(ours):
        k, b = kafka[name], ours[name]
        if shape(k) == shape(b):
            continue
        flags_match = (k["read_only"], k["is_sensitive"], k["config_type"]) == (
            b["read_only"],
            b["is_sensitive"],
            b["config_type"],
        )
        harness_set = k["config_source"] == STATIC_BROKER_CONFIG and name not in SHARED_CONFIGS
        if harness_set or k["config_source"] == DEFAULT_CONFIG:
            stock = kafka_default(k)
            if (
                flags_match
                and b["config_source"] == DEFAULT_CONFIG
                and (b["value"] == stock or documented_default(name, stock, b["value"]))
            ):
                continue
        if (
            name == "min.insync.replicas"
            and k["config_source"] == DYNAMIC_DEFAULT_BROKER_CONFIG
            and (b["value"], b["config_source"]) == (k["value"], DEFAULT_CONFIG)
            and flags_match
            and documented(ELR)
        ):
            continue
        differ[name] = {"kafka": shape(k), "bundled": shape(b)}
    assert differ == {}


def test_unset_broker_configs_have_no_value(target: Target) -> None:
    configs = target.describe_configs(BROKER, "1")["configs"]
    for name in ("log.retention.ms", "log.roll.ms", "log.roll.jitter.ms"):
        assert (configs[name]["value"], configs[name]["config_source"]) == (None, DEFAULT_CONFIG)


def test_cluster_default_broker_resource(target: Target) -> None:
    result = target.describe_configs(BROKER, "")
    assert result["error_code"] == NONE
    sources = {c["config_source"] for c in result["configs"].values()}
    assert sources <= {DYNAMIC_DEFAULT_BROKER_CONFIG}


#: Cluster-wide dynamic broker configs for test_cluster_wide_dynamic_configs: one that outranks
#: a static synonym (log.retention.hours), one over a static value, one over a default.
CLUSTER_WIDE = {
    "log.retention.ms": "7200000",
    "log.cleaner.delete.retention.ms": "1000",
    "compression.gzip.level": "5",
}


def described_with_cluster_wide(target: Target) -> dict[str, dict]:
    """Set CLUSTER_WIDE on `target`, describe the cluster-wide resource, broker 1 and a topic,
    and remove the configs again (the shared cluster is for every test)."""
    name = target.create_topic(unique("cfgwide"), 1, 3)
    before = target.describe_configs(BROKER, "")["configs"].keys()

    def broker_has(values: dict[str, str | None]) -> bool:
        configs = target.describe_configs(BROKER, "1")["configs"]
        return all(configs[k]["config_source"] == 3 for k in values if values[k] is not None)

    try:
        assert incremental(target, "", [(k, SET, v) for k, v in CLUSTER_WIDE.items()], BROKER) == 0
        wait_for(lambda: broker_has(CLUSTER_WIDE), 10, f"{target}: cluster-wide configs set")
        cluster = target.describe_configs(BROKER, "")["configs"]
        assert cluster.keys() - CLUSTER_WIDE.keys() == before
        keys = [*CLUSTER_WIDE, "log.retention.hours"]
        return {
            "cluster": {k: cluster[k] for k in CLUSTER_WIDE},
            "broker": target.describe_configs(BROKER, "1", keys=keys)["configs"],
            "topic": target.describe_configs(TOPIC, name)["configs"],
        }
    finally:
        assert incremental(target, "", [(k, DELETE, None) for k in CLUSTER_WIDE], BROKER) == 0
        wait_for(
            lambda: target.describe_configs(BROKER, "")["configs"].keys() == before,
            10,
            f"{target}: cluster-wide configs removed",
        )


def test_cluster_wide_dynamic_configs(pair: tuple[Target, Target]) -> None:
    """Broker configs set for the whole cluster (resource name ''), as the cluster-wide
    resource, this broker and a topic describe them. A dynamic log.retention.ms also hides the
    static log.retention.hours: Kafka then reads that one as its default (168)."""
    kafka, bundled = (described_with_cluster_wide(target) for target in pair)
    kafka["topic"].pop("min.insync.replicas")  # docs/differences.md: ELR
    bundled["topic"].pop("min.insync.replicas")
    assert documented(ELR)
    assert bundled == kafka
    retention = kafka["broker"]["log.retention.ms"]
    assert (retention["value"], retention["config_source"]) == ("7200000", 3)
    assert kafka["broker"]["log.retention.hours"]["value"] == "168"
    assert kafka["topic"]["retention.ms"]["value"] == "7200000"
    for entry in kafka["cluster"].values():
        assert [s["source"] for s in entry["synonyms"]] == [DYNAMIC_DEFAULT_BROKER_CONFIG]


@pytest.mark.parametrize(
    "config, value, error",
    [
        ("compression.gzip.level", "0", INVALID_CONFIG),
        ("compression.gzip.level", "-1", NONE),
        ("compression.lz4.level", "18", INVALID_CONFIG),
        ("compression.zstd.level", "-131072", NONE),
        ("max.decompressed.message.bytes", "2147483640", INVALID_CONFIG),
        ("remote.copy.lag.ms", "-2", INVALID_CONFIG),
        ("remote.copy.lag.bytes", "-1", NONE),
        ("remote.log.copy.disable", "true", NONE),
        ("errors.deadletterqueue.group.enable", "true", NONE),
        ("remote.storage.enable", "true", INVALID_CONFIG),  # no tiered storage on either
        ("min.cleanable.dirty.ratio", "1.5", INVALID_CONFIG),
        ("segment.bytes", "1048575", INVALID_CONFIG),  # Kafka 4 wants at least 1 MiB
        ("segment.bytes", "1048576", NONE),
    ],
)
def test_topic_config_validation(target: Target, config: str, value: str, error: int) -> None:
    name = target.create_topic(unique("cfgval"), 1, 3)
    assert incremental(target, name, [(config, SET, value)], validate_only=True) == error
    spec = {"name": unique("cfgval"), "configs": {config: value}, "replication_factor": 3}
    (result,) = target.create_topics([spec], validate_only=True)
    assert result["error_code"] == error


# ---------------------------------------------------------------------------------------------
# Errors and alterations


def incremental(
    target: Target,
    name: str,
    ops: list[tuple[str, int, str | None]],
    resource_type: int = TOPIC,
    validate_only: bool = False,
) -> int:
    answer = target.call(
        "IncrementalAlterConfigs",
        resources=[
            {
                "resource_type": resource_type,
                "resource_name": name,
                "configs": [{"name": k, "config_operation": op, "value": v} for k, op, v in ops],
            }
        ],
        validate_only=validate_only,
    )
    (result,) = answer["responses"]
    return result["error_code"]


def legacy_alter(target: Target, name: str, configs: dict[str, str]) -> int:
    answer = target.call(
        "AlterConfigs",
        resources=[
            {
                "resource_type": TOPIC,
                "resource_name": name,
                "configs": [{"name": k, "value": v} for k, v in configs.items()],
            }
        ],
        validate_only=False,
    )
    (result,) = answer["responses"]
    return result["error_code"]


def test_config_errors(target: Target) -> None:
    name = target.create_topic(unique("cfgerr"), 1, 3)
    this_broker = min(target.addresses())
    assert target.describe_configs(TOPIC, unique("nosuch"))["error_code"] == (
        UNKNOWN_TOPIC_OR_PARTITION
    )
    assert target.describe_configs(TOPIC, "..")["error_code"] == INVALID_TOPIC_EXCEPTION
    for broker in ("99", "x", str(this_broker + 1)):
        # Sent to broker `this_broker`, which only describes itself.
        assert target.describe_configs(BROKER, broker)["error_code"] == INVALID_REQUEST, broker
    assert {
        "unknown config": incremental(target, name, [("no.such", SET, "1")]),
        "not a number": incremental(target, name, [("retention.ms", SET, "abc")]),
        "unknown topic": incremental(target, unique("nosuch"), [("retention.ms", SET, "1")]),
        "append to a non-list": incremental(target, name, [("retention.ms", APPEND, "5")]),
        "read-only broker config": incremental(
            target, str(this_broker), [("broker.session.timeout.ms", SET, "1000")], BROKER
        ),
        "legacy unknown config": legacy_alter(target, name, {"no.such": "1"}),
        "validate only, bad value": incremental(
            target, name, [("cleanup.policy", SET, "bogus")], validate_only=True
        ),
    } == {
        "unknown config": INVALID_CONFIG,
        "not a number": INVALID_CONFIG,
        "unknown topic": UNKNOWN_TOPIC_OR_PARTITION,
        "append to a non-list": INVALID_CONFIG,
        "read-only broker config": INVALID_REQUEST,
        "legacy unknown config": INVALID_CONFIG,
        "validate only, bad value": INVALID_CONFIG,
    }
    assert target.describe_configs(TOPIC, name)["configs"]["retention.ms"]["config_source"] != (
        DYNAMIC_TOPIC_CONFIG
    )


def test_alter_then_describe(target: Target) -> None:
    name = target.create_topic(unique("alter"), 1, 3)
    default_retention = target.describe_configs(TOPIC, name)["configs"]["retention.ms"]["value"]

    def settles(expected: dict[str, tuple[str | None, int]]) -> None:
        # Kafka brokers apply config changes from the metadata log a moment after the answer.
        def now() -> dict[str, tuple[str | None, int]]:
            configs = target.describe_configs(TOPIC, name)["configs"]
            return {k: (configs[k]["value"], configs[k]["config_source"]) for k in expected}

        wait_for(lambda: now() == expected, 10, f"{target}: configs {expected}")

    ops = [("retention.ms", SET, "1000"), ("cleanup.policy", SET, "compact")]
    assert incremental(target, name, ops, validate_only=True) == NONE
    settles({"retention.ms": (default_retention, DEFAULT_CONFIG)})
    assert incremental(target, name, ops) == NONE
    settles({"retention.ms": ("1000", DYNAMIC_TOPIC_CONFIG), "cleanup.policy": ("compact", 1)})
    assert incremental(target, name, [("cleanup.policy", APPEND, "delete")]) == NONE
    settles({"cleanup.policy": ("compact,delete", DYNAMIC_TOPIC_CONFIG)})
    assert incremental(target, name, [("cleanup.policy", SUBTRACT, "compact")]) == NONE
    settles({"cleanup.policy": ("delete", DYNAMIC_TOPIC_CONFIG)})
    assert incremental(target, name, [("retention.ms", DELETE, None)]) == NONE
    settles({"retention.ms": (default_retention, DEFAULT_CONFIG)})
    # The legacy AlterConfigs replaces the whole set of overrides.
    assert legacy_alter(target, name, {"segment.ms": "100000"}) == NONE
    settles(
        {
            "segment.ms": ("100000", DYNAMIC_TOPIC_CONFIG),
            "cleanup.policy": ("delete", DEFAULT_CONFIG),
        }
    )


def test_delete_of_an_unknown_config(target: Target) -> None:
    name = target.create_topic(unique("delunk"), 1, 3)
    assert incremental(target, name, [("no.such.config", DELETE, None)]) == NONE


def test_duplicate_keys_in_one_alteration(target: Target) -> None:
    name = target.create_topic(unique("dupkey"), 1, 3)
    ops = [("retention.ms", SET, "1000"), ("retention.ms", SET, "2000")]
    assert incremental(target, name, ops) == INVALID_REQUEST
