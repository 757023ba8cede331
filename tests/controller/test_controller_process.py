"""The real controller process, driven by fake brokers through ControllerClient."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

from kafkabook.broker.controller_client import ControllerClient, ControllerError
from kafkabook.broker.state import MetadataImage

from .conftest import ControllerProcess

StartController = Callable[[dict[str, str]], ControllerProcess]


class FakeBroker:
    """A broker without Kafka: registers, heartbeats and follows metadata like a real one."""

    def __init__(self, broker_id: int, port: int) -> None:
        self.broker_id = broker_id
        self.port = port
        self.client = ControllerClient("127.0.0.1", port)
        self.image = MetadataImage()
        self.fenced_changes: list[bool] = []
        self.batches: list[list[dict[str, Any]]] = []
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [
            asyncio.create_task(
                self.client.metadata_follower(self.image, self.batches.append, max_wait_ms=500)
            ),
            asyncio.create_task(
                self.client.registration_and_heartbeats(
                    self.broker_id,
                    "127.0.0.1",
                    19090 + self.broker_id,
                    lambda: self.image.offset,
                    self.fenced_changes.append,
                    interval=0.2,
                )
            ),
        ]

    async def crash(self) -> None:
        """Stop talking to the controller at once, as a SIGKILLed broker would."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.close()

    async def expand_isr(self, topic: str, follower: int) -> None:
        """As the leader of every partition of ``topic`` that lacks ``follower``: add it."""
        found = self.image.topics[topic]
        for index, state in found.partitions.items():
            if state.leader != self.broker_id or follower in state.isr:
                continue
            if follower not in state.replicas:
                continue
            await self.client.call(
                "alter_partition",
                broker_id=self.broker_id,
                broker_epoch=self.client.broker_epoch,
                topic_id=found.topic_id,
                partition=index,
                leader_epoch=state.leader_epoch,
                partition_epoch=state.partition_epoch,
                new_isr=[*state.isr, follower],
            )


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``predicate`` (cheap, local) until true; returns the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def test_failover_and_preferred_leader_return(start_controller: StartController) -> None:
    controller = start_controller({"leader.imbalance.check.interval.seconds": "0.5"})

    async def scenario() -> None:
        brokers = {i: FakeBroker(i, controller.port) for i in (1, 2, 3)}
        admin = ControllerClient("127.0.0.1", controller.port)
        try:
            for broker in brokers.values():
                broker.start()
            observer = brokers[2].image
            await wait_until(lambda: observer.live_broker_ids() == [1, 2, 3], 10, "3 live brokers")
            assert all(b.fenced_changes[:2] == [True, False] for b in brokers.values())

            answer = await admin.call(
                "create_topics",
                topics=[{"name": "orders", "num_partitions": 6, "replication_factor": 3}],
                validate_only=False,
            )
            assert answer["results"][0]["error"] is None
            await wait_until(lambda: "orders" in observer.topics, 5, "the topic")
            before = dict(observer.topics["orders"].partitions)
            led_by_1 = sorted(i for i, s in before.items() if s.leader == 1)
            preferred_1 = sorted(i for i, s in before.items() if s.replicas[0] == 1)
            assert len(led_by_1) == 2, before  # 6 partitions over 3 brokers: 2 each

            # Broker 1 dies: no more heartbeats.
            await brokers[1].crash()

            def failed_over() -> bool:
                parts = observer.topics["orders"].partitions
                return all(s.leader != 1 and 1 not in s.isr for s in parts.values())

            took = await wait_until(failed_over, 3.0, "leaders to move off broker 1")
            assert took >= 1.0  # fenced by the session timeout, not by anything faster
            assert observer.brokers[1].fenced
            after = observer.topics["orders"].partitions
            for i in led_by_1:
                assert after[i].leader in (2, 3)
                assert after[i].leader_epoch == before[i].leader_epoch + 1
                assert after[i].isr == tuple(r for r in before[i].replicas if r != 1)

            # Broker 1 restarts: a new process, a new registration.
            brokers[1] = FakeBroker(1, controller.port)
            brokers[1].start()
            await wait_until(lambda: 1 in observer.live_broker_ids(), 10, "broker 1 unfenced")
            # The leaders see it catch up and add it back to their ISRs...
            for leader in (2, 3):
                await brokers[leader].expand_isr("orders", 1)

            # ...and the periodic preferred-leader election hands its partitions back.
            def preferred_back() -> bool:
                parts = observer.topics["orders"].partitions
                return all(parts[i].leader == 1 for i in preferred_1) and all(
                    1 in s.isr for s in parts.values()
                )

            await wait_until(preferred_back, 5, "preferred leaders to return")

            # A controlled shutdown of broker 3 moves its leadership away before it leaves.
            assert await brokers[3].client.controlled_shutdown(timeout=5)
            parts = brokers[3].image.topics["orders"].partitions
            assert all(s.leader != 3 and 3 not in s.isr for s in parts.values())
            await wait_until(lambda: observer.brokers[3].fenced, 5, "broker 3 fenced")
        finally:
            for broker in brokers.values():
                await broker.crash()
            await admin.close()

    asyncio.run(scenario())


def test_restart_keeps_metadata_and_bumps_the_epoch(start_controller: StartController) -> None:
    controller = start_controller({})

    async def scenario() -> None:
        broker = FakeBroker(1, controller.port)
        admin = ControllerClient("127.0.0.1", controller.port, backoff_max=0.2)
        try:
            broker.start()
            await wait_until(lambda: broker.image.live_broker_ids() == [1], 10, "broker 1 live")
            created = await admin.call(
                "create_topics",
                topics=[{"name": "kept", "num_partitions": 2, "replication_factor": 1}],
                validate_only=False,
            )
            topic_id = created["results"][0]["topic_id"]
            assert (await admin.call("describe_quorum"))["leader_epoch"] == 1

            # A kill, not a clean exit: the log must be complete anyway.
            assert controller.stop(signal.SIGKILL) == -signal.SIGKILL
            with_controller_down = admin.call("describe_quorum", timeout=0.3)
            try:
                await with_controller_down
                raise AssertionError("the controller answered while down")
            except ControllerError as exc:
                assert exc.error == "REQUEST_TIMED_OUT"
            controller.start()

            quorum = await admin.call("describe_quorum", timeout=15)
            assert quorum["leader_epoch"] == 2
            records = (await admin.call("fetch_metadata", from_offset=0))["records"]
            replayed = MetadataImage()
            replayed.apply_all(records)
            assert replayed.topics["kept"].topic_id == topic_id
            assert replayed.controller_epoch == 2
            assert records[-1]["record"] == {"type": "controller", "controller_id": 0, "epoch": 2}
            # The broker's follower picked up the new controller record, and its registration
            # survived: it is still live and was never asked to register again.
            await wait_until(lambda: broker.image.controller_epoch == 2, 5, "the new epoch")
            assert broker.fenced_changes == [True, False]
            assert broker.image.live_broker_ids() == [1]
        finally:
            await broker.crash()
            await admin.close()

    asyncio.run(scenario())


def test_sigterm_exits_cleanly(start_controller: StartController) -> None:
    controller = start_controller({})

    async def ready() -> None:
        client = ControllerClient("127.0.0.1", controller.port)
        try:
            await client.call("describe_quorum", timeout=15)
        finally:
            await client.close()

    asyncio.run(ready())
    assert controller.stop(signal.SIGTERM) == 0
    assert "controller 0 stopping" in controller.logs()
