"""The controller's decisions, driven in-process with a fake clock (no sockets)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from kafkabook.broker.controller import server as controller_server
from kafkabook.broker.controller.server import Controller, ControllerServer
from kafkabook.broker.state import PartitionState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """A controller plus helpers that play the brokers' side of the RPC."""

    def __init__(self, data_dir: Path, **configs: str) -> None:
        self.clock = Clock()
        self.data_dir = data_dir
        self.configs = {k.replace("_", "."): v for k, v in configs.items()}
        self.c = Controller(
            data_dir, configs=self.configs, rng=random.Random(7), clock=self.clock, cluster_id="c1"
        )
        self.c.start()
        self.epochs: dict[int, int] = {}

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        return self.c.handle_sync({"id": 1, "op": op, **fields})

    def ok(self, op: str, **fields: Any) -> dict[str, Any]:
        answer = self.call(op, **fields)
        assert answer["error"] is None, answer
        return answer

    def register(self, broker_id: int, incarnation: str | None = None) -> int:
        answer = self.ok(
            "register",
            broker_id=broker_id,
            host="127.0.0.1",
            port=9090 + broker_id,
            incarnation=incarnation or f"inc-{broker_id}",
        )
        self.epochs[broker_id] = answer["broker_epoch"]
        return answer["broker_epoch"]

    def heartbeat(self, broker_id: int, *, offset: int | None = None, shutdown: bool = False):
        return self.ok(
            "heartbeat",
            broker_id=broker_id,
            broker_epoch=self.epochs[broker_id],
            metadata_offset=self.c.image.offset if offset is None else offset,
            want_shutdown=shutdown,
        )

    def start_brokers(self, *ids: int) -> None:
        for broker_id in ids:
            self.register(broker_id)
        for broker_id in ids:
            assert self.heartbeat(broker_id)["fenced"] is False

    def create(self, name: str, partitions: int = 3, rf: int = 3, **extra: Any) -> dict:
        topic = {"name": name, "num_partitions": partitions, "replication_factor": rf, **extra}
        return self.ok("create_topics", topics=[topic], validate_only=False)["results"][0]

    def partitions(self, name: str) -> dict[int, PartitionState]:
        return self.c.image.topics[name].partitions

    def restart(self) -> Controller:
        self.c.close()
        self.c = Controller(self.data_dir, configs=self.configs, clock=self.clock)
        self.c.start()
        return self.c


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    yield harness
    harness.c.close()


def test_registration_starts_fenced_and_unfences_once_caught_up(h: Harness) -> None:
    epoch = h.register(1)
    assert h.c.image.brokers[1].fenced
    assert h.heartbeat(1, offset=epoch - 1)["fenced"] is True  # not caught up yet
    assert h.heartbeat(1, offset=epoch)["fenced"] is False
    assert h.c.image.live_broker_ids() == [1]


def test_broker_epoch_is_the_offset_of_the_registration_record(h: Harness) -> None:
    epoch = h.register(1)
    record = h.c.metadata_log.read(epoch, 1)[0].record
    assert record["type"] == "register_broker" and record["broker_epoch"] == epoch


def test_heartbeat_with_a_stale_epoch(h: Harness) -> None:
    h.register(1)
    answer = h.call(
        "heartbeat", broker_id=1, broker_epoch=0, metadata_offset=0, want_shutdown=False
    )
    assert answer["error"] == "STALE_BROKER_EPOCH"
    answer = h.call(
        "heartbeat", broker_id=7, broker_epoch=0, metadata_offset=0, want_shutdown=False
    )
    assert answer["error"] == "STALE_BROKER_EPOCH"


def test_a_second_process_cannot_steal_a_live_registration(h: Harness) -> None:
    h.start_brokers(1)
    answer = h.call("register", broker_id=1, host="h", port=1, incarnation="other")
    assert answer["error"] == "DUPLICATE_BROKER_REGISTRATION"
    h.clock.now += 2.1
    h.c.fence_expired()
    assert h.call("register", broker_id=1, host="h", port=1, incarnation="other")["error"] is None


def test_create_topic_defaults(h: Harness) -> None:
    h.start_brokers(1, 2)
    result = h.ok(
        "create_topics",
        topics=[{"name": "t", "num_partitions": -1, "replication_factor": -1}],
        validate_only=False,
    )["results"][0]
    # num.partitions is 1; the bundled default.replication.factor is min(3, live brokers).
    assert (result["num_partitions"], result["replication_factor"]) == (1, 2)
    assert len(result["topic_id"]) == 36
    state = h.partitions("t")[0]
    assert state.isr == state.replicas and state.leader == state.replicas[0]
    assert (state.leader_epoch, state.partition_epoch) == (0, 0)


def test_create_topic_errors(h: Harness) -> None:
    h.start_brokers(1, 2)
    h.create("a.b", 1, 1)

    def error(**topic: Any) -> tuple[str, str]:
        spec = {"name": "x", "num_partitions": 1, "replication_factor": 1, **topic}
        result = h.ok("create_topics", topics=[spec], validate_only=False)["results"][0]
        return result["error"], result["message"]

    assert error(name="a.b") == ("TOPIC_ALREADY_EXISTS", "Topic 'a.b' already exists.")
    assert error(name="a_b") == (
        "INVALID_TOPIC_EXCEPTION",
        "Topic 'a_b' collides with existing topic: a.b",
    )
    assert error(name="bad name") == (
        "INVALID_TOPIC_EXCEPTION",
        'Topic name "bad name" is illegal, it contains a character other than ASCII '
        "alphanumerics, '.', '_' and '-'",
    )
    assert error(name="..") == ("INVALID_TOPIC_EXCEPTION", 'Topic name cannot be "." or ".."')
    assert error(name="")[0] == "INVALID_TOPIC_EXCEPTION"
    assert error(name="x" * 250)[1].startswith(
        "Topic name is illegal, it can't be longer than 249 characters"
    )
    assert error(name="x" * 249)[0] is None
    assert error(num_partitions=0)[0] == "INVALID_PARTITIONS"
    assert error(num_partitions=-2)[0] == "INVALID_PARTITIONS"
    assert error(replication_factor=0)[0] == "INVALID_REPLICATION_FACTOR"
    assert error(replication_factor=3) == (
        "INVALID_REPLICATION_FACTOR",
        "Unable to replicate the partition 3 time(s): The target replication factor of 3 "
        "cannot be reached because only 2 broker(s) are registered.",
    )
    assert error(assignments=[[1, 1]], num_partitions=-1, replication_factor=-1)[0] == (
        "INVALID_REPLICA_ASSIGNMENT"
    )
    assert error(assignments=[[1]])[0] == "INVALID_REQUEST"  # counts must be -1 with assignments


def test_create_topic_with_assignment_and_configs(h: Harness) -> None:
    h.start_brokers(1, 2, 3)
    result = h.create(
        "m",
        -1,
        -1,
        assignments={"0": [3, 1], "1": [2, 3]},
        configs=[{"name": "retention.ms", "value": "1000"}],
    )
    assert (result["num_partitions"], result["replication_factor"]) == (2, 2)
    assert [p.replicas for p in h.partitions("m").values()] == [(3, 1), (2, 3)]
    assert h.c.image.configs[("topic", "m")] == {"retention.ms": "1000"}


def test_validate_only_writes_nothing(h: Harness) -> None:
    h.start_brokers(1)
    before = h.c.metadata_log.end_offset
    result = h.ok(
        "create_topics",
        topics=[{"name": "v", "num_partitions": 4, "replication_factor": 1}],
        validate_only=True,
    )["results"][0]
    assert result["error"] is None and result["num_partitions"] == 4
    assert h.c.metadata_log.end_offset == before
    assert "v" not in h.c.image.topics


def test_delete_topics(h: Harness) -> None:
    h.start_brokers(1)
    topic_id = h.create("d", 1, 1)["topic_id"]
    results = h.ok("delete_topics", names=["d", "nope"])["results"]
    assert results[0] == {"name": "d", "error": None, "message": None, "topic_id": topic_id}
    assert results[1]["error"] == "UNKNOWN_TOPIC_OR_PARTITION"
    assert "d" not in h.c.image.topics


def test_create_partitions(h: Harness) -> None:
    h.start_brokers(1, 2, 3)
    h.create("p", 2, 2)

    def grow(count: int, assignments: Any = None, name: str = "p") -> dict:
        spec = {"name": name, "count": count, "assignments": assignments}
        return h.ok("create_partitions", topics=[spec], validate_only=False)["results"][0]

    assert grow(2)["error"] == "INVALID_PARTITIONS"
    assert (
        grow(1)["message"]
        == "The topic p currently has 2 partition(s); 1 would not be an increase."
    )
    assert grow(3, name="q")["error"] == "UNKNOWN_TOPIC_OR_PARTITION"
    assert grow(3, [[1]])["error"] == "INVALID_REPLICA_ASSIGNMENT"  # RF must stay 2
    assert grow(4, [[1, 2]])["error"] == "INVALID_REPLICA_ASSIGNMENT"  # two needed
    assert grow(3, [[3, 1]])["error"] is None
    assert h.partitions("p")[2].replicas == (3, 1)
    assert grow(5)["error"] is None
    assert len(h.partitions("p")) == 5
    assert all(len(set(s.replicas)) == 2 for s in h.partitions("p").values())


def test_session_expiry_fences_and_moves_leadership(h: Harness) -> None:
    h.start_brokers(1, 2, 3)
    h.create("t", 6, 3)
    led_by_1 = [i for i, s in h.partitions("t").items() if s.leader == 1]
    assert led_by_1
    before = dict(h.partitions("t"))
    h.clock.now += 1.0
    for b in (2, 3):
        h.heartbeat(b)
    h.clock.now += 1.5  # broker 1's session (2 s) is over, the others' is not
    assert h.c.fence_expired() == [1]
    assert h.c.image.brokers[1].fenced
    for i, s in h.partitions("t").items():
        assert 1 not in s.isr and s.leader in (2, 3)
        if i in led_by_1:
            assert s.leader_epoch == before[i].leader_epoch + 1
        else:
            assert s.leader == before[i].leader and s.leader_epoch == before[i].leader_epoch
        assert s.partition_epoch == before[i].partition_epoch + 1


def test_session_timer_fences_at_the_deadline_not_a_polling_period_later(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session loop sleeps until the earliest deadline, as Kafka 3's controller schedules
    its fencing event at the heartbeat manager's next check time."""
    h.start_brokers(1, 2)
    h.clock.now += 0.7
    h.heartbeat(2)  # broker 2's session ends 0.7 s after broker 1's
    margin = controller_server.SESSION_CHECK_MARGIN_S
    slept: list[float] = []
    fenced_at: dict[int, float] = {}

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)
        h.clock.now += delay
        if len(slept) == 3:
            raise asyncio.CancelledError

    real_fence = h.c.fence_expired

    def fence() -> list[int]:
        ids = real_fence()
        fenced_at.update({b: h.clock.now for b in ids})
        return ids

    monkeypatch.setattr(h.c, "fence_expired", fence)
    monkeypatch.setattr(controller_server.asyncio, "sleep", fake_sleep)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(ControllerServer(h.c)._session_loop())
    assert slept == pytest.approx([1.3 + margin, 0.7, 2.0 + margin])
    assert fenced_at == pytest.approx({1: 1002.0 + margin, 2: 1002.7 + margin})


def test_leaderless_partition_recovers_when_its_last_isr_member_returns(h: Harness) -> None:
    h.start_brokers(1)
    h.create("solo", 1, 1)
    h.clock.now += 3
    h.c.fence_expired()
    state = h.partitions("solo")[0]
    assert (state.leader, state.isr) == (-1, (1,))
    assert h.heartbeat(1)["fenced"] is False  # same epoch, caught up: unfenced again
    assert h.partitions("solo")[0].leader == 1


def test_unclean_election_on_fencing_when_enabled(h: Harness) -> None:
    h.start_brokers(1, 2)
    h.create("u", -1, -1, assignments=[[1, 2]])
    h.ok(
        "alter_partition",
        broker_id=1,
        broker_epoch=h.epochs[1],
        topic_id=h.c.image.topics["u"].topic_id,
        partition=0,
        leader_epoch=0,
        partition_epoch=0,
        new_isr=[1],
    )
    h.ok(
        "alter_configs",
        resources=[
            {
                "resource_type": "topic",
                "name": "u",
                "set": {"unclean.leader.election.enable": "true"},
            }
        ],
        validate_only=False,
    )
    h.clock.now += 1.5
    h.heartbeat(2)
    h.clock.now += 1.0
    assert h.c.fence_expired() == [1]
    assert (h.partitions("u")[0].leader, h.partitions("u")[0].isr) == (2, (2,))


def test_controlled_shutdown(h: Harness) -> None:
    h.start_brokers(1, 2, 3)
    h.create("s", 6, 2)
    h.create("single", -1, -1, assignments=[[1]])
    answer = h.heartbeat(1, offset=h.c.image.offset - 1, shutdown=True)
    # Leadership has moved, but broker 1 has not seen it yet (nor have the others).
    assert answer == {"id": 1, "error": None, "fenced": False, "shutdown_ok": False}
    assert h.c.image.brokers[1].shutting_down
    assert not h.c.image.partitions_led_by(1)
    assert all(1 not in s.isr for s in h.partitions("s").values())
    assert h.partitions("single")[0].isr == (1,)  # the last member stays, without a leader
    for b in (2, 3):
        h.heartbeat(b)
    answer = h.heartbeat(1, shutdown=True)
    assert (answer["fenced"], answer["shutdown_ok"]) == (True, True)
    assert h.c.image.brokers[1].fenced and not h.c.image.brokers[1].shutting_down
    # A broker that shut down cannot join an ISR.
    index, state = next((i, s) for i, s in h.partitions("s").items() if 1 in s.replicas)
    answer = h.call(
        "alter_partition",
        broker_id=state.leader,
        broker_epoch=h.epochs[state.leader],
        topic_id=h.c.image.topics["s"].topic_id,
        partition=index,
        leader_epoch=state.leader_epoch,
        partition_epoch=state.partition_epoch,
        new_isr=sorted({*state.isr, 1}),
    )
    assert answer["error"] == "INELIGIBLE_REPLICA"


def test_alter_partition_and_preferred_rebalance(h: Harness) -> None:
    h.start_brokers(1, 2, 3)
    h.create("r", 3, 3)
    topic_id = h.c.image.topics["r"].topic_id
    preferred_1 = [i for i, s in h.partitions("r").items() if s.replicas[0] == 1]
    h.clock.now += 2.5
    for b in (2, 3):
        h.heartbeat(b)
    h.c.fence_expired()
    h.register(1)  # a restart: new registration
    h.heartbeat(1)
    assert h.c.rebalance_leaders() == 0  # broker 1 is not back in any ISR yet
    for i in preferred_1:
        s = h.partitions("r")[i]
        answer = h.ok(
            "alter_partition",
            broker_id=s.leader,
            broker_epoch=h.epochs[s.leader],
            topic_id=topic_id,
            partition=i,
            leader_epoch=s.leader_epoch,
            partition_epoch=s.partition_epoch,
            new_isr=[*s.isr, 1],
        )
        assert answer["partition"]["isr"] == [1, *s.isr]  # kept in replica order
        # Replaying the same request is now stale.
        stale = h.call(
            "alter_partition",
            broker_id=s.leader,
            broker_epoch=h.epochs[s.leader],
            topic_id=topic_id,
            partition=i,
            leader_epoch=s.leader_epoch,
            partition_epoch=s.partition_epoch,
            new_isr=[*s.isr, 1],
        )
        assert stale["error"] == "INVALID_UPDATE_VERSION"
        assert stale["partition"]["partition_epoch"] == s.partition_epoch + 1
    assert h.c.rebalance_leaders() == len(preferred_1)
    assert all(h.partitions("r")[i].leader == 1 for i in preferred_1)


def test_alter_partition_errors(h: Harness) -> None:
    h.start_brokers(1, 2)
    h.create("e", 1, 2)
    s = h.partitions("e")[0]
    base = {
        "broker_id": s.leader,
        "broker_epoch": h.epochs[s.leader],
        "topic_id": h.c.image.topics["e"].topic_id,
        "partition": 0,
        "leader_epoch": 0,
        "partition_epoch": 0,
        "new_isr": [s.leader],
    }
    assert (
        h.call("alter_partition", **{**base, "broker_epoch": 99})["error"] == "STALE_BROKER_EPOCH"
    )
    assert h.call("alter_partition", **{**base, "topic_id": "x"})["error"] == "UNKNOWN_TOPIC_ID"
    assert h.call("alter_partition", **{**base, "partition": 5})["error"] == (
        "UNKNOWN_TOPIC_OR_PARTITION"
    )
    follower = s.replicas[1] if s.leader == s.replicas[0] else s.replicas[0]
    not_leader = {**base, "broker_id": follower, "broker_epoch": h.epochs[follower]}
    assert h.call("alter_partition", **not_leader)["error"] == "NOT_LEADER_OR_FOLLOWER"
    assert (
        h.call("alter_partition", **{**base, "leader_epoch": 3})["error"] == "FENCED_LEADER_EPOCH"
    )
    assert h.call("alter_partition", **{**base, "new_isr": "1"})["error"] == "INVALID_REQUEST"


def test_elect_leaders(h: Harness) -> None:
    h.start_brokers(1, 2)
    h.create("x", -1, -1, assignments=[[1, 2], [2, 1]])
    h.clock.now += 1.5
    h.heartbeat(2)
    h.clock.now += 1.0
    h.c.fence_expired()  # broker 1 gone: x-0 is led by 2
    h.heartbeat(1)  # back, but not in x-0's ISR
    targets = [
        {"topic": "x", "partition": 0},
        {"topic": "x", "partition": 1},
        {"topic": "y", "partition": 0},
    ]
    results = h.ok("elect_leaders", election_type=0, partitions=targets)["results"]
    assert [r["error"] for r in results] == [
        "PREFERRED_LEADER_NOT_AVAILABLE",
        "ELECTION_NOT_NEEDED",
        "UNKNOWN_TOPIC_OR_PARTITION",
    ]
    results = h.ok("elect_leaders", election_type=1, partitions=targets[:1])["results"]
    assert results[0]["error"] == "ELECTION_NOT_NEEDED"  # it has a leader
    # Every partition (null list): only the partitions an election was tried on are reported.
    results = h.ok("elect_leaders", election_type=0, partitions=None)["results"]
    assert [(r["topic"], r["partition"], r["error"]) for r in results] == [
        ("x", 0, "PREFERRED_LEADER_NOT_AVAILABLE")
    ]


def test_preferred_election_on_request(h: Harness) -> None:
    h.start_brokers(1, 2)
    h.create("y", -1, -1, assignments=[[1, 2]])
    topic_id = h.c.image.topics["y"].topic_id
    h.clock.now += 1.5
    h.heartbeat(2)
    h.clock.now += 1.0
    h.c.fence_expired()
    h.heartbeat(1)
    s = h.partitions("y")[0]
    h.ok(
        "alter_partition",
        broker_id=2,
        broker_epoch=h.epochs[2],
        topic_id=topic_id,
        partition=0,
        leader_epoch=s.leader_epoch,
        partition_epoch=s.partition_epoch,
        new_isr=[1, 2],
    )
    results = h.ok("elect_leaders", election_type=0, partitions=None)["results"]
    assert results == [{"topic": "y", "partition": 0, "error": None, "message": None}]
    assert h.partitions("y")[0].leader == 1


def test_unclean_election_on_request(h: Harness) -> None:
    h.start_brokers(1, 2)
    h.create("z", -1, -1, assignments=[[1, 2]])
    topic_id = h.c.image.topics["z"].topic_id
    h.ok(
        "alter_partition",
        broker_id=1,
        broker_epoch=h.epochs[1],
        topic_id=topic_id,
        partition=0,
        leader_epoch=0,
        partition_epoch=0,
        new_isr=[1],
    )
    h.clock.now += 1.5
    h.heartbeat(2)
    h.clock.now += 1.0
    h.c.fence_expired()
    assert h.partitions("z")[0].leader == -1
    target = [{"topic": "z", "partition": 0}]
    assert h.ok("elect_leaders", election_type=0, partitions=target)["results"][0]["error"] == (
        "PREFERRED_LEADER_NOT_AVAILABLE"
    )
    assert h.ok("elect_leaders", election_type=1, partitions=target)["results"][0]["error"] is None
    assert (h.partitions("z")[0].leader, h.partitions("z")[0].isr) == (2, (2,))
    h.clock.now += 3
    h.c.fence_expired()  # now 2 is gone too
    answer = h.ok("elect_leaders", election_type=1, partitions=target)["results"][0]
    assert answer["error"] == "ELIGIBLE_LEADERS_NOT_AVAILABLE"


def test_alter_configs(h: Harness) -> None:
    h.start_brokers(1)
    h.create("c", 1, 1, configs={"a": "1", "b": "2"})

    def alter(**resource: Any) -> dict:
        spec = {"resource_type": "topic", "name": "c", **resource}
        return h.ok("alter_configs", resources=[spec], validate_only=False)["results"][0]

    assert alter(set={"a": "10"}, delete=["b"])["error"] is None
    assert h.c.image.configs[("topic", "c")] == {"a": "10"}
    end = h.c.metadata_log.end_offset
    assert alter(set={"a": "10"})["error"] is None
    assert h.c.metadata_log.end_offset == end  # no change, no record
    assert alter(set={"x": "1"}, replace=True)["error"] is None
    assert h.c.image.configs[("topic", "c")] == {"x": "1"}
    assert alter(name="nope", set={"x": "1"})["error"] == "UNKNOWN_TOPIC_OR_PARTITION"
    assert alter(resource_type="group", set={"x": "1"})["error"] == "INVALID_REQUEST"
    cluster = {"resource_type": "broker", "name": "", "set": {"log.retention.ms": "5"}}
    h.ok("alter_configs", resources=[cluster], validate_only=True)
    assert ("broker", "") not in h.c.image.configs
    h.ok("alter_configs", resources=[cluster], validate_only=False)
    assert h.c.image.configs[("broker", "")] == {"log.retention.ms": "5"}


def test_fetch_metadata_long_poll(h: Harness) -> None:
    async def scenario() -> None:
        end = h.c.metadata_log.end_offset
        answer = await h.c.handle({"id": 1, "op": "fetch_metadata", "from_offset": 0})
        assert [r["offset"] for r in answer["records"]] == list(range(end))
        assert answer["end_offset"] == end

        loop = asyncio.get_running_loop()
        started = loop.time()
        waiting = asyncio.create_task(
            h.c.handle({"id": 2, "op": "fetch_metadata", "from_offset": end, "max_wait_ms": 5000})
        )
        await asyncio.sleep(0.05)
        assert not waiting.done()
        h.register(4)  # an append wakes the poll up
        answer = await waiting
        assert loop.time() - started < 1.0
        assert answer["records"][0]["record"]["type"] == "register_broker"

        started = loop.time()
        answer = await h.c.handle(
            {"id": 3, "op": "fetch_metadata", "from_offset": end + 2, "max_wait_ms": 100}
        )
        assert answer["records"] == [] and loop.time() - started >= 0.09
        answer = await h.c.handle({"id": 4, "op": "fetch_metadata", "from_offset": end + 50})
        assert answer["error"] == "OFFSET_OUT_OF_RANGE"

    asyncio.run(scenario())


def test_describe_quorum(h: Harness) -> None:
    h.start_brokers(1)
    h.heartbeat(1)  # reports the offset of the record that unfenced it
    answer = h.ok("describe_quorum")
    assert answer["leader_id"] == 0 and answer["leader_epoch"] == 1
    assert answer["high_watermark"] == h.c.metadata_log.end_offset
    assert [v["id"] for v in answer["voters"]] == [0]
    assert answer["observers"][0]["id"] == 1
    assert answer["observers"][0]["log_end_offset"] == h.c.metadata_log.end_offset


def test_bad_requests(h: Harness) -> None:
    assert h.call("frobnicate")["error"] == "INVALID_REQUEST"
    assert h.call("register", broker_id=1)["error"] == "INVALID_REQUEST"
    assert h.call("register", broker_id="1", host="h", port=1, incarnation="i")["error"] == (
        "INVALID_REQUEST"
    )
    assert h.call("elect_leaders", election_type=2, partitions=None)["error"] == "INVALID_REQUEST"


def test_restart_replays_and_bumps_the_epoch(h: Harness) -> None:
    h.start_brokers(1, 2)
    topic_id = h.create("keep", 2, 2)["topic_id"]
    before = h.c.image
    c = h.restart()
    assert c.epoch == 2 and c.image.controller_epoch == 2
    assert c.cluster_id == "c1"
    assert c.image.topics["keep"].topic_id == topic_id
    assert c.image.topics["keep"].partitions == before.topics["keep"].partitions
    assert c.metadata_log.read(c.metadata_log.end_offset - 1)[0].epoch == 2
    # Registrations live in the log: the brokers' epochs are still valid...
    assert h.heartbeat(1)["fenced"] is False
    # ...and a broker that does not come back is fenced one session later.
    h.clock.now += 2.5
    h.heartbeat(1)
    assert c.fence_expired() == [2]


def test_cluster_id_must_match_the_data_dir(tmp_path: Path) -> None:
    Controller(tmp_path, cluster_id="first").start()
    with pytest.raises(SystemExit):
        Controller(tmp_path, cluster_id="second").start()
