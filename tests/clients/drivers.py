"""Thin, uniform drivers over the real clients the bundled cluster must serve unmodified.

Each driver creates/lists/describes/deletes topics, produces keyed records with headers, and
consumes them back, using only that client's public API (kcat through its command line). Tests
are written once against this small surface and run with every client.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rec:
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int | None = None
    offset: int | None = None


@dataclass
class Driver:
    bootstrap: str
    name: str = field(init=False, default="")

    # Every driver implements these.
    def create_topic(
        self, topic: str, partitions: int, rf: int, configs: dict | None = None
    ) -> None: ...
    def list_topics(self) -> set[str]: ...
    def describe(self, topic: str) -> dict[int, dict]: ...
    def delete_topic(self, topic: str) -> None: ...
    def produce(
        self, topic: str, records: list[Rec], acks: str = "all", compression: str = "none"
    ) -> list[Rec]: ...
    def consume(self, topic: str, count: int, timeout: float = 20) -> list[Rec]: ...


def _field(entry: dict, old_name: str, new_name: str):
    """Admin clients name partition fields after the old (kafka-python 2, aiokafka) or the
    new (kafka-python 3: the protocol's own) schema names."""
    return entry[old_name] if old_name in entry else entry[new_name]


class ConfluentDriver(Driver):
    name = "confluent-kafka"

    def _admin(self):
        # Keep one client alive while its futures are pending: librdkafka destroys the handle
        # (failing the futures) as soon as the object is collected.
        from confluent_kafka.admin import AdminClient

        if not hasattr(self, "_admin_client"):
            self._admin_client = AdminClient({"bootstrap.servers": self.bootstrap})
        return self._admin_client

    def create_topic(self, topic, partitions, rf, configs=None):
        from confluent_kafka.admin import NewTopic

        futures = self._admin().create_topics(
            [NewTopic(topic, partitions, rf, config=configs or {})]
        )
        futures[topic].result(15)

    def list_topics(self):
        return set(self._admin().list_topics(timeout=10).topics)

    def describe(self, topic):
        md = self._admin().list_topics(topic, timeout=10).topics[topic]
        if md.error is not None:
            raise RuntimeError(str(md.error))
        return {
            p.id: {"leader": p.leader, "replicas": list(p.replicas), "isr": list(p.isrs)}
            for p in md.partitions.values()
        }

    def delete_topic(self, topic):
        self._admin().delete_topics([topic])[topic].result(15)

    def produce(self, topic, records, acks="all", compression="none"):
        from confluent_kafka import Producer

        p = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "acks": acks,
                "compression.type": compression,
                "linger.ms": 5,
            }
        )
        delivered: list = []

        def report(err, msg):
            if err is not None:
                raise RuntimeError(str(err))
            delivered.append(
                Rec(
                    msg.key(),
                    msg.value(),
                    tuple(msg.headers() or ()),
                    msg.partition(),
                    msg.offset(),
                )
            )

        for r in records:
            p.produce(
                topic,
                value=r.value,
                key=r.key,
                headers=list(r.headers) or None,
                on_delivery=report,
                **({"partition": r.partition} if r.partition is not None else {}),
            )
        assert p.flush(20) == 0
        return delivered

    def consume_all(self, topic, timeout=30):
        """Every record up to each partition's high watermark as of now."""
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"g-{uuid.uuid4()}",
                "enable.auto.commit": False,
            }
        )
        try:
            parts = c.list_topics(topic, timeout=10).topics[topic].partitions
            ends = {
                p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts
            }
        finally:
            c.close()
        return self.consume(topic, sum(ends.values()), timeout)

    def consume(self, topic, count, timeout=20):
        from confluent_kafka import Consumer

        c = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"g-{uuid.uuid4()}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        # Assigning partitions needs no group coordinator.
        md = c.list_topics(topic, timeout=10).topics[topic]
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.partitions])
        out: list[Rec] = []
        deadline = time.monotonic() + timeout
        try:
            while len(out) < count and time.monotonic() < deadline:
                msg = c.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    raise RuntimeError(str(msg.error()))
                out.append(
                    Rec(
                        msg.key(),
                        msg.value(),
                        tuple(msg.headers() or ()),
                        msg.partition(),
                        msg.offset(),
                    )
                )
        finally:
            c.close()
        return out


class KafkaPythonDriver(Driver):
    name = "kafka-python"

    def _admin(self):
        from kafka.admin import KafkaAdminClient

        return KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=15000)

    def create_topic(self, topic, partitions, rf, configs=None):
        from kafka.admin import NewTopic

        admin = self._admin()
        try:
            admin.create_topics([NewTopic(topic, partitions, rf, topic_configs=configs or {})])
        finally:
            admin.close()

    def list_topics(self):
        admin = self._admin()
        try:
            return set(admin.list_topics())
        finally:
            admin.close()

    def describe(self, topic):
        admin = self._admin()
        try:
            (desc,) = admin.describe_topics([topic])
        finally:
            admin.close()
        if desc["error_code"] != 0:
            raise RuntimeError(f"error {desc['error_code']}")
        return {
            _field(p, "partition", "partition_index"): {
                "leader": _field(p, "leader", "leader_id"),
                "replicas": list(_field(p, "replicas", "replica_nodes")),
                "isr": list(_field(p, "isr", "isr_nodes")),
            }
            for p in desc["partitions"]
        }

    def delete_topic(self, topic):
        admin = self._admin()
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()

    def produce(self, topic, records, acks="all", compression="none"):
        from kafka import KafkaProducer

        acks_value = {"all": "all", "1": 1, "0": 0}[acks]
        p = KafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks=acks_value,
            compression_type=None if compression == "none" else compression,
            linger_ms=5,
        )
        futures = [
            (
                r,
                p.send(
                    topic, value=r.value, key=r.key, headers=list(r.headers), partition=r.partition
                ),
            )
            for r in records
        ]
        p.flush(20)
        out = []
        for r, f in futures:
            meta = f.get(20)
            out.append(Rec(r.key, r.value, r.headers, meta.partition, meta.offset))
        p.close(5)
        return out

    def consume(self, topic, count, timeout=20):
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            consumer_timeout_ms=int(timeout * 1000),
        )
        parts = c.partitions_for_topic(topic)
        deadline = time.monotonic() + 10
        while not parts and time.monotonic() < deadline:
            time.sleep(0.2)
            parts = c.partitions_for_topic(topic)
        c.assign([TopicPartition(topic, p) for p in parts])
        c.seek_to_beginning()
        out = []
        try:
            for msg in c:
                out.append(
                    Rec(msg.key, msg.value, tuple(msg.headers or ()), msg.partition, msg.offset)
                )
                if len(out) >= count:
                    break
        finally:
            c.close()
        return out


class AiokafkaDriver(Driver):
    name = "aiokafka"

    def _run(self, coro):
        return asyncio.run(coro)

    def create_topic(self, topic, partitions, rf, configs=None):
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        async def go():
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await admin.start()
            try:
                await admin.create_topics(
                    [NewTopic(topic, partitions, rf, topic_configs=configs or {})]
                )
            finally:
                await admin.close()

        self._run(go())

    def list_topics(self):
        from aiokafka.admin import AIOKafkaAdminClient

        async def go():
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await admin.start()
            try:
                return set(await admin.list_topics())
            finally:
                await admin.close()

        return self._run(go())

    def describe(self, topic):
        from aiokafka.admin import AIOKafkaAdminClient

        async def go():
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await admin.start()
            try:
                return await admin.describe_topics([topic])
            finally:
                await admin.close()

        (desc,) = self._run(go())
        if desc["error_code"] != 0:
            raise RuntimeError(f"error {desc['error_code']}")
        return {
            _field(p, "partition", "partition_index"): {
                "leader": _field(p, "leader", "leader_id"),
                "replicas": list(_field(p, "replicas", "replica_nodes")),
                "isr": list(_field(p, "isr", "isr_nodes")),
            }
            for p in desc["partitions"]
        }

    def delete_topic(self, topic):
        from aiokafka.admin import AIOKafkaAdminClient

        async def go():
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await admin.start()
            try:
                await admin.delete_topics([topic])
            finally:
                await admin.close()

        self._run(go())

    def produce(self, topic, records, acks="all", compression="none"):
        from aiokafka import AIOKafkaProducer

        acks_value = {"all": "all", "1": 1, "0": 0}[acks]

        async def go():
            p = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks=acks_value,
                compression_type=None if compression == "none" else compression,
                linger_ms=5,
            )
            await p.start()
            try:
                futures = [
                    await p.send(
                        topic,
                        value=r.value,
                        key=r.key,
                        headers=list(r.headers) or None,
                        partition=r.partition,
                    )
                    for r in records
                ]
                metas = await asyncio.gather(*futures)
            finally:
                await p.stop()
            return [
                # acks=0 gives no metadata back
                Rec(r.key, r.value, r.headers, m and m.partition, m and m.offset)
                for r, m in zip(records, metas, strict=True)
            ]

        return self._run(go())

    def consume(self, topic, count, timeout=20):
        from aiokafka import AIOKafkaConsumer, TopicPartition

        async def go():
            c = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            await c.start()
            out = []
            try:
                parts = c.partitions_for_topic(topic)
                deadline = time.monotonic() + 10
                while not parts and time.monotonic() < deadline:
                    await c._client.force_metadata_update()
                    parts = c.partitions_for_topic(topic)
                c.assign([TopicPartition(topic, p) for p in parts])
                await c.seek_to_beginning()
                deadline = time.monotonic() + timeout
                while len(out) < count and time.monotonic() < deadline:
                    batch = await c.getmany(timeout_ms=500)
                    for msgs in batch.values():
                        out.extend(
                            Rec(m.key, m.value, tuple(m.headers or ()), m.partition, m.offset)
                            for m in msgs
                        )
            finally:
                await c.stop()
            return out

        return self._run(go())


class KcatDriver(Driver):
    """kcat has no admin verbs: its topics are made and deleted with another client."""

    name = "kcat"

    def _kcat(self, *args: str, input: bytes | None = None, timeout: float = 30) -> bytes:
        exe = shutil.which("kcat") or shutil.which("kafkacat")
        if exe is None:
            raise RuntimeError("kcat is not installed: run `make install`")
        done = subprocess.run(
            [exe, "-b", self.bootstrap, *args],
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"kcat {' '.join(args)} failed: {done.stderr.decode()[-500:]}")
        return done.stdout

    def create_topic(self, topic, partitions, rf, configs=None):
        ConfluentDriver(self.bootstrap).create_topic(topic, partitions, rf, configs)

    def list_topics(self):
        md = json.loads(self._kcat("-L", "-J"))
        return {t["topic"] for t in md["topics"]}

    def describe(self, topic):
        md = json.loads(self._kcat("-L", "-J", "-t", topic))
        (t,) = [t for t in md["topics"] if t["topic"] == topic]
        if t.get("error"):
            raise RuntimeError(t["error"])
        return {
            p["partition"]: {
                "leader": p["leader"],
                "replicas": [r["id"] for r in p["replicas"]],
                "isr": [r["id"] for r in p["isrs"]],
            }
            for p in t["partitions"]
        }

    def delete_topic(self, topic):
        ConfluentDriver(self.bootstrap).delete_topic(topic)

    def produce(self, topic, records, acks="all", compression="none"):
        acks_value = {"all": "-1", "1": "1", "0": "0"}[acks]
        # One kcat run per record keeps keys, values and headers exact (no delimiter escaping).
        for r in records:
            args = ["-P", "-t", topic, "-X", f"acks={acks_value}", "-z", compression, "-K", "\x1f"]
            for k, v in r.headers:
                args += ["-H", f"{k}={v.decode()}"]
            if r.partition is not None:
                args += ["-p", str(r.partition)]
            self._kcat(*args, input=(r.key or b"") + b"\x1f" + (r.value or b""))
        return list(records)

    def consume(self, topic, count, timeout=20):
        out = self._kcat(
            "-C", "-t", topic, "-o", "beginning", "-c", str(count), "-e", "-J", timeout=timeout
        )
        recs = []
        for line in out.decode().splitlines():
            m = json.loads(line)
            headers = m.get("headers") or []
            pairs = tuple((headers[i], headers[i + 1].encode()) for i in range(0, len(headers), 2))
            recs.append(
                Rec(
                    m["key"].encode() if m["key"] is not None else None,
                    m["payload"].encode() if m["payload"] is not None else None,
                    pairs,
                    m["partition"],
                    m["offset"],
                )
            )
        return recs


DRIVERS = [ConfluentDriver, KafkaPythonDriver, AiokafkaDriver, KcatDriver]
