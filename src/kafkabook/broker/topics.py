"""Kafka's topic-name rules, shared by the broker's handlers and the controller.

>>> topic_name_error("orders")
>>> topic_name_error("bad name!").startswith('Topic name "bad name!" is illegal')
True
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 249
_LEGAL = re.compile(r"[a-zA-Z0-9._-]+")


def topic_name_error(name: str | None) -> str | None:
    """Why `name` is not a legal topic name (Kafka's message), or None when it is legal."""
    if not name:
        return "Topic name is illegal, it can't be empty"
    if name in (".", ".."):
        return 'Topic name cannot be "." or ".."'
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"Topic name is illegal, it can't be longer than {MAX_NAME_LENGTH} characters, "
            f"topic name: {name}"
        )
    if not _LEGAL.fullmatch(name):
        return (
            f'Topic name "{name}" is illegal, it contains a character other than ASCII '
            "alphanumerics, '.', '_' and '-'"
        )
    return None


def collides(a: str, b: str) -> bool:
    """Topics whose names differ only by '.' versus '_' collide: Kafka's metric names replace
    '.' by '_', so "a.b" and "a_b" would share metrics (INVALID_TOPIC_EXCEPTION)."""
    return a != b and a.replace(".", "_") == b.replace(".", "_")
