"""Kafka requests that aiokafka's admin client does not send, sent through aiokafka's client.

aiokafka's admin client stops at old versions of most admin APIs (no topic ids in Metadata, no
IncrementalAlterConfigs, no broker-side defaults in CreateTopics). Rather than a second network
stack, kafkabook hands kio request bodies to aiokafka's own connections: `KioRequest` is a
request aiokafka's ``AIOKafkaClient.send(node_id, request)`` accepts. The connection picks the
version (the newest that kio, the broker and the caller's ``max_version`` all allow), encodes
it with `kafkabook.protocol.framing`, and decodes the answer into a kio response. So every
request shares aiokafka's bootstrap, security (SASL/SSL), version negotiation and connections.

`Admin` wraps one client with the few things every API module needs: pick a live node, send,
read Metadata.

>>> admin = Admin(client)                                            # doctest: +SKIP
>>> body = await admin.send(node_id, 3, max_version=12, topics=None,
...                         allow_auto_topic_creation=False)          # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import random
import time
from dataclasses import dataclass
from typing import Any

from kio.index import UnknownAPIKey, UnknownEntity, load_request_schema

from kafkabook.api.errors import KafkabookError
from kafkabook.protocol.build import build
from kafkabook.protocol.framing import decode_response, encode_request

# Highest version kio knows for an API key never exceeds this; it only bounds the search.
_MAX_PROBE_VERSION = 20


@functools.cache
def kio_versions(api_key: int) -> tuple[int, ...]:
    """The versions kio has request schemas for, ascending.

    >>> kio_versions(44)
    (0, 1)
    """
    found = []
    for version in range(_MAX_PROBE_VERSION + 1):
        try:
            load_request_schema(api_key, version)
        except (UnknownAPIKey, UnknownEntity):
            continue
        found.append(version)
    return tuple(found)


def choose_version(
    api_key: int,
    broker_range: tuple[int, int] | None,
    max_version: int | None = None,
    min_version: int = 0,
) -> int:
    """The newest version kio has, the broker supports, and the caller allows.

    >>> choose_version(3, (0, 9), max_version=12)
    9
    """
    ours = [v for v in kio_versions(api_key) if v >= min_version]
    if max_version is not None:
        ours = [v for v in ours if v <= max_version]
    if broker_range is None:
        ours = []
    else:
        low, high = broker_range
        ours = [v for v in ours if low <= v <= high]
    if not ours:
        name = api_name(api_key)
        if broker_range is None:
            raise KafkabookError(
                f"this cluster does not support {name} (API key {api_key}), which this command "
                "needs: it is missing from the brokers' ApiVersions"
            )
        raise KafkabookError(
            f"this cluster supports {name} v{broker_range[0]}-{broker_range[1]}, and kafkabook "
            f"needs v{min_version} or newer: the brokers are too old for this command"
        )
    return ours[-1]


def api_name(api_key: int) -> str:
    """Kafka's name of an API key, from kio's schemas.

    >>> api_name(10)
    'FindCoordinator'
    """
    versions = kio_versions(api_key)
    if not versions:
        return f"API key {api_key}"
    return load_request_schema(api_key, versions[-1]).__name__.removesuffix("Request")


class _Header:
    """What aiokafka writes first: here the whole frame (header and body), encoded by framing."""

    def __init__(self, frame: bytes) -> None:
        self._frame = frame

    def encode(self) -> bytes:
        return self._frame


@dataclass
class _ResponseHeader:
    correlation_id: int


class _Decoder:
    """Stands where aiokafka expects a response class: `decode` returns the kio body."""

    def __init__(self) -> None:
        self.body: Any = None

    def decode(self, buffer: io.BytesIO) -> Any:
        return self.body


class _PreparedRequest:
    """One request at one version, in the shape aiokafka's connection sends and answers."""

    def __init__(self, body: Any) -> None:
        cls = type(body)
        self.body = body
        self.API_KEY = cls.__api_key__
        self.API_VERSION = cls.__version__
        self.RESPONSE_TYPE = _Decoder()

    def build_request_header(self, correlation_id: int, client_id: str) -> _Header:
        # framing prefixes the size; aiokafka adds its own.
        return _Header(encode_request(self.body, correlation_id, client_id)[4:])

    def encode(self) -> bytes:
        return b""  # the body already went out with the header

    def parse_response_header(self, buffer: io.BytesIO) -> _ResponseHeader:
        correlation_id, body = decode_response(self.API_KEY, self.API_VERSION, buffer.getvalue())
        self.RESPONSE_TYPE.body = body
        return _ResponseHeader(correlation_id)

    def __repr__(self) -> str:
        return f"{type(self.body).__name__}(v{self.API_VERSION})"


class KioRequest:
    """A request built from plain field values for whatever version the connection settles on.

    ``fields`` are the request's fields for the newest version; `kafkabook.protocol.build`
    drops those an older version lacks.

    >>> KioRequest(60, max_version=1, include_cluster_authorized_operations=False).API_KEY
    60
    """

    def __init__(
        self, api_key: int, *, max_version: int | None = None, min_version: int = 0, **fields: Any
    ) -> None:
        self.API_KEY = api_key
        self.max_version = max_version
        self.min_version = min_version
        self.fields = fields

    def prepare(self, versions: dict[int, tuple[int, int]]) -> _PreparedRequest:
        version = choose_version(
            self.API_KEY, versions.get(self.API_KEY), self.max_version, self.min_version
        )
        return _PreparedRequest(build(load_request_schema(self.API_KEY, version), **self.fields))


# How long a request keeps trying a broker that refuses connections. A broker that `broker
# start` just brought back listens by the time that call returns, so this only has to cover a
# busy machine; a killed broker still in the metadata costs no more than this.
NODE_WAIT = 2.0
# How long to wait for aiokafka to refresh its view of the brokers.
METADATA_REFRESH_TIMEOUT = 5.0
# Requests that change nothing: safe to send again when the connection dropped before the
# answer came (Metadata, ListOffsets, OffsetFetch, FindCoordinator, DescribeGroups, ListGroups,
# DescribeConfigs, DescribeLogDirs, DescribeQuorum, DescribeCluster).
READ_ONLY_APIS = frozenset({3, 2, 9, 10, 15, 16, 32, 35, 55, 60})


def not_answering(node_id: int, exc: BaseException | None = None) -> KafkabookError:
    """The one-line error for a broker that does not take requests, with the way out."""
    why = f" ({type(exc).__name__})" if exc is not None else ""
    return KafkabookError(
        f"broker {node_id} does not answer{why}: it is down or still starting; "
        f"%kafka cluster status shows which brokers run, %kafka broker start {node_id} starts it"
    )


class Admin:
    """Send kio requests through one started ``aiokafka.AIOKafkaClient``.

    >>> admin = Admin(client)                                   # doctest: +SKIP
    >>> metadata = await admin.metadata(["orders"])             # doctest: +SKIP
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    async def refresh(self) -> None:
        """Have aiokafka fetch Metadata again (its list of brokers and their addresses)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.force_metadata_update(), METADATA_REFRESH_TIMEOUT)

    async def connect(self, node_id: int, wait: float = NODE_WAIT) -> bool:
        """Whether ``node_id`` takes a connection within ``wait`` seconds (0: one try).

        aiokafka connects only to brokers of its own metadata, which may be older than the
        cluster: a client that refreshed while broker 2 was down does not know broker 2 after
        ``broker start 2`` until it asks again. So an unknown node refreshes aiokafka's metadata
        first, and one that refuses connections is tried again with backoff.

        >>> await admin.connect(2)                                  # doctest: +SKIP
        True
        """
        deadline = time.monotonic() + wait
        delay = 0.05
        while True:
            if self.client.cluster.broker_metadata(node_id) is None:
                await self.refresh()
            try:
                if await asyncio.wait_for(self.client.ready(node_id), 5.0):
                    return True
            except (TimeoutError, OSError):
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.5)
            # A node the refreshed metadata no longer lists is not a live broker: stop waiting.
            if self.client.cluster.broker_metadata(node_id) is None:
                await self.refresh()
                if self.client.cluster.broker_metadata(node_id) is None:
                    return False

    async def node(self, node_id: int) -> int:
        """``node_id`` once it takes connections (requests only that broker can answer).

        >>> await admin.node(2)                                     # doctest: +SKIP
        2
        """
        if await self.connect(node_id):
            return node_id
        raise not_answering(node_id)

    async def send(self, node_id: int, api_key: int, **fields: Any) -> Any:
        """Send one request to ``node_id`` and return the kio response body.

        A broker that is not connected yet (restarted, or new to aiokafka's metadata) is
        reconnected within `NODE_WAIT`; read-only requests whose connection dropped before
        the answer are sent once more. What still fails is a one-line `KafkabookError`.
        """
        from aiokafka.errors import KafkaConnectionError, NodeNotReadyError
        from aiokafka.errors import KafkaError as AioKafkaError

        resent = False
        # One deadline for the whole call: a broker that keeps accepting and dropping
        # connections must not earn a fresh wait on every round.
        deadline = time.monotonic() + NODE_WAIT
        while True:
            try:
                return await self.client.send(node_id, KioRequest(api_key, **fields))
            except NodeNotReadyError as exc:
                # Nothing was sent: safe to try again for every request, once connected.
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not await self.connect(node_id, wait=remaining):
                    raise not_answering(node_id, exc) from exc
            except KafkaConnectionError as exc:
                if api_key not in READ_ONLY_APIS or resent:
                    raise self._failed(node_id, exc) from exc
                resent = True
                if not await self.connect(node_id):
                    raise not_answering(node_id, exc) from exc
            except AioKafkaError as exc:
                raise self._failed(node_id, exc) from exc

    @staticmethod
    def _failed(node_id: int, exc: Exception) -> KafkabookError:
        return KafkabookError(
            f"broker {node_id} did not answer ({type(exc).__name__}: {exc}): is it "
            "running? %kafka cluster status shows every broker",
        )

    async def live_node(self, prefer: int | None = None) -> int:
        """A broker that accepts a connection now; ``prefer`` first when given."""
        for attempt in range(2):
            nodes = [b.nodeId for b in self.client.cluster.brokers()]
            random.shuffle(nodes)
            if prefer is not None:
                nodes = [prefer] + [n for n in nodes if n != prefer]
            for node in nodes:
                if await self.connect(node, wait=0):
                    return node
            if attempt == 0:
                # aiokafka's list of brokers may be stale (all of them restarted, or moved).
                await self.refresh()
        raise KafkabookError(
            "no broker of the cluster answers: %kafka cluster status shows which are running, "
            "%kafka cluster up starts them",
        )

    async def send_any(self, api_key: int, **fields: Any) -> Any:
        """Send to any live broker (for requests every broker answers alike)."""
        return await self.send(await self.live_node(), api_key, **fields)

    async def metadata(self, topics: list[str] | None = None) -> Any:
        """A Metadata response (v12 at most: with topic ids) for ``topics`` or all of them."""
        wanted = None if topics is None else [{"name": t, "topic_id": None} for t in topics]
        return await self.send_any(
            3,
            max_version=12,
            topics=wanted,
            allow_auto_topic_creation=False,
            include_cluster_authorized_operations=False,
            include_topic_authorized_operations=False,
        )

    async def controller(self) -> int:
        """The node id that admin writes go to (clients cannot reach a KRaft quorum directly).

        Metadata names a live broker as controller; if it does not take a connection now (it
        was just killed and the cluster has not noticed yet), any broker that does forwards
        the write.
        """
        response = await self.metadata([])
        live = {b.node_id for b in response.brokers}
        controller = int(response.controller_id)
        if controller in live and await self.connect(controller, wait=0):
            return controller
        return await self.live_node()
