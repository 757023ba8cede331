"""An IPython shell with the kafkabook magics, plus the API fixtures (tests/api/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

# tests/ is on sys.path (pytest puts the first directory above a package there), so the
# sibling package `api` holds the fixtures both suites share.
from api.conftest import isolated_session, kb_cluster, unique  # noqa: F401


@pytest.fixture(scope="session")
def shell() -> Iterator[InteractiveShell]:
    """One InteractiveShell (history off) with ``%load_ext kafkabook`` done.

    ``run_line_magic``/``run_cell_magic`` raise whatever the magic raises, so tests see the
    UsageError or KafkabookError itself.
    """
    config = Config()
    config.HistoryAccessor.enabled = False
    config.HistoryManager.enabled = False
    ip = InteractiveShell.instance(config=config)
    ip.run_line_magic("load_ext", "kafkabook")
    yield ip


@pytest.fixture
def ip(shell: InteractiveShell, isolated_session: object) -> InteractiveShell:  # noqa: F811
    return shell
