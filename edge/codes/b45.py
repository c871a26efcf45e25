"""Base45 (RFC 9285) for QR alphanumeric mode, with errors named as a decoding step."""

from __future__ import annotations

import base45

from edge.codes.result import CodeError


def encode(data: bytes) -> str:
    return str(base45.b45encode(data).decode("ascii"))


def decode(text: str) -> bytes:
    try:
        return bytes(base45.b45decode(text))
    except Exception as exc:  # the base45 package raises ValueError and friends
        raise CodeError(f"base45: {exc}") from exc
