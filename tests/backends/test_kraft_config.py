"""KRaft configuration generation: pure functions, no Kafka needed."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkabook.backends.kraft import (
    FAST_FAILOVER,
    KraftCluster,
    KraftNode,
    Listener,
    default_controller_ids,
    directory_id,
    is_valid_cluster_id,
    new_cluster_id,
    parse_properties,
    plan_local_cluster,
    render_properties,
    replication_defaults,
)

CID = "MkU3OEVBNTcwNTJENDM2Qg"


def plan(**kw):
    brokers = kw.pop("brokers", 3)
    mode = kw.get("mode", "combined")
    controllers = kw.get("controllers") or (3 if mode == "combined" and brokers >= 3 else 1)
    return plan_local_cluster(
        brokers=brokers,
        broker_ports=[9000 + i for i in range(brokers)],
        controller_ports=[9500 + i for i in range(controllers)],
        data_dir="/data",
        cluster_id=CID,
        **kw,
    )


def test_combined_three_brokers():
    cluster = plan()
    assert [n.node_id for n in cluster.nodes] == [1, 2, 3]
    assert all(n.roles == ("broker", "controller") for n in cluster.nodes)
    p = cluster.properties(2)
    assert p["node.id"] == "2"
    assert p["process.roles"] == "broker,controller"
    assert p["listeners"] == "PLAINTEXT://127.0.0.1:9001,CONTROLLER://127.0.0.1:9501"
    assert p["advertised.listeners"] == p["listeners"]
    assert p["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert p["inter.broker.listener.name"] == "PLAINTEXT"
    assert p["controller.listener.names"] == "CONTROLLER"
    assert p["controller.quorum.voters"] == ("1@127.0.0.1:9500,2@127.0.0.1:9501,3@127.0.0.1:9502")
    assert "controller.quorum.bootstrap.servers" not in p
    assert p["log.dirs"] == "/data/node-2"
    assert p["offsets.topic.replication.factor"] == "3"
    assert p["transaction.state.log.replication.factor"] == "3"
    assert p["transaction.state.log.min.isr"] == "2"
    assert p["group.initial.rebalance.delay.ms"] == "0"
    assert "broker.session.timeout.ms" not in p
    assert cluster.bootstrap_servers() == "127.0.0.1:9000,127.0.0.1:9001,127.0.0.1:9002"
    assert cluster.format_args(2) == ["--cluster-id", CID, "--ignore-formatted"]


def test_combined_five_brokers_has_three_voters_by_default():
    cluster = plan(brokers=5)
    assert [n.node_id for n in cluster.controllers] == [1, 2, 3]
    assert cluster.properties(5)["process.roles"] == "broker"
    assert "CONTROLLER" not in cluster.properties(5)["listeners"]
    # Pure brokers still need to know how to reach and speak to the controllers.
    assert cluster.properties(5)["controller.listener.names"] == "CONTROLLER"
    assert "CONTROLLER:PLAINTEXT" in cluster.properties(5)["listener.security.protocol.map"]
    assert cluster.properties(5)["controller.quorum.voters"].count("@") == 3


@pytest.mark.parametrize(
    ("brokers", "rf", "min_isr"), [(1, "1", "1"), (2, "2", "2"), (3, "3", "2"), (7, "3", "2")]
)
def test_replication_factors_follow_the_broker_count(brokers, rf, min_isr):
    d = replication_defaults(brokers)
    assert d["offsets.topic.replication.factor"] == rf
    assert d["transaction.state.log.replication.factor"] == rf
    assert d["transaction.state.log.min.isr"] == min_isr
    assert d["share.coordinator.state.topic.replication.factor"] == rf
    assert plan(brokers=brokers).properties(1)["offsets.topic.replication.factor"] == rf


def test_replication_defaults_reject_zero_brokers():
    with pytest.raises(ValueError):
        replication_defaults(0)


def test_separate_single_controller_is_node_zero():
    cluster = plan(brokers=2, mode="separate")
    assert [(n.node_id, n.roles) for n in cluster.nodes] == [
        (0, ("controller",)),
        (1, ("broker",)),
        (2, ("broker",)),
    ]
    c = cluster.properties(0)
    assert c["process.roles"] == "controller"
    assert c["listeners"] == "CONTROLLER://127.0.0.1:9500"
    assert "inter.broker.listener.name" not in c
    b = cluster.properties(1)
    assert b["process.roles"] == "broker"
    assert b["listeners"] == "PLAINTEXT://127.0.0.1:9000"
    assert b["controller.quorum.voters"] == "0@127.0.0.1:9500"
    assert cluster.bootstrap_servers() == "127.0.0.1:9000,127.0.0.1:9001"


def test_separate_three_controllers():
    cluster = plan(brokers=3, mode="separate", controllers=3)
    assert [n.node_id for n in cluster.controllers] == [1001, 1002, 1003]
    assert default_controller_ids("separate", 3, 3) == [1001, 1002, 1003]
    assert default_controller_ids("combined", 3, 1) == [1]
    assert cluster.properties(1)["controller.quorum.voters"].startswith("1001@127.0.0.1:9500,")


def test_dynamic_quorum():
    cluster = plan(brokers=2, mode="separate", quorum="dynamic")
    assert "controller.quorum.voters" not in cluster.properties(1)
    assert cluster.properties(1)["controller.quorum.bootstrap.servers"] == "127.0.0.1:9500"
    ctl = cluster.format_args(0)
    assert ctl[:3] == ["--cluster-id", CID, "--ignore-formatted"]
    assert ctl[3] == "--initial-controllers"
    assert ctl[4] == f"0@127.0.0.1:9500:{directory_id(CID, 0)}"
    assert cluster.format_args(1)[3:] == ["--no-initial-controllers"]


def test_fast_failover_and_override_layers():
    cluster = plan(
        fast_failover=True,
        overrides={"broker.session.timeout.ms": "4000", "num.partitions": "6"},
        node_overrides={2: {"num.partitions": "2", "broker.rack": "b"}},
    )
    p1, p2 = cluster.properties(1), cluster.properties(2)
    assert p1["broker.heartbeat.interval.ms"] == FAST_FAILOVER["broker.heartbeat.interval.ms"]
    assert p1["replica.lag.time.max.ms"] == "5000"
    assert p1["broker.session.timeout.ms"] == "4000"  # cluster override beats fast_failover
    assert p1["num.partitions"] == "6"
    assert p2["num.partitions"] == "2"  # node override beats cluster override
    assert p2["broker.rack"] == "b"
    assert "broker.rack" not in p1
    # A heartbeat must come well within the session timeout, or brokers flap.
    assert int(FAST_FAILOVER["broker.heartbeat.interval.ms"]) * 3 <= int(
        FAST_FAILOVER["broker.session.timeout.ms"]
    )


def test_overrides_can_replace_generated_settings():
    cluster = plan(overrides={"offsets.topic.replication.factor": "1"})
    assert cluster.properties(3)["offsets.topic.replication.factor"] == "1"


def test_container_shape_advertises_other_names_than_it_binds():
    """What the testcontainers backend needs: bind 0.0.0.0, advertise network aliases to peers
    and 127.0.0.1:<mapped port> to the host."""
    nodes = tuple(
        KraftNode(
            node_id=i,
            roles=("broker", "controller"),
            listeners=(
                Listener("INTERNAL", 19092, "0.0.0.0", advertised_host=f"kafka-{i}"),
                Listener("EXTERNAL", 9092, "0.0.0.0", "127.0.0.1", 30000 + i),
                Listener("CONTROLLER", 9093, "0.0.0.0", advertised_host=f"kafka-{i}"),
            ),
            log_dir="/var/lib/kafka/data",
        )
        for i in (1, 2)
    )
    cluster = KraftCluster(
        cluster_id=CID, nodes=nodes, inter_broker_listener="INTERNAL", client_listener="EXTERNAL"
    )
    p = cluster.properties(2)
    assert p["listeners"] == (
        "INTERNAL://0.0.0.0:19092,EXTERNAL://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093"
    )
    assert p["advertised.listeners"] == (
        "INTERNAL://kafka-2:19092,EXTERNAL://127.0.0.1:30002,CONTROLLER://kafka-2:9093"
    )
    assert p["inter.broker.listener.name"] == "INTERNAL"
    assert p["controller.quorum.voters"] == "1@kafka-1:9093,2@kafka-2:9093"
    assert cluster.bootstrap_servers() == "127.0.0.1:30001,127.0.0.1:30002"
    assert cluster.bootstrap_servers("INTERNAL") == "kafka-1:19092,kafka-2:19092"


def test_ipv6_hosts_are_bracketed():
    li = Listener("PLAINTEXT", 9092, "::1")
    assert li.bind_uri == "PLAINTEXT://[::1]:9092"
    assert li.address == "[::1]:9092"


def test_security_protocols_per_listener():
    node = KraftNode(
        1,
        ("broker", "controller"),
        (
            Listener("SASL", 9092, protocol="SASL_SSL"),
            Listener("REPL", 9094),
            Listener("CONTROLLER", 9093),
        ),
        "/d",
    )
    cluster = KraftCluster(CID, (node,), inter_broker_listener="REPL", client_listener="SASL")
    assert cluster.properties(1)["listener.security.protocol.map"] == (
        "SASL:SASL_SSL,REPL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"brokers": 0}, "at least one broker"),
        ({"mode": "mixed"}, "mode must be"),
        ({"controllers": 4}, "only 3 brokers"),
        ({"controllers": 0}, "at least one controller"),
    ],
)
def test_plan_rejects_impossible_shapes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plan_local_cluster(
            broker_ports=[1, 2, 3],
            controller_ports=[4],
            data_dir="/d",
            **{"brokers": 3, **kwargs},
        )


def test_plan_rejects_wrong_port_counts_and_repeats():
    with pytest.raises(ValueError, match="3 broker ports"):
        plan_local_cluster(
            brokers=3, broker_ports=[1, 2], controller_ports=[4, 5, 6], data_dir="/d"
        )
    with pytest.raises(ValueError, match="controller ports"):
        plan_local_cluster(brokers=1, broker_ports=[1], controller_ports=[4, 5], data_dir="/d")
    with pytest.raises(ValueError, match="ports repeat"):
        plan_local_cluster(brokers=1, broker_ports=[1], controller_ports=[1], data_dir="/d")
    with pytest.raises(ValueError, match="unknown nodes"):
        plan(node_overrides={9: {"a": "b"}})


def test_cluster_validation():
    b = KraftNode(1, ("broker",), (Listener("PLAINTEXT", 1),), "/d")
    c = KraftNode(2, ("controller",), (Listener("CONTROLLER", 2),), "/d")
    with pytest.raises(ValueError, match="at least one controller"):
        KraftCluster(CID, (b,))
    with pytest.raises(ValueError, match="at least one broker"):
        KraftCluster(CID, (c,))
    with pytest.raises(ValueError, match="repeat"):
        KraftCluster(CID, (b, KraftNode(1, ("controller",), (Listener("CONTROLLER", 3),), "/d")))
    with pytest.raises(ValueError, match="cluster id"):
        KraftCluster("not-an-id", (b, c))
    with pytest.raises(ValueError, match="no PLAINTEXT listener"):
        KraftCluster(CID, (KraftNode(1, ("broker",), (Listener("OTHER", 1),), "/d"), c))
    with pytest.raises(ValueError, match="two security protocols"):
        KraftCluster(
            CID,
            (b, c, KraftNode(3, ("broker",), (Listener("PLAINTEXT", 4, protocol="SSL"),), "/d")),
        ).properties(1)
    with pytest.raises(ValueError, match="roles"):
        KraftNode(1, ("observer",), (), "/d")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="listener name"):
        Listener("plain", 1)
    with pytest.raises(ValueError, match="security protocol"):
        Listener("X", 1, protocol="TLS")
    with pytest.raises(KeyError):
        KraftCluster(CID, (b, c)).properties(7)


def test_cluster_ids():
    for _ in range(200):
        cid = new_cluster_id()
        assert is_valid_cluster_id(cid), cid
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16
    assert is_valid_cluster_id(CID)
    assert not is_valid_cluster_id("")
    assert not is_valid_cluster_id("AAAAAAAAAAAAAAAAAAAAAA")  # the zero Uuid
    assert not is_valid_cluster_id("-" + CID[1:])
    assert not is_valid_cluster_id(CID + "A")
    assert not is_valid_cluster_id("!" * 22)


def test_directory_ids_are_stable_distinct_and_valid():
    ids = {directory_id(CID, n) for n in range(50)}
    assert len(ids) == 50
    assert directory_id(CID, 3) == directory_id(CID, 3)
    assert directory_id(CID, 3) != directory_id(new_cluster_id(), 3)
    assert all(is_valid_cluster_id(i) for i in ids)


def test_render_properties_text():
    text = render_properties({"a.b": "x", "listeners": "P://h:1"}, header="hello\nworld")
    assert text == "# hello\n# world\na.b=x\nlisteners=P://h:1\n"
    assert plan().server_properties(1).startswith(f"# kafkabook: node 1 of cluster {CID}\n")
    assert parse_properties(plan().server_properties(1)) == plan().properties(1)


def test_parse_properties_java_syntax():
    text = (
        "# comment\n! also comment\n\n"
        "  spaced   =  value  \n"
        "colon:v\n"
        "space v w\n"
        "multi=one,\\\n    two\n"
        "esc=a\\tb\\u00e9\\\\\n"
        "key\\=with\\:odd=1\n"
        "empty=\n"
    )
    assert parse_properties(text) == {
        "spaced": "value  ",
        "colon": "v",
        "space": "v w",
        "multi": "one,two",
        "esc": "a\tbé\\",
        "key=with:odd": "1",
        "empty": "",
    }


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=20),
        st.text(max_size=40),
        max_size=8,
    )
)
def test_render_then_parse_round_trips(props):
    text = render_properties(props)
    assert text.isascii()
    assert parse_properties(text) == props
