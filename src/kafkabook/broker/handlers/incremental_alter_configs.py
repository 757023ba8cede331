"""IncrementalAlterConfigs (key 44): v0-1.

Behavior: per config, SET (0), DELETE (1), APPEND (2) or SUBTRACT (3) — the last two only for
list-typed configs (INVALID_CONFIG otherwise) — applied on top of the resource's current dynamic
configs, validated as AlterConfigs validates them.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..configs import BROKER_CONFIGS, TOPIC_CONFIGS, ConfigType
from . import api
from .alter_configs import TOPIC, apply_changes

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


@api(44, "IncrementalAlterConfigs", 0, 1)
async def handle(broker, request):
    body = request.body
    changes = []
    early = {}
    for i, res in enumerate(body.resources):
        kind = "topic" if res.resource_type == TOPIC else "broker"
        catalogue = TOPIC_CONFIGS if res.resource_type == TOPIC else BROKER_CONFIGS
        current = broker.image.configs.get((kind, res.resource_name), {})
        to_set: dict[str, str] = {}
        to_delete: list[str] = []
        keys = [cfg.name for cfg in res.configs]
        if len(set(keys)) != len(keys):
            early[i] = (ErrorCode.invalid_request, "Error due to duplicate config keys")
        for cfg in res.configs if i not in early else ():
            definition = catalogue.get(cfg.name)
            if cfg.config_operation in (APPEND, SUBTRACT):
                if definition is None or definition.type != ConfigType.LIST:
                    early[i] = (
                        ErrorCode.invalid_config,
                        f"Config value append is not allowed for config key: {cfg.name}",
                    )
                    break
                base = current.get(cfg.name)
                if base is None and definition is not None:
                    base = (
                        broker.topic_config(res.resource_name, cfg.name)
                        if kind == "topic"
                        else definition.default
                    )
                items = [x for x in (base or "").split(",") if x]
                extra = [x for x in (cfg.value or "").split(",") if x]
                if cfg.config_operation == APPEND:
                    items += [x for x in extra if x not in items]
                else:
                    items = [x for x in items if x not in extra]
                to_set[cfg.name] = ",".join(items)
            elif cfg.config_operation == DELETE:
                if definition is not None:  # deleting an unknown config is a no-op, as in Kafka
                    to_delete.append(cfg.name)
            elif cfg.config_operation == SET:
                to_set[cfg.name] = cfg.value
            else:
                early[i] = (
                    ErrorCode.invalid_request,
                    f"Unknown config operation {cfg.config_operation}",
                )
                break
        changes.append(
            {
                "code": res.resource_type,
                "name": res.resource_name,
                "set": to_set,
                "delete": to_delete,
                "replace": False,
            }
        )
    ok = [c for i, c in enumerate(changes) if i not in early]
    applied = iter(await apply_changes(broker, ok, body.validate_only))
    responses = []
    for i, change in enumerate(changes):
        if i in early:
            code, message = early[i]
            responses.append(
                {
                    "error_code": code,
                    "error_message": message,
                    "resource_type": change["code"],
                    "resource_name": change["name"],
                }
            )
        else:
            responses.append(next(applied))
    return {"throttle_time": 0, "responses": responses}
