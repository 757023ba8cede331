"""Fixtures of the group tests, and a switch to run them against real Apache Kafka.

``breakable`` is a private 3-broker bundled cluster for tests that SIGKILL brokers.

With ``KAFKABOOK_GROUPS_ORACLE=1`` (and Java and the Kafka jars, see tests/oracle), the tests of
this directory get 3-broker JVM Kafka clusters instead, as ``bundled_cluster`` and
``breakable``, configured like the bundled defaults the tests rely on. Every answer the tests
expect from the bundled cluster is then checked against Kafka itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

ORACLE = bool(os.environ.get("KAFKABOOK_GROUPS_ORACLE"))

if ORACLE:
    from kafkabook.backends.base import BackendError
    from kafkabook.backends.jvm import JvmBackend, default_jars_dir, find_java, find_kafka_jar

    def _jvm(tmp_path_factory: pytest.TempPathFactory, fast_failover: bool) -> JvmBackend:
        try:
            find_java()
            find_kafka_jar(default_jars_dir())
        except BackendError as exc:
            pytest.skip(f"no real Kafka to compare with: {exc}")
        backend = JvmBackend(
            tmp_path_factory.mktemp("groups-jvm"),
            brokers=3,
            jars_dir=default_jars_dir(),
            configs={"group.initial.rebalance.delay.ms": "0"},
            fast_failover=fast_failover,
        )
        backend.up()
        return backend

    @pytest.fixture(scope="session")
    def bundled_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
        backend = _jvm(tmp_path_factory, fast_failover=False)
        yield backend
        backend.down()

    @pytest.fixture(scope="module")
    def breakable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
        backend = _jvm(tmp_path_factory, fast_failover=True)
        yield backend
        backend.down()

else:

    @pytest.fixture(scope="module")
    def breakable(bundled_cluster_factory: Any) -> Any:
        return bundled_cluster_factory(brokers=3, fresh=True)
