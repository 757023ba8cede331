"""One broker process: metadata from the controller, local replicas, replication, the listener.

All state lives on one asyncio event loop. The controller's metadata records are applied to a
`MetadataImage`; after each batch `reconcile()` makes the local replicas match it (open or delete
logs, become leader or follower), exactly the way a KRaft broker reacts to metadata deltas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..protocol.errors import ErrorCode
from .configs import BROKER_CONFIGS, broker_default, effective_topic_config
from .controller_client import ControllerClient, ControllerError
from .fetch_sessions import FetchSessionCache
from .groups.coordinator import GroupCoordinator
from .log import LogConfig, PartitionLog
from .replica import PartitionView, Replica
from .replication import ReplicaFetchers
from .server import Server
from .state import MetadataImage
from .txn.producer_ids import ProducerIdBlocks
from .wakeup import Signal, wait_any

log = logging.getLogger("kafkabook.broker")

INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})


def now_ms() -> int:
    return int(time.time() * 1000)


class Broker:
    """A Kafka broker of the bundled cluster."""

    def __init__(
        self,
        node_id: int,
        host: str,
        port: int,
        data_dir: Path,
        controller: tuple[str, int],
        configs: dict[str, str],
    ) -> None:
        self.node_id = node_id
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.static_configs = dict(configs)
        self._topic_configs: dict[tuple[str, str], str | None] = {}
        self._topic_configs_version = -1
        self.image = MetadataImage()
        self.replicas: dict[tuple[str, int], Replica] = {}
        self.controller = ControllerClient(*controller)
        self.fetchers = ReplicaFetchers(self)
        self.server = Server(self, host, port, int(self.config("socket.request.max.bytes")))
        self.broker_epoch = -1
        self.cluster_id = ""
        self.fenced = True
        self.shutting_down = False
        self._tasks: list[asyncio.Task[Any]] = []
        # Fire-and-forget tasks (ISR change requests), kept referenced until they finish.
        self._background: set[asyncio.Task[Any]] = set()
        self._ready = asyncio.Event()
        # Set to send a heartbeat at once (after catching up, so the controller unfences us
        # without waiting for the next interval).
        self._heartbeat_now = asyncio.Event()
        self.metadata_applied = Signal()
        # Called as listener(replica, is_leader) when this broker gains or loses a partition's
        # leadership (or the leader epoch changes): the group and transaction coordinators
        # load and unload their state partitions this way.
        self.leadership_listeners: list[Callable[[Replica, bool], None]] = []
        self._stopped = asyncio.Event()
        # Incremental fetch sessions (KIP-227) and producer-id blocks (KIP-730) of this broker.
        self.fetch_sessions = FetchSessionCache()
        self.producer_ids = ProducerIdBlocks(self._allocate_producer_ids)
        # High watermarks as of the last checkpoint, to start replicas from after a restart.
        self._hw_checkpoint = self._read_hw_checkpoint()
        # Registers itself as a leadership listener, so it loads the offsets partitions led here.
        self.group_coordinator = GroupCoordinator(self)

    # -- configuration -----------------------------------------------------------------------

    def config(self, name: str) -> str:
        """A broker config: dynamic cluster-wide value, static value, or Kafka's default."""
        dynamic = self.image.configs.get(("broker", str(self.node_id)), {})
        if name in dynamic:
            return dynamic[name]
        cluster_default = self.image.configs.get(("broker", ""), {})
        if name in cluster_default:
            return cluster_default[name]
        if name == "default.replication.factor" and name not in self.static_configs:
            return str(min(3, max(1, len(self.live_broker_ids()))))
        value = broker_default(name, self.static_configs)
        if value is None and name not in BROKER_CONFIGS:
            raise KeyError(name)
        return value if value is not None else ""

    def broker_config_values(self) -> dict[str, str]:
        """Every broker config that has a value, for topic defaults."""
        values = dict(self.static_configs)
        values.update(self.image.configs.get(("broker", ""), {}))
        values.update(self.image.configs.get(("broker", str(self.node_id)), {}))
        return values

    def topic_config(self, topic: str, name: str) -> str | None:
        """A topic config's effective value (topic override, broker setting, Kafka default)."""
        # Produce asks several per request: remember answers until the configs change.
        if self.image.configs_version != self._topic_configs_version:
            self._topic_configs.clear()
            self._topic_configs_version = self.image.configs_version
        key = (topic, name)
        if key not in self._topic_configs:
            self._topic_configs[key] = effective_topic_config(
                name, self.image.configs.get(("topic", topic), {}), self.broker_config_values()
            )[0]
        return self._topic_configs[key]

    # -- metadata views ----------------------------------------------------------------------

    def live_broker_ids(self) -> list[int]:
        return self.image.live_broker_ids()

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Register, catch up with metadata, open the listener, and serve until stopped."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        incarnation = self._incarnation()
        answer = await self.controller.call(
            "register",
            broker_id=self.node_id,
            host=self.host,
            port=self.port,
            incarnation=incarnation,
        )
        self.broker_epoch = answer["broker_epoch"]
        self.cluster_id = answer.get("cluster_id", "")
        self._tasks = [
            asyncio.create_task(self._follow_metadata(), name="metadata"),
            asyncio.create_task(self._heartbeats(), name="heartbeats"),
            asyncio.create_task(self._isr_maintenance(), name="isr"),
            asyncio.create_task(self._checkpoint_high_watermarks(), name="hw-checkpoint"),
        ]
        await self._ready.wait()
        await self.server.start()
        log.info("broker %d serving on %s:%d", self.node_id, self.host, self.port)
        await self._stopped.wait()

    async def shutdown(self) -> None:
        """Controlled shutdown: hand leadership away through the controller, then close."""
        if self.shutting_down:
            return
        self.shutting_down = True
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                answer = await self.controller.call(
                    "heartbeat",
                    broker_id=self.node_id,
                    broker_epoch=self.broker_epoch,
                    metadata_offset=self.image.offset,
                    want_shutdown=True,
                )
                if answer.get("shutdown_ok"):
                    break
            except (ControllerError, OSError):
                break
            await asyncio.sleep(0.1)
        await self.server.close()
        await self.fetchers.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._write_hw_checkpoint()
        for replica in self.replicas.values():
            replica.log.close()
        await self.controller.close()
        self._stopped.set()

    def _incarnation(self) -> str:
        path = self.data_dir / "meta.properties"
        if path.exists():
            for line in path.read_text().splitlines():
                if line.startswith("directory.id="):
                    return line.split("=", 1)[1]
        directory_id = str(uuid.uuid4())
        path.write_text(f"version=1\nnode.id={self.node_id}\ndirectory.id={directory_id}\n")
        return directory_id

    async def _heartbeats(self) -> None:
        interval = int(self.config("broker.heartbeat.interval.ms")) / 1000
        while not self.shutting_down:
            # Cleared before sending, not after: a catch-up that lands while this heartbeat is
            # in flight must trigger the next one at once (clearing afterwards lost it and
            # held every fresh broker fenced for a whole interval).
            self._heartbeat_now.clear()
            try:
                answer = await self.controller.call(
                    "heartbeat",
                    broker_id=self.node_id,
                    broker_epoch=self.broker_epoch,
                    metadata_offset=self.image.offset,
                    want_shutdown=False,
                )
                self.fenced = bool(answer.get("fenced"))
                if answer.get("error") == "STALE_BROKER_EPOCH" or answer.get("reregister"):
                    await self._reregister()
            except ControllerError as exc:
                if exc.error in ("STALE_BROKER_EPOCH", "BROKER_ID_NOT_REGISTERED"):
                    await self._reregister()
                else:
                    log.warning("heartbeat failed: %s", exc)
            except OSError as exc:
                log.warning("controller unreachable: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heartbeat_now.wait(), interval)

    async def _reregister(self) -> None:
        answer = await self.controller.call(
            "register",
            broker_id=self.node_id,
            host=self.host,
            port=self.port,
            incarnation=self._incarnation(),
        )
        self.broker_epoch = answer["broker_epoch"]

    async def _follow_metadata(self) -> None:
        while True:
            try:
                answer = await self.controller.call(
                    "fetch_metadata", from_offset=self.image.offset + 1, max_wait_ms=500
                )
            except (ControllerError, OSError) as exc:
                log.warning("metadata fetch failed: %s", exc)
                await asyncio.sleep(0.2)
                continue
            records = answer.get("records", [])
            for entry in records:
                self.image.apply(entry["record"], offset=entry["offset"])
            if records:
                self.reconcile()
                self.metadata_applied.notify()
            if not self._ready.is_set() and self.image.offset + 1 >= answer.get("end_offset", 0):
                self.reconcile()
                self._ready.set()
                self._heartbeat_now.set()

    # -- replicas ----------------------------------------------------------------------------

    def replica_dir(self, topic: str, partition: int) -> Path:
        return self.data_dir / f"{topic}-{partition}"

    def log_config(self, topic: str) -> LogConfig:
        return LogConfig(
            segment_bytes=int(self.topic_config(topic, "segment.bytes") or 1 << 30),
            index_interval_bytes=int(self.topic_config(topic, "index.interval.bytes") or 4096),
        )

    def reconcile(self) -> None:
        """Make local replicas match the metadata image: open, delete, lead or follow."""
        wanted: set[tuple[str, int]] = set()
        now = now_ms()
        for topic in self.image.topics.values():
            for index, state in topic.partitions.items():
                if self.node_id not in state.replicas:
                    continue
                key = (topic.name, index)
                wanted.add(key)
                view = PartitionView(
                    tuple(state.replicas),
                    tuple(state.isr),
                    state.leader,
                    state.leader_epoch,
                    state.partition_epoch,
                )
                replica = self.replicas.get(key)
                if replica is None or replica.topic_id != topic.topic_id:
                    if replica is not None:  # a topic re-created under the same name
                        self._drop_replica(key)
                    replica = self._open_replica(topic.name, topic.topic_id, index, view)
                    self.replicas[key] = replica
                if replica.view != view:
                    was_leader = replica.is_leader
                    old_leader, old_epoch = replica.view.leader, replica.view.leader_epoch
                    replica.apply_view(view, now)
                    if replica.is_leader != was_leader or (
                        replica.is_leader and old_epoch != view.leader_epoch
                    ):
                        for listener in self.leadership_listeners:
                            listener(replica, replica.is_leader)
                    if replica.is_leader:
                        self.fetchers.remove(replica)
                    elif view.leader >= 0 and (
                        old_leader != view.leader
                        or old_epoch != view.leader_epoch
                        or was_leader
                        or not self.fetchers.has(replica)
                    ):
                        self.fetchers.follow(replica, view.leader)
                    elif view.leader < 0:
                        self.fetchers.remove(replica)
                elif not replica.is_leader and view.leader >= 0 and not self.fetchers.has(replica):
                    self.fetchers.follow(replica, view.leader)
        for key in list(self.replicas):
            if key not in wanted:
                self._drop_replica(key)

    def _open_replica(
        self, topic: str, topic_id: str, partition: int, view: PartitionView
    ) -> Replica:
        path = self.replica_dir(topic, partition)
        meta = path / "partition.metadata"
        if path.exists() and meta.exists() and topic_id not in meta.read_text():
            shutil.rmtree(path)  # leftovers of a deleted topic with the same name
        part_log = PartitionLog.open(path, self.log_config(topic))
        meta.write_text(f"version: 0\ntopic_id: {topic_id}\n")
        replica = Replica(
            topic=topic,
            topic_id=topic_id,
            partition=partition,
            node_id=self.node_id,
            log=part_log,
            view=PartitionView((), (), -1, -1, -1),
        )
        replica.high_watermark = min(
            self._hw_checkpoint.get((topic, partition), 0), part_log.log_end_offset
        )
        return replica

    def _drop_replica(self, key: tuple[str, int]) -> None:
        replica = self.replicas.pop(key)
        if replica.is_leader:
            for listener in self.leadership_listeners:
                listener(replica, False)
        self.fetchers.remove(replica)
        replica.state_changed()
        replica.log.delete()

    # -- ISR maintenance (leader side) -------------------------------------------------------

    async def _isr_maintenance(self) -> None:
        max_lag = int(self.config("replica.lag.time.max.ms"))
        while True:
            await asyncio.sleep(max(0.1, max_lag / 2000))
            now = now_ms()
            for replica in list(self.replicas.values()):
                if not replica.is_leader or replica.isr_change_pending:
                    continue
                lagging = replica.isr_to_remove(now, max_lag)
                if lagging:
                    new_isr = [r for r in replica.view.isr if r not in lagging]
                    log.info(
                        "shrinking ISR of %s-%d from %s to %s",
                        replica.topic,
                        replica.partition,
                        list(replica.view.isr),
                        new_isr,
                    )
                    self.request_isr_change(replica, new_isr)

    def maybe_expand_isr(self, replica: Replica) -> None:
        """Called after a follower fetch: ask the controller to add caught-up followers."""
        if replica.isr_change_pending or not replica.is_leader:
            return
        joining = replica.isr_to_add()
        if joining:
            live = set(self.live_broker_ids())
            joining = [r for r in joining if r in live]
        if joining:
            self.request_isr_change(replica, sorted(set(replica.view.isr) | set(joining)))

    def request_isr_change(self, replica: Replica, new_isr: list[int]) -> None:
        replica.isr_change_pending = True

        async def send() -> None:
            try:
                await self.controller.call(
                    "alter_partition",
                    broker_id=self.node_id,
                    broker_epoch=self.broker_epoch,
                    topic_id=replica.topic_id,
                    partition=replica.partition,
                    leader_epoch=replica.view.leader_epoch,
                    partition_epoch=replica.view.partition_epoch,
                    new_isr=new_isr,
                )
            except (ControllerError, OSError) as exc:
                log.info("ISR change for %s-%d refused: %s", replica.topic, replica.partition, exc)
                replica.isr_change_pending = False
            # On success the new partition record arrives through metadata and clears the flag.

        task = asyncio.create_task(send())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- high watermark checkpoint -----------------------------------------------------------

    def _read_hw_checkpoint(self) -> dict[tuple[str, int], int]:
        """Kafka's replication-offset-checkpoint format: version, count, "topic partition hw"."""
        path = self.data_dir / "replication-offset-checkpoint"
        if not path.exists():
            return {}
        entries = {}
        for line in path.read_text().splitlines()[2:]:
            topic, partition, offset = line.rsplit(" ", 2)
            entries[(topic, int(partition))] = int(offset)
        return entries

    async def _allocate_producer_ids(self) -> tuple[int, int]:
        answer = await self.controller.call("allocate_producer_ids", broker_id=self.node_id)
        return answer["first_producer_id"], answer["count"]

    def _write_hw_checkpoint(self) -> None:
        entries = [f"{r.topic} {r.partition} {r.high_watermark}" for r in self.replicas.values()]
        tmp = self.data_dir / "replication-offset-checkpoint.tmp"
        tmp.write_text("0\n" + f"{len(entries)}\n" + "".join(e + "\n" for e in entries))
        tmp.replace(self.data_dir / "replication-offset-checkpoint")

    async def _checkpoint_high_watermarks(self) -> None:
        while True:
            await asyncio.sleep(5)
            self._write_hw_checkpoint()

    # -- helpers for handlers ----------------------------------------------------------------

    def leader_replica(
        self,
        topic: str,
        partition: int,
        current_leader_epoch: int = -1,
        *,
        any_replica: bool = False,
    ) -> tuple[Replica | None, ErrorCode]:
        """The partition's replica if this broker leads it, else the error Kafka answers:
        UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, or FENCED/UNKNOWN_LEADER_EPOCH
        when the caller's epoch (-1: unchecked) is older or newer than the leader's.
        With `any_replica`, a follower's replica is returned too (Kafka's debugging reads)."""
        known = self.image.topics.get(topic)
        if known is None or partition not in known.partitions:
            return None, ErrorCode.unknown_topic_or_partition
        replica = self.replicas.get((topic, partition))
        if replica is None or not (replica.is_leader or any_replica):
            return None, ErrorCode.not_leader_or_follower
        if current_leader_epoch >= 0 and current_leader_epoch != replica.leader_epoch:
            if current_leader_epoch < replica.leader_epoch:
                return None, ErrorCode.fenced_leader_epoch
            return None, ErrorCode.unknown_leader_epoch
        return replica, ErrorCode.none

    async def wait_for_high_watermark(
        self, replica: Replica, offset: int, timeout_s: float
    ) -> bool:
        """Wait until the replica's high watermark reaches `offset` (acks=all)."""
        deadline = time.monotonic() + timeout_s
        while replica.high_watermark < offset:
            if not replica.is_leader or key_missing(self, replica):
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await wait_any([replica.committed], remaining):
                return replica.high_watermark >= offset
        return True

    async def auto_create_topics(self, names: list[str]) -> None:
        """Create missing topics with the broker defaults, as auto.create.topics.enable does."""
        try:
            await self.controller.call(
                "create_topics",
                topics=[
                    {
                        "name": n,
                        "num_partitions": -1,
                        "replication_factor": -1,
                        "assignments": None,
                        "configs": {},
                    }
                    for n in names
                ],
                validate_only=False,
            )
        except (ControllerError, OSError) as exc:
            log.info("auto-creating %s failed: %s", names, exc)

    async def wait_for_metadata(
        self, predicate: Callable[[], bool], timeout_s: float = 5.0
    ) -> bool:
        """Wait until `predicate()` holds on the applied metadata (after a controller write)."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await wait_any([self.metadata_applied], remaining):
                return predicate()
        return True


def key_missing(broker: Broker, replica: Replica) -> bool:
    return broker.replicas.get((replica.topic, replica.partition)) is not replica
