"""A cluster that kafkabook did not start: any bootstrap list, plus client settings.

The external backend only looks: `status()` asks a broker for Metadata (over SASL/SSL when the
client settings say so). It cannot kill, stop, start, pause or resume brokers that it does not
own; those raise `UnsupportedOperation`.

This module also holds `fetch_metadata`, the one-broker Metadata probe that the jvm and
testcontainers backends use to decide that a broker is ready.

>>> backend = ExternalBackend("broker-1.example:9093", {                # doctest: +SKIP
...     "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
...     "sasl.username": "alice", "sasl.password": "s3cret",
...     "ssl.ca.location": "/etc/kafka/ca.pem"})
>>> print(backend.status())                                                # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import socket
import ssl
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kafkabook.backends.base import (
    Backend,
    BackendError,
    ClusterStatus,
    NodeStatus,
    UnsupportedOperation,
)

T = TypeVar("T")

REDACTED = "*****"

_SECRET_WORDS = ("password", "secret", "jaas", "token", "credential", "user.info", "api.key")


def is_secret(key: str) -> bool:
    """True for client settings whose value must never be shown (passwords, JAAS lines,
    tokens, private keys given inline)."""
    k = key.lower()
    return any(w in k for w in _SECRET_WORDS) or k.endswith((".key", ".key.pem", "keystore.key"))


def redact(config: Mapping[str, str]) -> dict[str, str]:
    """`config` with every secret value replaced by a placeholder."""
    return {k: (REDACTED if is_secret(k) else str(v)) for k, v in config.items()}


def parse_bootstrap(bootstrap: str | Sequence[str]) -> list[tuple[str, int]]:
    """`"h1:9092,h2:9093"` (or a list of such) as `[(host, port), ...]`; IPv6 in brackets."""
    items = bootstrap.split(",") if isinstance(bootstrap, str) else list(bootstrap)
    result: list[tuple[str, int]] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        item = item.split("://", 1)[-1]  # tolerate "PLAINTEXT://host:port"
        m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\[\]\s]+):(\d+)", item)
        if not m:
            raise BackendError(f"bad bootstrap server {item!r}: expected host:port")
        host = m.group(1) or m.group(3)
        port = int(m.group(2) or m.group(4))
        if not 0 < port < 65536:
            raise BackendError(f"bad bootstrap server {item!r}: port out of range")
        result.append((host, port))
    if not result:
        raise BackendError("no bootstrap servers given")
    return result


# ---------------------------------------------------------------------------------------------
# Client settings (Java / librdkafka names) -> aiokafka connection arguments

_JAAS = re.compile(r"""(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s;]+)""")


def _jaas_credentials(jaas: str) -> tuple[str | None, str | None]:
    values = {}
    for key, raw in _JAAS.findall(jaas):
        if raw[:1] in "\"'":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        values[key] = raw
    return values.get("username"), values.get("password")


def _first(config: Mapping[str, str], *keys: str) -> str | None:
    for key in keys:
        value = config.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def connection_kwargs(config: Mapping[str, str] | None) -> dict[str, Any]:
    """aiokafka connection arguments for Kafka client settings.

    Understands both the Java and the librdkafka spellings: `security.protocol`,
    `sasl.mechanism(s)`, `sasl.username`/`sasl.password`, `sasl.plain.username`/`...password`,
    `sasl.jaas.config` (PLAIN and SCRAM login modules), `ssl.ca.location`/
    `ssl.truststore.location` (PEM), `ssl.certificate.location`/`ssl.keystore.location` (PEM),
    `ssl.key.location`, `ssl.key.password`, `ssl.endpoint.identification.algorithm` and
    `enable.ssl.certificate.verification`. Other settings are left to the clients.
    """
    config = dict(config or {})
    protocol = (_first(config, "security.protocol") or "PLAINTEXT").upper()
    if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise BackendError(f"unknown security.protocol {protocol!r}")
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    client_id = _first(config, "client.id")
    if client_id:
        kwargs["client_id"] = client_id

    if protocol.startswith("SASL_"):
        mechanism = (_first(config, "sasl.mechanism", "sasl.mechanisms") or "PLAIN").upper()
        if mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"):
            raise BackendError(f"SASL mechanism {mechanism} is not supported by kafkabook")
        if mechanism == "OAUTHBEARER":
            raise BackendError(
                "SASL OAUTHBEARER needs a token provider: kafkabook's status probe cannot "
                "fetch tokens, use PLAIN or SCRAM credentials"
            )
        user = _first(config, "sasl.username", "sasl.plain.username")
        password = _first(config, "sasl.password", "sasl.plain.password")
        jaas = _first(config, "sasl.jaas.config")
        if jaas and (user is None or password is None):
            j_user, j_password = _jaas_credentials(jaas)
            user = user or j_user
            password = password or j_password
        if mechanism != "GSSAPI" and (user is None or password is None):
            raise BackendError(
                f"SASL {mechanism} needs sasl.username and sasl.password (or sasl.jaas.config)"
            )
        kwargs.update(
            sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=password
        )
        service = _first(config, "sasl.kerberos.service.name")
        if service:
            kwargs["sasl_kerberos_service_name"] = service

    if protocol.endswith("SSL"):
        kwargs["ssl_context"] = _ssl_context(config)
    return kwargs


def _ssl_context(config: Mapping[str, str]) -> ssl.SSLContext:
    for kind in ("truststore", "keystore"):
        store_type = (_first(config, f"ssl.{kind}.type") or "").upper()
        if store_type in ("JKS", "PKCS12"):
            raise BackendError(
                f"ssl.{kind}.type={store_type} cannot be read from Python: "
                "give PEM files (ssl.ca.location, ssl.certificate.location, ssl.key.location)"
            )
    cafile = _first(config, "ssl.ca.location", "ssl.truststore.location", "ssl.cafile")
    cadata = _first(config, "ssl.ca.pem", "ssl.truststore.certificates")
    certfile = _first(config, "ssl.certificate.location", "ssl.keystore.location")
    keyfile = _first(config, "ssl.key.location")
    key_password = _first(config, "ssl.key.password", "ssl.keystore.password")
    try:
        ctx = ssl.create_default_context(cafile=cafile, cadata=cadata)
        if certfile:
            ctx.load_cert_chain(certfile, keyfile=keyfile, password=key_password)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise BackendError(f"cannot set up TLS from the client settings: {exc}") from None
    # Java turns host name checks off with an empty value, librdkafka with "none".
    algorithm = config.get("ssl.endpoint.identification.algorithm")
    if algorithm is not None and str(algorithm).strip().lower() in ("", "none"):
        ctx.check_hostname = False
    verify = str(config.get("enable.ssl.certificate.verification", "true")).lower()
    if verify == "false":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---------------------------------------------------------------------------------------------
# The Metadata probe


@dataclass(frozen=True)
class BrokerInfo:
    node_id: int
    host: str
    port: int
    rack: str | None = None


@dataclass(frozen=True)
class PartitionInfo:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    error_code: int = 0


@dataclass(frozen=True)
class MetadataSnapshot:
    """One broker's answer to a Metadata request."""

    brokers: tuple[BrokerInfo, ...]
    controller_id: int
    cluster_id: str | None
    topics: Mapping[str, tuple[PartitionInfo, ...]] = field(default_factory=dict)
    topic_errors: Mapping[str, int] = field(default_factory=dict)

    @property
    def broker_ids(self) -> frozenset[int]:
        return frozenset(b.node_id for b in self.brokers)

    def partition(self, topic: str, partition: int) -> PartitionInfo:
        for p in self.topics.get(topic, ()):
            if p.partition == partition:
                return p
        raise KeyError(f"{topic}-{partition} is not in this metadata")

    def leader(self, topic: str, partition: int = 0) -> int:
        return self.partition(topic, partition).leader


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, also inside Jupyter, whose
    thread already runs an event loop (then it runs on a short-lived worker thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kafkabook-probe") as ex:
        return ex.submit(asyncio.run, coro).result()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


async def fetch_metadata_async(
    address: str | tuple[str, int],
    client_config: Mapping[str, str] | None = None,
    *,
    topics: Sequence[str] | None = None,
    timeout: float = 5.0,
) -> MetadataSnapshot:
    """Ask the one broker at `address` for Metadata (all topics unless `topics` is given).

    Raises `BackendError` if it cannot connect, authenticate or get an answer in `timeout`.
    """
    from aiokafka.conn import create_conn
    from aiokafka.protocol.metadata import MetadataRequest

    host, port = parse_bootstrap(address)[0] if isinstance(address, str) else address
    kwargs = connection_kwargs(client_config)
    conn = None
    try:
        async with asyncio.timeout(timeout):
            conn = await create_conn(host, port, request_timeout_ms=int(timeout * 1000), **kwargs)
            wanted = None if topics is None else list(topics)  # [] asks for no topics
            response = await conn.send(MetadataRequest(wanted))
    except TimeoutError:
        raise BackendError(f"no Metadata answer from {host}:{port} within {timeout:g}s") from None
    except Exception as exc:  # aiokafka raises many kinds; all mean "not answering"
        raise BackendError(f"Metadata request to {host}:{port} failed: {exc!r}") from None
    finally:
        if conn is not None:
            closed = conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(closed), 1.0)
    return _snapshot(response)


def _snapshot(response: Any) -> MetadataSnapshot:
    brokers = tuple(
        BrokerInfo(node_id=b[0], host=b[1], port=b[2], rack=b[3] if len(b) > 3 else None)
        for b in response.brokers
    )
    topics: dict[str, tuple[PartitionInfo, ...]] = {}
    topic_errors: dict[str, int] = {}
    for t in response.topics:
        error_code, name, partitions = t[0], t[1], t[-1]
        if error_code:
            topic_errors[name] = error_code
        topics[name] = tuple(
            sorted(
                (
                    PartitionInfo(
                        topic=name,
                        partition=p[1],
                        leader=p[2],
                        replicas=tuple(p[3]),
                        isr=tuple(p[4]),
                        error_code=p[0],
                    )
                    for p in partitions
                ),
                key=lambda p: p.partition,
            )
        )
    return MetadataSnapshot(
        brokers=tuple(sorted(brokers, key=lambda b: b.node_id)),
        controller_id=getattr(response, "controller_id", -1),
        cluster_id=getattr(response, "cluster_id", None),
        topics=topics,
        topic_errors=topic_errors,
    )


def fetch_metadata(
    address: str | tuple[str, int],
    client_config: Mapping[str, str] | None = None,
    *,
    topics: Sequence[str] | None = None,
    timeout: float = 5.0,
) -> MetadataSnapshot:
    """Synchronous `fetch_metadata_async`."""
    return run_sync(fetch_metadata_async(address, client_config, topics=topics, timeout=timeout))


# ---------------------------------------------------------------------------------------------
# The backend


class ExternalBackend(Backend):
    """A cluster reached through `bootstrap`, with `client_config` passed to every client.

    Secrets in `client_config` (passwords, JAAS lines, tokens) never show in `repr`, `str` or
    `status()`; `client_config()` returns them for the clients that need them.
    """

    name = "external"

    def __init__(
        self,
        bootstrap: str | Sequence[str],
        client_config: Mapping[str, str] | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self._servers = parse_bootstrap(bootstrap)
        self._config = {str(k): str(v) for k, v in (client_config or {}).items()}
        self._timeout = timeout
        connection_kwargs(self._config)  # fail now on settings that can never work

    def __repr__(self) -> str:
        servers = ",".join(f"{h}:{p}" for h, p in self._servers)
        return f"ExternalBackend(bootstrap={servers!r}, client_config={redact(self._config)!r})"

    __str__ = __repr__

    @property
    def bootstrap_servers(self) -> str:
        """The bootstrap list as given (`bootstrap` is the brokers that Metadata reports)."""
        return ",".join(f"{h}:{p}" if ":" not in h else f"[{h}]:{p}" for h, p in self._servers)

    def client_config(self) -> dict[str, str]:
        return dict(self._config)

    def metadata(self, topics: Sequence[str] | None = None) -> MetadataSnapshot:
        """Metadata from the first bootstrap server that answers."""
        errors = []
        for host, port in self._servers:
            try:
                return fetch_metadata(
                    (host, port), self._config, topics=topics, timeout=self._timeout
                )
            except BackendError as exc:
                errors.append(str(exc))
        raise BackendError(
            f"no bootstrap server of {self.bootstrap_servers} answered Metadata ({errors[-1]})"
        )

    def status(self) -> ClusterStatus:
        md = self.metadata(topics=())
        nodes = tuple(
            NodeStatus(
                node_id=b.node_id,
                role="broker",
                host=b.host,
                port=b.port,
                pid=None,
                state="running",
            )
            for b in md.brokers
        )
        return ClusterStatus(backend=self.name, nodes=nodes, client_config=redact(self._config))

    def up(self) -> ClusterStatus:
        """Nothing to start: check that the cluster answers, and describe it."""
        return self.status()

    def down(self) -> None:
        """Nothing to stop: kafkabook did not start this cluster, so it leaves it running."""

    def _unsupported(self, what: str, node_id: int) -> UnsupportedOperation:
        return UnsupportedOperation(
            f"cannot {what} broker {node_id}: the external backend only connects to a cluster "
            "it did not start; use the bundled, jvm or testcontainers backend to inject faults"
        )

    def kill(self, node_id: int) -> None:
        raise self._unsupported("kill", node_id)

    def stop(self, node_id: int) -> None:
        raise self._unsupported("stop", node_id)

    def start(self, node_id: int) -> None:
        raise self._unsupported("start", node_id)

    def pause(self, node_id: int) -> None:
        raise self._unsupported("pause", node_id)

    def resume(self, node_id: int) -> None:
        raise self._unsupported("resume", node_id)
