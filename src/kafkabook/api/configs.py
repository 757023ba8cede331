"""Topic and broker configs, read with DescribeConfigs and changed with IncrementalAlterConfigs.

>>> import kafkabook as kb
>>> kb.configs.describe("topics", "orders")                               # doctest: +SKIP
Dynamic configs for topic orders are:
  retention.ms=60000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=60000, ...}
>>> kb.configs.alter("topics", "orders", add={"retention.ms": "60000"})   # doctest: +SKIP
Completed updating config for topic orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafkabook.api.display import Message, Table
from kafkabook.api.errors import KafkabookError, check, error_name, one_line
from kafkabook.api.requests import Admin
from kafkabook.api.session import run_api

# ConfigResource types on the wire.
TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8
ENTITY_TYPES = {"topics": TOPIC, "brokers": BROKER}
# DescribeConfigs config_source values, named as Kafka's tools print them.
SOURCES = {
    0: "UNKNOWN",
    1: "DYNAMIC_TOPIC_CONFIG",
    2: "DYNAMIC_BROKER_CONFIG",
    3: "DYNAMIC_DEFAULT_BROKER_CONFIG",
    4: "STATIC_BROKER_CONFIG",
    5: "DEFAULT_CONFIG",
    6: "DYNAMIC_BROKER_LOGGER_CONFIG",
    7: "CLIENT_METRICS_CONFIG",
    8: "GROUP_CONFIG",
}
DEFAULT_CONFIG = 5
DYNAMIC_SOURCES = {1, 2, 3}
SET, DELETE = 0, 1


@dataclass(frozen=True)
class ConfigEntry:
    """One config of a topic or broker as DescribeConfigs reports it."""

    name: str
    value: str | None
    source: str
    read_only: bool
    sensitive: bool
    synonyms: tuple[tuple[str, str | None, str], ...] = ()

    @property
    def is_default(self) -> bool:
        return self.source == "DEFAULT_CONFIG"

    @property
    def is_dynamic(self) -> bool:
        return self.source in {SOURCES[s] for s in DYNAMIC_SOURCES}


def _resource(entity_type: str, entity_name: str | int | None) -> tuple[int, str, str]:
    """(resource type, resource name, how messages name it)."""
    kind = ENTITY_TYPES.get(entity_type)
    if kind is None:
        raise KafkabookError(
            f"unknown entity type {entity_type!r}: use --entity-type topics or brokers"
        )
    if kind == TOPIC:
        if not entity_name:
            raise KafkabookError("a topic config needs --entity-name TOPIC")
        return kind, str(entity_name), f"topic {entity_name}"
    if entity_name in (None, ""):
        return kind, "", "the default broker"
    try:
        broker_id = int(entity_name)
    except (TypeError, ValueError):
        raise KafkabookError(
            f"a broker is named by its id, not {entity_name!r}: --entity-name 1"
        ) from None
    return kind, str(broker_id), f"broker {broker_id}"


def _config_error(code: Any, message: str | None, what: str) -> None:
    name = error_name(code)
    if name == "UNKNOWN_TOPIC_OR_PARTITION":
        raise KafkabookError(f"{what} does not exist: %kafka topics --list shows the topics")
    if name == "INVALID_CONFIG" or name == "INVALID_REQUEST":
        raise KafkabookError(f"{what}: {message or name} (%kafka configs --describe shows them)")
    check(code, what, message)


async def describe_entries(
    admin: Admin, resources: Sequence[tuple[int, str]], node: int | None = None
) -> list[list[ConfigEntry]]:
    """DescribeConfigs for ``resources`` (type, name) in one request; errors raise."""
    if node is None:
        node = await admin.live_node()
    response = await admin.send(
        node,
        32,
        max_version=4,
        min_version=1,
        resources=[
            {"resource_type": kind, "resource_name": name, "configuration_keys": None}
            for kind, name in resources
        ],
        include_synonyms=True,
        include_documentation=False,
    )
    by_key = {(r.resource_type, r.resource_name): r for r in response.results}
    out = []
    for kind, name in resources:
        result = by_key.get((kind, name))
        what = f"topic {name}" if kind == TOPIC else f"broker {name or '(default)'}"
        if result is None:
            raise KafkabookError(f"DescribeConfigs for {what} got no answer")
        _config_error(result.error_code, result.error_message, what)
        out.append(
            sorted(
                (
                    ConfigEntry(
                        name=c.name,
                        value=c.value,
                        source=SOURCES.get(int(c.config_source), str(c.config_source)),
                        read_only=bool(c.read_only),
                        sensitive=bool(c.is_sensitive),
                        synonyms=tuple(
                            (s.name, s.value, SOURCES.get(int(s.source), str(s.source)))
                            for s in getattr(c, "synonyms", ())
                        ),
                    )
                    for c in result.configs
                ),
                key=lambda e: e.name,
            )
        )
    return out


class ConfigList(Table):
    """Configs of one topic or broker; text in kafka-configs' ``--describe`` layout."""

    def __init__(self, what: str, entries: list[ConfigEntry], all_configs: bool) -> None:
        self.what = what
        self.entries = entries
        self.all_configs = all_configs
        super().__init__(
            ["name", "value", "source", "read_only", "sensitive"],
            [
                (e.name, "null" if e.sensitive else e.value, e.source, e.read_only, e.sensitive)
                for e in entries
            ],
            title=f"{'All' if all_configs else 'Dynamic'} configs for {what}",
        )

    def as_dict(self) -> dict[str, str | None]:
        """``{name: value}`` (sensitive values hidden as None)."""
        return {e.name: None if e.sensitive else e.value for e in self.entries}

    def __getitem__(self, name: Any) -> Any:
        if isinstance(name, str):
            return self.as_dict()[name]
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        return name in self.as_dict()

    def __repr__(self) -> str:
        lines = [f"{'All' if self.all_configs else 'Dynamic'} configs for {self.what} are:"]
        for e in self.entries:
            value = "null" if e.sensitive else e.value
            synonyms = ", ".join(
                f"{src}:{name}={'null' if e.sensitive else v}" for name, v, src in e.synonyms
            )
            lines.append(
                f"  {e.name}={value} sensitive={str(e.sensitive).lower()} synonyms={{{synonyms}}}"
            )
        return "\n".join(lines)


class Configs:
    """``kb.configs``: describe and alter topic and broker configs."""

    def __repr__(self) -> str:
        return (
            "kb.configs: describe(entity_type, entity_name), alter(entity_type, entity_name, ...)"
        )

    @one_line
    def describe(
        self,
        entity_type: str = "topics",
        entity_name: str | int | None = None,
        *,
        all: bool = False,
    ) -> ConfigList:
        """The configs of a topic or broker: dynamic ones, or ``all=True`` for every config.

        >>> kb.configs.describe("topics", "orders", all=True)["retention.ms"]   # doctest: +SKIP
        '604800000'
        >>> kb.configs.describe("brokers", 1)                                     # doctest: +SKIP
        """
        kind, name, what = _resource(entity_type, entity_name)

        async def call(admin: Admin) -> list[ConfigEntry]:
            # A broker answers DescribeConfigs only for itself: no other broker may stand in.
            node = await admin.node(int(name)) if kind == BROKER and name else None
            [entries] = await describe_entries(admin, [(kind, name)], node)
            return entries

        entries = run_api(call)
        if not all:
            wanted = {1} if kind == TOPIC else ({2} if name else {3})
            entries = [e for e in entries if SOURCE_IDS[e.source] in wanted]
        return ConfigList(what, entries, all)

    @one_line
    def alter(
        self,
        entity_type: str,
        entity_name: str | int | None,
        *,
        add: Mapping[str, Any] | None = None,
        delete: Iterable[str] = (),
        validate_only: bool = False,
    ) -> Message:
        """Set (``add``) and remove (``delete``) configs, leaving the others as they are.

        >>> kb.configs.alter("topics", "orders", add={"retention.ms": 60000},
        ...                  delete=["cleanup.policy"])                      # doctest: +SKIP
        Completed updating config for topic orders.
        """
        kind, name, what = _resource(entity_type, entity_name)
        add = {str(k): str(v) for k, v in (add or {}).items()}
        delete = [str(k) for k in delete]
        if not add and not delete:
            raise KafkabookError("nothing to change: give --add-config k=v or --delete-config k")
        both = sorted(set(add) & set(delete))
        if both:
            raise KafkabookError(f"{both[0]} is both added and deleted: pick one")
        ops = [{"name": k, "config_operation": SET, "value": v} for k, v in add.items()]
        ops += [{"name": k, "config_operation": DELETE, "value": None} for k in delete]

        async def call(admin: Admin) -> None:
            # A broker's own dynamic configs are changed on that broker; the rest anywhere.
            if kind == BROKER and name:
                node = await admin.node(int(name))
            else:
                node = await admin.controller()
            response = await admin.send(
                node,
                44,
                max_version=1,
                resources=[{"resource_type": kind, "resource_name": name, "configs": ops}],
                validate_only=validate_only,
            )
            for result in response.responses:
                _config_error(result.error_code, result.error_message, what)

        run_api(call)
        verb = "Validated" if validate_only else "Completed updating"
        changed = [f"{k}={v}" for k, v in add.items()] + [f"-{k}" for k in delete]
        return Message(f"{verb} config for {what}.", changes=changed)


SOURCE_IDS = {name: code for code, name in SOURCES.items()}

configs = Configs()
