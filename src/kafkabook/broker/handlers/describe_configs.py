"""DescribeConfigs (key 32): v1-4.

Behavior: a topic's configs with their effective values and sources (topic override, static
broker config, default), or this broker's configs ("" would be the cluster default; another
broker's id is refused as Kafka does: ask that broker). Synonyms (v1+) list every level that sets
a value, most specific first; v3+ adds each config's type.
Version notes: documentation (v3+) is left null.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..configs import BROKER_CONFIGS, TOPIC_CONFIGS, ConfigSource, broker_default, synonym_default
from ..topics import topic_name_error
from . import api

TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8


def _entry(name, value, source, definition, synonyms, include_synonyms) -> dict:
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


def topic_configs(broker, topic: str, keys, include_synonyms: bool) -> list[dict]:
    overrides = broker.image.configs.get(("topic", topic), {})
    broker_dynamic = broker.image.configs.get(("broker", ""), {})
    static = broker.static_configs
    out = []
    for name in sorted(TOPIC_CONFIGS):
        if keys is not None and name not in keys:
            continue
        definition = TOPIC_CONFIGS[name]
        synonyms = []
        if name in overrides:
            synonyms.append(
                {
                    "name": name,
                    "value": overrides[name],
                    "source": int(ConfigSource.DYNAMIC_TOPIC_CONFIG),
                }
            )
        syn = definition.synonym
        if syn and syn in broker_dynamic:
            synonyms.append(
                {
                    "name": syn,
                    "value": broker_dynamic[syn],
                    "source": int(ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
                }
            )
        if syn and syn in static:
            synonyms.append(
                {
                    "name": syn,
                    "value": static[syn],
                    "source": int(ConfigSource.STATIC_BROKER_CONFIG),
                }
            )
        default = synonym_default(syn, static) if syn else definition.default
        if default is not None:
            synonyms.append(
                {"name": syn or name, "value": default, "source": int(ConfigSource.DEFAULT_CONFIG)}
            )
        if synonyms:
            value, source = synonyms[0]["value"], ConfigSource(synonyms[0]["source"])
        else:
            value, source = definition.default, ConfigSource.DEFAULT_CONFIG
        out.append(_entry(name, value, source, definition, synonyms, include_synonyms))
    return out


def broker_configs(broker, keys, include_synonyms: bool) -> list[dict]:
    per_broker = broker.image.configs.get(("broker", str(broker.node_id)), {})
    cluster = broker.image.configs.get(("broker", ""), {})
    out = []
    for name in sorted(BROKER_CONFIGS):
        if keys is not None and name not in keys:
            continue
        definition = BROKER_CONFIGS[name]
        synonyms = []
        for source, values in (
            (ConfigSource.DYNAMIC_BROKER_CONFIG, per_broker),
            (ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, cluster),
            (ConfigSource.STATIC_BROKER_CONFIG, broker.static_configs),
        ):
            if name in values:
                synonyms.append({"name": name, "value": values[name], "source": int(source)})
        default = (
            broker.config(name)
            if name == "default.replication.factor"
            else broker_default(name, {})
        )
        if default is not None:
            synonyms.append(
                {"name": name, "value": default, "source": int(ConfigSource.DEFAULT_CONFIG)}
            )
        value, source = (
            (synonyms[0]["value"], ConfigSource(synonyms[0]["source"]))
            if synonyms
            else (None, ConfigSource.DEFAULT_CONFIG)
        )
        out.append(_entry(name, value, source, definition, synonyms, include_synonyms))
    return out


@api(32, "DescribeConfigs", 1, 4)
async def handle(broker, request):
    body = request.body
    include_synonyms = getattr(body, "include_synonyms", False)
    results = []
    for res in body.resources:
        keys = set(res.configuration_keys) if res.configuration_keys is not None else None
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
            else:
                result["configs"] = broker_configs(broker, keys, include_synonyms)
        elif res.resource_type == BROKER_LOGGER:
            result["configs"] = []
        else:
            result["error_code"] = ErrorCode.invalid_request
            result["error_message"] = f"Unsupported resource type {res.resource_type}"
        results.append(result)
    return {"throttle_time": 0, "results": results}
