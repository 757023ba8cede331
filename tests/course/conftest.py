"""The course tests: notebooks clean, the checker, and the lessons executed top to bottom.

``course``-marked tests build a fresh virtual environment from binder/requirements.txt, as
Binder does; they take minutes and are skipped unless selected: ``make binder`` (CI runs it),
``pytest -m course tests/course`` or ``KAFKABOOK_COURSE_BINDER=1``. The rest run with the
normal suite.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "course: builds a fresh venv from binder/ and runs the course in it (slow)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = "course" in (config.getoption("-m") or "") or os.environ.get(
        "KAFKABOOK_COURSE_BINDER", ""
    ) not in ("", "0")
    if wanted:
        return
    skip = pytest.mark.skip(reason="slow Binder check: run with -m course")
    for item in items:
        if "course" in item.keywords and item.get_closest_marker("course") is not None:
            item.add_marker(skip)
