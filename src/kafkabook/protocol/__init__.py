"""Sans-io Kafka protocol glue around kio's generated types: framing, headers, versions."""

from .build import build
from .errors import ErrorCode
from .framing import RequestFrame, decode_request, decode_response, encode_request, encode_response

__all__ = [
    "ErrorCode",
    "RequestFrame",
    "build",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
]
