"""Followers replicate from leaders with Kafka's own Fetch and OffsetForLeaderEpoch requests.

Like Kafka's replica fetcher threads, there is one fetcher task per leader broker, fetching every
partition this broker follows from it in one request, within an incremental fetch session
(KIP-227) as Kafka's fetchers do: each request names only the partitions whose fetch offset moved,
and each response carries only partitions with news. A partition whose leader or leader epoch
changed first asks the leader where its epoch ended and truncates a divergent tail, then fetches.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kio.schema.fetch.v12 import request as fetch_req
from kio.schema.offset_for_leader_epoch.v4 import request as epoch_req

from ..protocol.errors import ErrorCode
from .fetch_sessions import PartitionAsk, SessionHandler
from .peer import PeerConnection

if TYPE_CHECKING:
    from .broker import Broker
    from .replica import Replica

log = logging.getLogger("kafkabook.broker.replication")

FETCH_MAX_WAIT_MS = 500
PARTITION_MAX_BYTES = 1 << 20
RESPONSE_MAX_BYTES = 10 << 20


@dataclass(eq=False)
class FollowedPartition:
    replica: Replica
    leader_epoch: int
    needs_truncation: bool = True


class ReplicaFetchers:
    """The set of fetcher tasks of one broker, one per leader it follows."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._by_leader: dict[int, dict[tuple[str, int], FollowedPartition]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._wakeups: dict[int, asyncio.Event] = {}

    def has(self, replica: Replica) -> bool:
        key = (replica.topic, replica.partition)
        return any(key in parts for parts in self._by_leader.values())

    def follow(self, replica: Replica, leader: int) -> None:
        """Fetch `replica` from `leader` from now on (after checking for a divergent tail)."""
        self.remove(replica)
        parts = self._by_leader.setdefault(leader, {})
        parts[(replica.topic, replica.partition)] = FollowedPartition(
            replica, replica.view.leader_epoch
        )
        if leader not in self._tasks or self._tasks[leader].done():
            self._wakeups[leader] = asyncio.Event()
            self._tasks[leader] = asyncio.create_task(self._run(leader), name=f"fetcher-{leader}")
        self._wakeups[leader].set()

    def remove(self, replica: Replica) -> None:
        key = (replica.topic, replica.partition)
        for parts in self._by_leader.values():
            parts.pop(key, None)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _run(self, leader: int) -> None:
        conn: PeerConnection | None = None
        session = SessionHandler()
        backoff = 0.05
        while True:
            parts = self._by_leader.get(leader, {})
            if not parts:
                # Idle until a partition is assigned to this leader again.
                self._wakeups[leader].clear()
                await self._wakeups[leader].wait()
                continue
            info = self.broker.image.brokers.get(leader)
            if info is None:
                await asyncio.sleep(0.2)
                continue
            if conn is None or (conn.host, conn.port) != (info.host, info.port):
                if conn is not None:
                    conn.close()
                conn = PeerConnection(info.host, info.port, f"broker-{self.broker.node_id}-fetcher")
                session = SessionHandler()
            try:
                await self._truncate(conn, [p for p in parts.values() if p.needs_truncation])
                await self._fetch(
                    conn, session, [p for p in parts.values() if not p.needs_truncation]
                )
                backoff = 0.05
            except (OSError, ConnectionError) as exc:
                log.debug("fetch from broker %d failed: %s", leader, exc)
                session.failed()
                conn.close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _truncate(self, conn: PeerConnection, parts: list[FollowedPartition]) -> None:
        if not parts:
            return
        topics: dict[str, list[dict[str, int]]] = {}
        for p in parts:
            latest = p.replica.log.latest_epoch
            topics.setdefault(p.replica.topic, []).append(
                {
                    "partition": p.replica.partition,
                    "current_leader_epoch": p.leader_epoch,
                    "leader_epoch": latest if latest is not None else -1,
                }
            )
        request = {
            "replica_id": self.broker.node_id,
            "topics": [{"topic": t, "partitions": ps} for t, ps in topics.items()],
        }
        response = await conn.request(epoch_req.OffsetForLeaderEpochRequest, request, timeout=10)
        by_key = {(p.replica.topic, p.replica.partition): p for p in parts}
        for topic in response.topics:
            for result in topic.partitions:
                followed = by_key.get((topic.topic, result.partition))
                if followed is None:
                    continue
                if result.error_code != ErrorCode.none:
                    log.debug(
                        "OffsetForLeaderEpoch %s-%d: %s",
                        topic.topic,
                        result.partition,
                        result.error_code.name,
                    )
                    continue
                replica = followed.replica
                leo = replica.log.log_end_offset
                if result.end_offset < 0:
                    # The leader knows no epoch at or below ours: keep only what is committed.
                    target = min(leo, replica.high_watermark)
                else:
                    ours = replica.log.end_offset_for_epoch(result.leader_epoch)[1]
                    target = min(leo, result.end_offset, ours if ours >= 0 else leo)
                if target < leo:
                    log.info(
                        "truncating %s-%d from %d to %d after leader change",
                        replica.topic,
                        replica.partition,
                        leo,
                        target,
                    )
                    replica.truncate_to(target)
                followed.needs_truncation = False

    async def _fetch(
        self, conn: PeerConnection, session: SessionHandler, parts: list[FollowedPartition]
    ) -> None:
        if not parts:
            return
        by_key = {(p.replica.topic, p.replica.partition): p for p in parts}
        wanted: dict[tuple[str, int], PartitionAsk] = {
            key: (
                p.replica.log.log_end_offset,
                p.leader_epoch,
                p.replica.log.log_start_offset,
                PARTITION_MAX_BYTES,
            )
            for key, p in by_key.items()
        }
        ask = session.next_request(wanted)
        topics: dict[str, list[dict[str, int]]] = {}
        for (topic, index), (offset, epoch, log_start, max_bytes) in ask.partitions.items():
            latest = by_key[(topic, index)].replica.log.latest_epoch
            topics.setdefault(topic, []).append(
                {
                    "partition": index,
                    "current_leader_epoch": epoch,
                    "fetch_offset": offset,
                    "last_fetched_epoch": latest if latest is not None else -1,
                    "log_start_offset": log_start,
                    "partition_max_bytes": max_bytes,
                }
            )
        forgotten: dict[str, list[int]] = {}
        for topic, index in ask.forgotten:
            forgotten.setdefault(topic, []).append(index)
        request = {
            "replica_id": self.broker.node_id,
            "max_wait": FETCH_MAX_WAIT_MS,
            "min_bytes": 1,
            "max_bytes": RESPONSE_MAX_BYTES,
            "isolation_level": 0,
            "session_id": ask.session_id,
            "session_epoch": ask.epoch,
            "topics": [{"topic": t, "partitions": ps} for t, ps in topics.items()],
            "forgotten_topics_data": [
                {"topic": t, "partitions": ps} for t, ps in forgotten.items()
            ],
            "rack_id": "",
        }
        response = await conn.request(
            fetch_req.FetchRequest, request, timeout=FETCH_MAX_WAIT_MS / 1000 + 10
        )
        if response.error_code != ErrorCode.none:
            # FETCH_SESSION_ID_NOT_FOUND or INVALID_FETCH_SESSION_EPOCH (the leader restarted
            # or evicted us): the next request opens a new session with every partition.
            log.debug("fetch session with %s:%d: %s", conn.host, conn.port, response.error_code)
            session.failed()
            return
        session.succeeded(response.session_id)
        for topic in response.responses:
            for data in topic.partitions:
                followed = by_key.get((topic.topic, data.partition_index))
                if (
                    followed is None
                    or self.broker.replicas.get((topic.topic, data.partition_index))
                    is not followed.replica
                ):
                    continue
                replica = followed.replica
                if data.error_code == ErrorCode.none:
                    # Follow the leader's log start (DeleteRecords) as far as our log reaches.
                    if data.log_start_offset > replica.log.log_start_offset:
                        replica.log.delete_records_before(
                            min(data.log_start_offset, replica.log.log_end_offset)
                        )
                    replica.append_as_follower(bytes(data.records or b""), data.high_watermark)
                elif data.error_code == ErrorCode.offset_out_of_range:
                    self._reset_out_of_range(replica, data.log_start_offset)
                elif data.error_code in (
                    ErrorCode.fenced_leader_epoch,
                    ErrorCode.not_leader_or_follower,
                    ErrorCode.unknown_leader_epoch,
                ):
                    # Our metadata or the leader's is behind; the next metadata update re-follows.
                    await asyncio.sleep(0.05)
                else:
                    log.info(
                        "fetch %s-%d: %s", topic.topic, data.partition_index, data.error_code.name
                    )

    @staticmethod
    def _reset_out_of_range(replica: Replica, leader_log_start: int) -> None:
        if replica.log.log_end_offset < leader_log_start:
            # Everything we hold is gone on the leader: start over at its log start.
            replica.start_over_at(leader_log_start)
        else:
            replica.truncate_to(replica.high_watermark)
