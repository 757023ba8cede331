"""The external backend: settings pass-through, redaction, and Metadata against a fake broker.

The fake broker below speaks just enough of the Kafka protocol (ApiVersions v0, Metadata v1,
SaslHandshake v1, SaslAuthenticate v0) to answer a probe and to check SASL/PLAIN credentials.
The same backend is checked against real Kafka in tests/oracle.
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from kafkabook.backends.base import BackendError, UnsupportedOperation
from kafkabook.backends.external import (
    REDACTED,
    ExternalBackend,
    connection_kwargs,
    fetch_metadata,
    is_secret,
    parse_bootstrap,
    redact,
)

# ---------------------------------------------------------------------------------------------
# A fake broker


def _str(s: str | None) -> bytes:
    if s is None:
        return struct.pack(">h", -1)
    raw = s.encode()
    return struct.pack(">h", len(raw)) + raw


def _array(items: list[bytes]) -> bytes:
    return struct.pack(">i", len(items)) + b"".join(items)


@dataclass
class FakeBroker:
    brokers: list[tuple[int, str, int]] = field(default_factory=list)
    topics: dict[str, list[tuple[int, int, list[int], list[int]]]] = field(default_factory=dict)
    controller_id: int = 1
    silent: bool = False
    sasl: tuple[str, str] | None = None  # (user, password) that PLAIN must present
    requests: list[tuple[int, int, object]] = field(default_factory=list)

    def respond(self, api_key: int, version: int, body: bytes) -> bytes:
        if api_key == 18:
            apis = [(18, 0, 0), (3, 1, 1), (17, 1, 1), (36, 0, 0)]
            return struct.pack(">h", 0) + _array([struct.pack(">hhh", *a) for a in apis])
        if api_key == 17:
            (n,) = struct.unpack_from(">h", body)
            mechanism = body[2 : 2 + n].decode()
            self.requests.append((api_key, version, mechanism))
            return struct.pack(">h", 0) + _array([_str("PLAIN")])
        if api_key == 36:
            (n,) = struct.unpack_from(">i", body)
            token = body[4 : 4 + n]
            self.requests.append((api_key, version, token))
            parts = token.split(b"\0")
            ok = self.sasl is not None and parts[1:] == [s.encode() for s in self.sasl]
            if ok:
                return struct.pack(">h", 0) + _str(None) + struct.pack(">i", 0)
            return struct.pack(">h", 58) + _str("Authentication failed") + struct.pack(">i", 0)
        if api_key == 3:
            (count,) = struct.unpack_from(">i", body)
            wanted, pos = None, 4
            if count >= 0:
                wanted = []
                for _ in range(count):
                    (n,) = struct.unpack_from(">h", body, pos)
                    wanted.append(body[pos + 2 : pos + 2 + n].decode())
                    pos += 2 + n
            self.requests.append((api_key, version, wanted))
            brokers = [
                struct.pack(">i", i) + _str(h) + struct.pack(">i", p) + _str(None)
                for i, h, p in self.brokers
            ]
            topics = []
            for name, parts in self.topics.items():
                if wanted is not None and name not in wanted:
                    continue
                encoded = [
                    struct.pack(">hii", 0, pid, leader)
                    + _array([struct.pack(">i", r) for r in replicas])
                    + _array([struct.pack(">i", r) for r in isr])
                    for pid, leader, replicas, isr in parts
                ]
                topics.append(struct.pack(">h", 0) + _str(name) + b"\x00" + _array(encoded))
            return _array(brokers) + struct.pack(">i", self.controller_id) + _array(topics)
        raise AssertionError(f"unexpected api key {api_key}")


@pytest.fixture
def fake_broker() -> Iterator[tuple[FakeBroker, int]]:
    fake = FakeBroker()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            while True:
                head = _recv(sock, 4)
                if head is None:
                    return
                (size,) = struct.unpack(">i", head)
                frame = _recv(sock, size)
                if frame is None:
                    return
                if fake.silent:
                    continue
                api_key, version, corr, n = struct.unpack_from(">hhih", frame)
                body = frame[10 + max(n, 0) :]
                payload = struct.pack(">i", corr) + fake.respond(api_key, version, body)
                sock.sendall(struct.pack(">i", len(payload)) + payload)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    fake.brokers = [(1, "127.0.0.1", port), (2, "127.0.0.1", port + 1)]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _recv(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Metadata through the fake broker


def test_status_lists_the_brokers_that_metadata_reports(fake_broker):
    fake, port = fake_broker
    backend = ExternalBackend(f"127.0.0.1:{port}")
    status = backend.status()
    assert status.backend == "external"
    assert [(n.node_id, n.host, n.port, n.pid, n.state) for n in status.nodes] == [
        (1, "127.0.0.1", port, None, "running"),
        (2, "127.0.0.1", port + 1, None, "running"),
    ]
    assert status.bootstrap == f"127.0.0.1:{port},127.0.0.1:{port + 1}"
    assert backend.bootstrap == status.bootstrap
    assert backend.up() == status
    # status asks for no topics: an empty list, not "all topics" (null).
    assert (3, 1, []) in fake.requests


def test_fetch_metadata_reads_topics_partitions_and_isr(fake_broker):
    fake, port = fake_broker
    fake.controller_id = 2
    fake.topics = {"orders": [(1, 2, [2, 1], [2]), (0, 1, [1, 2], [1, 2])], "other": []}
    md = fetch_metadata(f"127.0.0.1:{port}", topics=["orders"])
    assert md.controller_id == 2
    assert md.broker_ids == {1, 2}
    assert list(md.topics) == ["orders"]
    assert [p.partition for p in md.topics["orders"]] == [0, 1]
    assert md.leader("orders", 1) == 2
    assert md.partition("orders", 1).replicas == (2, 1)
    assert md.partition("orders", 1).isr == (2,)
    with pytest.raises(KeyError):
        md.partition("orders", 5)
    assert set(fetch_metadata(("127.0.0.1", port)).topics) == {"orders", "other"}


def test_fetch_metadata_works_inside_a_running_event_loop(fake_broker):
    """As in Jupyter, where the kernel's thread already runs a loop."""
    _, port = fake_broker

    async def notebook_cell():
        return fetch_metadata(f"127.0.0.1:{port}").broker_ids

    assert asyncio.run(notebook_cell()) == {1, 2}


def test_sasl_plain_credentials_reach_the_broker(fake_broker):
    fake, port = fake_broker
    fake.sasl = ("alice", "s3cret-pw")
    config = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "alice",
        "sasl.password": "s3cret-pw",
    }
    assert ExternalBackend(f"127.0.0.1:{port}", config).status().bootstrap
    assert (17, 1, "PLAIN") in fake.requests
    assert (36, 0, b"alice\0alice\0s3cret-pw") in fake.requests

    bad = ExternalBackend(f"127.0.0.1:{port}", {**config, "sasl.password": "wrong"})
    with pytest.raises(BackendError) as err:
        bad.status()
    assert "wrong" not in str(err.value)


def test_jaas_config_credentials_are_used(fake_broker):
    fake, port = fake_broker
    fake.sasl = ("bob", 'p"w;d')
    jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="bob" password="p\\"w;d";'
    )
    config = {"security.protocol": "SASL_PLAINTEXT", "sasl.jaas.config": jaas}
    assert ExternalBackend(f"127.0.0.1:{port}", config).status().brokers


def test_first_dead_bootstrap_server_is_skipped(fake_broker):
    _, port = fake_broker
    backend = ExternalBackend([f"127.0.0.1:{closed_port()}", f"127.0.0.1:{port}"], timeout=3)
    assert len(backend.status().brokers) == 2


def test_no_answer_is_one_clear_error():
    dead = closed_port()
    backend = ExternalBackend(f"127.0.0.1:{dead}", timeout=2)
    with pytest.raises(BackendError) as err:
        backend.status()
    assert f"127.0.0.1:{dead}" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_silent_broker_times_out(fake_broker):
    fake, port = fake_broker
    fake.silent = True
    t0 = time.monotonic()
    with pytest.raises(BackendError, match="within 1s"):
        fetch_metadata(f"127.0.0.1:{port}", timeout=1.0)
    assert time.monotonic() - t0 < 5


# ---------------------------------------------------------------------------------------------
# No fault injection, no stopping


def test_faults_are_unsupported_with_a_clear_message():
    backend = ExternalBackend("127.0.0.1:9")
    for op in (backend.kill, backend.stop, backend.start, backend.pause, backend.resume):
        with pytest.raises(UnsupportedOperation, match="only connects to a cluster it did not"):
            op(2)
    backend.down()  # leaves the cluster alone, and says nothing


# ---------------------------------------------------------------------------------------------
# Secrets


SECRET_CONFIG = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "alice",
    "sasl.password": "hunter2-xyz",
    "sasl.jaas.config": 'x required username="alice" password="hunter2-xyz";',
    "ssl.key.password": "keypass-abc",
    "ssl.endpoint.identification.algorithm": "",
}


def test_secrets_never_show_in_repr_str_or_status(fake_broker):
    _, port = fake_broker
    backend = ExternalBackend(f"127.0.0.1:{port}", SECRET_CONFIG)
    for text in (repr(backend), str(backend)):
        assert "hunter2" not in text and "keypass" not in text
        assert "alice" in text and "SCRAM-SHA-512" in text
    # The clients get the real values.
    assert backend.client_config() == SECRET_CONFIG
    assert backend.client_config() is not backend.client_config()


def test_status_carries_the_redacted_config(fake_broker):
    _, port = fake_broker
    backend = ExternalBackend(f"127.0.0.1:{port}", {"client.id": "nb", "sasl.password": "pw1"})
    status = backend.status()
    assert status.client_config == {"client.id": "nb", "sasl.password": REDACTED}
    assert "pw1" not in repr(status) and "pw1" not in str(status)


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("sasl.password", True),
        ("sasl.plain.password", True),
        ("sasl.jaas.config", True),
        ("ssl.key.password", True),
        ("ssl.keystore.key", True),
        ("sasl.oauthbearer.client.secret", True),
        ("basic.auth.user.info", True),
        ("ssl.keystore.password", True),
        ("sasl.username", False),
        ("ssl.ca.location", False),
        ("bootstrap.servers", False),
        ("ssl.key.location", False),
    ],
)
def test_is_secret(key, secret):
    assert is_secret(key) is secret
    assert (redact({key: "v"})[key] == REDACTED) is secret


# ---------------------------------------------------------------------------------------------
# Settings -> connection arguments


def test_plaintext_by_default():
    assert connection_kwargs({}) == {"security_protocol": "PLAINTEXT"}
    assert connection_kwargs({"client.id": "me"})["client_id"] == "me"


def test_sasl_spellings():
    java = connection_kwargs(
        {
            "security.protocol": "sasl_plaintext",
            "sasl.mechanism": "SCRAM-SHA-256",
            "sasl.jaas.config": "m required username='u1' password='p1';",
        }
    )
    assert java["security_protocol"] == "SASL_PLAINTEXT"
    assert (java["sasl_mechanism"], java["sasl_plain_username"], java["sasl_plain_password"]) == (
        "SCRAM-SHA-256",
        "u1",
        "p1",
    )
    rdkafka = connection_kwargs(
        {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "PLAIN",
            "sasl.plain.username": "u2",
            "sasl.plain.password": "p2",
        }
    )
    assert (rdkafka["sasl_plain_username"], rdkafka["sasl_plain_password"]) == ("u2", "p2")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"security.protocol": "TLS"}, "unknown security.protocol"),
        ({"security.protocol": "SASL_PLAINTEXT"}, "needs sasl.username and sasl.password"),
        (
            {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "FOO"},
            "FOO is not supported",
        ),
        (
            {"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER"},
            "OAUTHBEARER",
        ),
        (
            {"security.protocol": "SSL", "ssl.truststore.type": "JKS"},
            "cannot be read from Python",
        ),
        (
            {"security.protocol": "SSL", "ssl.ca.location": "/nonexistent/ca.pem"},
            "cannot set up TLS",
        ),
    ],
)
def test_impossible_settings_fail_at_construction(config, message):
    with pytest.raises(BackendError, match=message) as err:
        ExternalBackend("127.0.0.1:9092", config)
    assert "\n" not in str(err.value)


def test_ssl_settings():
    strict = connection_kwargs({"security.protocol": "SSL"})["ssl_context"]
    assert isinstance(strict, ssl.SSLContext)
    assert strict.check_hostname and strict.verify_mode == ssl.CERT_REQUIRED
    for off in ("", "none"):
        ctx = connection_kwargs(
            {"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": off}
        )["ssl_context"]
        assert not ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    lax = connection_kwargs(
        {
            "security.protocol": "SASL_SSL",
            "sasl.username": "u",
            "sasl.password": "p",
            "enable.ssl.certificate.verification": "false",
        }
    )["ssl_context"]
    assert lax.verify_mode == ssl.CERT_NONE


# ---------------------------------------------------------------------------------------------
# Bootstrap lists


def test_parse_bootstrap():
    assert parse_bootstrap("a:1, b:2,") == [("a", 1), ("b", 2)]
    assert parse_bootstrap(["PLAINTEXT://h:9092", "[::1]:9093"]) == [("h", 9092), ("::1", 9093)]
    for bad in ("", "host", "h:0", "h:99999", "h:x"):
        with pytest.raises(BackendError):
            parse_bootstrap(bad)
    assert ExternalBackend(["[::1]:9093", "h:1"]).bootstrap_servers == "[::1]:9093,h:1"
