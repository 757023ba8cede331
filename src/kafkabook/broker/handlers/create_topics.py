"""CreateTopics (key 19): v2-7.

Behavior: the controller validates names, partition counts, replication factors and
assignments and creates the topics; the broker validates config names and values first. The
answer waits until this broker's metadata holds the new topics, so a client's next Metadata
request finds them. validate_only checks everything and creates nothing.
Version notes: v5+ returns partition count, replication factor and configs; v7 the topic id.
"""

from __future__ import annotations

from ...protocol.errors import ErrorCode
from ..configs import TOPIC_CONFIGS, ConfigSource, resolve_topic_config, validate_topic_configs
from ..controller_client import ControllerError
from . import api


def described_configs(broker, name: str, overrides: dict[str, str]) -> list[dict]:
    # Kafka's controller answers with the source of each value: the topic's override, the
    # cluster-wide dynamic or static broker config it came from (retention.ms from a static
    # log.retention.hours is STATIC_BROKER_CONFIG here, unlike in DescribeConfigs), or default.
    layers = [
        (ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, broker.image.configs.get(("broker", ""), {})),
        (ConfigSource.STATIC_BROKER_CONFIG, broker.static_configs),
    ]
    out = []
    for key in sorted(TOPIC_CONFIGS):
        value, source = resolve_topic_config(key, overrides, layers)
        out.append(
            {
                "name": key,
                "value": value,
                "read_only": False,
                "config_source": int(source),
                "is_sensitive": False,
            }
        )
    return out


@api(19, "CreateTopics", 2, 7)
async def handle(broker, request):
    body = request.body
    results = []
    to_create = []
    # A name given twice gets one INVALID_REQUEST result, and is not created at all.
    names = [t.name for t in body.topics]
    duplicates = {n for n in names if names.count(n) > 1}
    for name in sorted(duplicates, key=names.index):
        results.append(
            {
                "name": name,
                "error_code": ErrorCode.invalid_request,
                "error_message": "Duplicate topic name.",
            }
        )
    for topic in body.topics:
        if topic.name in duplicates:
            continue
        configs = {c.name: c.value for c in topic.configs}
        problem = validate_topic_configs(configs)
        if problem:
            results.append(
                {
                    "name": topic.name,
                    "error_code": ErrorCode.invalid_config,
                    "error_message": problem,
                }
            )
            continue
        to_create.append(
            {
                "name": topic.name,
                "num_partitions": topic.num_partitions,
                "replication_factor": topic.replication_factor,
                "assignments": {a.partition_index: list(a.broker_ids) for a in topic.assignments}
                or None,
                "configs": configs,
            }
        )
    if to_create:
        try:
            answer = await broker.controller.call(
                "create_topics", topics=to_create, validate_only=body.validate_only
            )
            created = answer["results"]
        except (ControllerError, OSError) as exc:
            created = [
                {"name": t["name"], "error": "REQUEST_TIMED_OUT", "message": str(exc)}
                for t in to_create
            ]
        wanted = {c["name"] for c in created if not c.get("error") and not body.validate_only}
        if wanted:
            await broker.wait_for_metadata(
                lambda: wanted <= broker.image.topics.keys(), body.timeout.total_seconds() or 5
            )
        for spec, outcome in zip(to_create, created, strict=True):
            if outcome.get("error"):
                results.append(
                    {
                        "name": spec["name"],
                        "error_code": ErrorCode[outcome["error"].lower()],
                        "error_message": outcome.get("message"),
                        "num_partitions": -1,
                        "replication_factor": -1,
                        "configs": None,
                    }
                )
                continue
            results.append(
                {
                    "name": spec["name"],
                    "topic_id": outcome.get("topic_id"),
                    "error_code": ErrorCode.none,
                    "error_message": None,
                    "num_partitions": outcome["num_partitions"],
                    "replication_factor": outcome["replication_factor"],
                    "configs": described_configs(broker, spec["name"], spec["configs"]),
                }
            )
    for r in results:
        r.setdefault("num_partitions", -1)
        r.setdefault("replication_factor", -1)
        r.setdefault("configs", None)
        r.setdefault("topic_config_error_code", 0)
        r.setdefault("topic_id", None)
    order = {t.name: i for i, t in enumerate(body.topics)}
    results.sort(key=lambda r: order.get(r["name"], 0))
    return {"throttle_time": 0, "topics": results}
