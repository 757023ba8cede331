"""AlterConfigs (key 33): v0-2, and the shared logic of IncrementalAlterConfigs.

Behavior: the legacy AlterConfigs replaces a resource's whole set of dynamic configs. Topic and
broker config names and values are validated here; read-only broker configs are refused as
Kafka refuses configs it cannot update dynamically. Changes are stored by the controller and
take effect on every broker through metadata.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..configs import BROKER_CONFIGS, TOPIC_CONFIGS
from ..controller_client import ControllerError
from ..topics import topic_name_error
from . import api

TOPIC, BROKER = 2, 4


def resource_problem(
    broker, resource_type: int, name: str, values: dict[str, str | None]
) -> tuple[ErrorCode, str] | None:
    """Why these config changes cannot apply to the resource, or None."""
    if resource_type == TOPIC:
        if topic_name_error(name):
            return ErrorCode.invalid_topic_exception, topic_name_error(name)
        if name not in broker.image.topics:
            return ErrorCode.unknown_topic_or_partition, f"Topic {name} does not exist"
        catalogue = TOPIC_CONFIGS
    elif resource_type == BROKER:
        if name not in ("",) and not (name.isdigit() and int(name) in broker.image.brokers):
            return ErrorCode.invalid_request, f"Unexpected broker id {name}"
        catalogue = BROKER_CONFIGS
    else:
        return ErrorCode.invalid_request, f"Unsupported resource type {resource_type}"
    for key, value in values.items():
        definition = catalogue.get(key)
        if definition is None:
            kind = "topic" if resource_type == TOPIC else "broker"
            return ErrorCode.invalid_config, f"Unknown {kind} config name: {key}"
        if resource_type == BROKER and definition.read_only:
            return ErrorCode.invalid_request, f"Cannot update these configs dynamically: {{{key}}}"
        problem = definition.validate(value)
        if problem:
            return ErrorCode.invalid_config, problem
    return None


async def apply_changes(broker, changes: list[dict], validate_only: bool) -> list[dict]:
    """Send validated changes to the controller; returns one result per change."""
    results = []
    valid = []
    for change in changes:
        values = dict(change["set"]) | {k: None for k in change["delete"]}
        problem = resource_problem(broker, change["code"], change["name"], values)
        result = {
            "error_code": ErrorCode.none,
            "error_message": None,
            "resource_type": change["code"],
            "resource_name": change["name"],
        }
        if problem:
            result["error_code"], result["error_message"] = problem
        else:
            valid.append((change, result))
        results.append(result)
    if valid and not validate_only:
        try:
            answer = await broker.controller.call(
                "alter_configs",
                validate_only=False,
                resources=[
                    {
                        "resource_type": "topic" if c["code"] == TOPIC else "broker",
                        "name": c["name"],
                        "set": c["set"],
                        "delete": c["delete"],
                        "replace": c["replace"],
                    }
                    for c, _ in valid
                ],
            )
            outcomes = answer["results"]
        except (ControllerError, OSError) as exc:
            outcomes = [{"error": "REQUEST_TIMED_OUT", "message": str(exc)} for _ in valid]
        for (_, result), outcome in zip(valid, outcomes, strict=True):
            if outcome.get("error"):
                result["error_code"] = ErrorCode[outcome["error"].lower()]
                result["error_message"] = outcome.get("message")

        def applied() -> bool:
            for change, result in valid:
                if result["error_code"] != ErrorCode.none:
                    continue
                kind = "topic" if change["code"] == TOPIC else "broker"
                current = broker.image.configs.get((kind, change["name"]), {})
                if any(current.get(k) != v for k, v in change["set"].items()) or any(
                    k in current for k in change["delete"]
                ):
                    return False
            return True

        await broker.wait_for_metadata(applied, 5)
    return results


@api(33, "AlterConfigs", 0, 2)
async def handle(broker, request):
    body = request.body
    changes = []
    for res in body.resources:
        values = {c.name: c.value for c in res.configs}
        changes.append(
            {
                "code": res.resource_type,
                "name": res.resource_name,
                "set": {k: v for k, v in values.items() if v is not None},
                "delete": [k for k, v in values.items() if v is None],
                "replace": True,
            }
        )
    return {
        "throttle_time": 0,
        "responses": await apply_changes(broker, changes, body.validate_only),
    }
