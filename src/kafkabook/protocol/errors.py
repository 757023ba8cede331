"""Kafka error codes (re-exported from kio) and a user-facing exception carrying one."""

from __future__ import annotations

from kio.schema.errors import ErrorCode

__all__ = ["ErrorCode", "KafkaError"]


class KafkaError(Exception):
    """An error a handler answers with: the Kafka error code and an optional message.

    >>> KafkaError(ErrorCode.invalid_topic_exception, "bad name").code.value
    17
    """

    def __init__(self, code: ErrorCode, message: str | None = None) -> None:
        super().__init__(message or code.name)
        self.code = code
        self.message = message
