"""Fixtures for the API and magics tests: an isolated session on the shared bundled cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkabook.api import session as session_mod
from kafkabook.api.cluster import Cluster
from kafkabook.backends.bundled import BundledBackend


@pytest.fixture(autouse=True)
def isolated_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[session_mod.Session]:
    """Every test starts without a current cluster and remembers into its own file."""
    monkeypatch.setenv(session_mod.SESSION_FILE_ENV, str(tmp_path / "session.json"))
    monkeypatch.delenv("KAFKABOOK_DEBUG", raising=False)
    current = session_mod.current()
    current.close_clients()
    current.cluster = None
    yield current
    current.close_clients()
    current.cluster = None


@pytest.fixture
def kb_cluster(
    bundled_cluster: BundledBackend, isolated_session: session_mod.Session
) -> BundledBackend:
    """The shared 3-broker bundled cluster, made the session's current cluster."""
    isolated_session.use(Cluster(BundledBackend(data_dir=bundled_cluster.data_dir)))
    return bundled_cluster


@pytest.fixture
def unique() -> Iterator[str]:
    """A fresh name per call: topics and groups of one test never meet another's."""
    import itertools
    import uuid

    prefix = uuid.uuid4().hex[:6]
    counter = itertools.count()

    def make(stem: str = "t") -> str:
        return f"{stem}-{prefix}-{next(counter)}"

    return make  # type: ignore[return-value]
