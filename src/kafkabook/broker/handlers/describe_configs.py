"""DescribeConfigs (key 32): v1-4.

Behavior: a topic's configs with their effective values and sources (topic override, dynamic or
static broker config, default), this broker's configs, or the cluster-wide dynamic broker
configs (resource name ""); another broker's id is refused as Kafka does: ask that broker.
Synonyms (v1+) list every level that sets the config or one of its broker synonyms, most
specific first, from the first level that sets the config's own name on, as Kafka lists them:
retention.ms has none while only log.retention.hours is set, and log.retention.ms is described
as unset (null) although the broker derives its retention from log.retention.hours. No keys
(null or empty) means every config. v3+ adds each config's type.
Version notes: documentation (v3+) is left null.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..configs import (
    BROKER_CONFIGS,
    TOPIC_CONFIGS,
    ConfigSource,
    Layer,
    broker_props,
    config_synonyms,
    resolve_topic_config,
)
from ..topics import topic_name_error
from . import api

TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8


def _entry(name, value, synonyms, definition, include_synonyms) -> dict:
    source = synonyms[0]["source"] if synonyms else ConfigSource.DEFAULT_CONFIG
    return {
        "name": name,
        "value": value,
        "read_only": definition.read_only,
        "config_source": int(source),
        "is_sensitive": False,
        "synonyms": synonyms if include_synonyms else [],
        "config_type": int(definition.type),
        "documentation": None,
    }


def broker_layers(broker) -> list[Layer]:
    """This broker's levels of broker configs, most specific first, down to the defaults."""
    defaults = {n: d.default for n, d in BROKER_CONFIGS.items() if d.default is not None}
    # The bundled default follows the live brokers (docs/differences.md), as broker.config().
    live = len(broker.live_broker_ids())
    defaults["default.replication.factor"] = str(min(3, max(1, live)))
    return [
        (
            ConfigSource.DYNAMIC_BROKER_CONFIG,
            broker.image.configs.get(("broker", str(broker.node_id)), {}),
        ),
        (ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, broker.image.configs.get(("broker", ""), {})),
        (ConfigSource.STATIC_BROKER_CONFIG, broker.static_configs),
        (ConfigSource.DEFAULT_CONFIG, defaults),
    ]


def topic_configs(broker, topic: str, keys, include_synonyms: bool) -> list[dict]:
    overrides = broker.image.configs.get(("topic", topic), {})
    layers = broker_layers(broker)
    out = []
    for name in sorted(TOPIC_CONFIGS):
        if keys is not None and name not in keys:
            continue
        definition = TOPIC_CONFIGS[name]
        synonyms = config_synonyms(definition.synonym, layers) if definition.synonym else []
        if name in overrides:
            override = {"name": name, "value": overrides[name]}
            synonyms.insert(0, override | {"source": int(ConfigSource.DYNAMIC_TOPIC_CONFIG)})
        value, _ = resolve_topic_config(name, overrides, layers)
        out.append(_entry(name, value, synonyms, definition, include_synonyms))
    return out


def broker_configs(broker, keys, include_synonyms: bool) -> list[dict]:
    layers = broker_layers(broker)
    (_, node), (_, cluster), (_, static), (_, defaults) = layers
    props = broker_props(static, cluster, node)
    out = []
    for name in sorted(BROKER_CONFIGS):
        if keys is not None and name not in keys:
            continue
        synonyms = config_synonyms(name, layers)
        value = props.get(name, defaults.get(name))
        out.append(_entry(name, value, synonyms, BROKER_CONFIGS[name], include_synonyms))
    return out


def cluster_broker_configs(broker, keys, include_synonyms: bool) -> list[dict]:
    """The cluster-wide dynamic broker configs, with their cluster-wide synonyms only."""
    layers = broker_layers(broker)
    cluster = layers[1][1]
    out = []
    for name in sorted(cluster):
        if name not in BROKER_CONFIGS or (keys is not None and name not in keys):
            continue
        synonyms = [
            s
            for s in config_synonyms(name, layers)
            if s["source"] == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
        ]
        out.append(_entry(name, cluster[name], synonyms, BROKER_CONFIGS[name], include_synonyms))
    return out


@api(32, "DescribeConfigs", 1, 4)
async def handle(broker, request):
    body = request.body
    include_synonyms = getattr(body, "include_synonyms", False)
    results = []
    for res in body.resources:
        keys = set(res.configuration_keys) if res.configuration_keys else None
        result = {
            "error_code": ErrorCode.none,
            "error_message": None,
            "resource_type": res.resource_type,
            "resource_name": res.resource_name,
            "configs": [],
        }
        if res.resource_type == TOPIC:
            if topic_name_error(res.resource_name):
                result["error_code"] = ErrorCode.invalid_topic_exception
                result["error_message"] = topic_name_error(res.resource_name)
            elif res.resource_name not in broker.image.topics:
                result["error_code"] = ErrorCode.unknown_topic_or_partition
                result["error_message"] = f"Topic {res.resource_name} does not exist"
            else:
                result["configs"] = topic_configs(broker, res.resource_name, keys, include_synonyms)
        elif res.resource_type == BROKER:
            if res.resource_name not in ("", str(broker.node_id)):
                result["error_code"] = ErrorCode.invalid_request
                result["error_message"] = (
                    f"Unexpected broker id, expected {broker.node_id} or empty string, "
                    f"but received {res.resource_name}"
                )
            elif res.resource_name == "":
                result["configs"] = cluster_broker_configs(broker, keys, include_synonyms)
            else:
                result["configs"] = broker_configs(broker, keys, include_synonyms)
        elif res.resource_type == BROKER_LOGGER:
            result["configs"] = []
        else:
            result["error_code"] = ErrorCode.invalid_request
            result["error_message"] = f"Unsupported resource type {res.resource_type}"
        results.append(result)
    return {"throttle_time": 0, "results": results}
