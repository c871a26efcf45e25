"""The wire protocol between a device's sync agent and the hub — defined once, here.

Both ``sync`` and ``hub`` import this module; nothing else defines what crosses the wire.
See docs/protocol.md for the prose version.

A device uploads its checks in batches keyed by (device id, seq). The batch states the
highest seq the device believes the hub already holds (``after_seq``) and carries every
check after it, in order, so the hub can tell a complete continuation from a gap. The hub
answers with the highest seq up to which it holds *everything* (``acked_seq``); the device
advances its high-water mark to exactly that number and nothing else.

Requests are signed with the device's Ed25519 key over a canonical string (method, path,
timestamp, nonce, SHA-256 of the body), so a stolen hub database cannot forge uploads.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION = 1
INGEST_PATH = "/api/v1/ingest"
MAX_BATCH_CHECKS = 5000
"""Hard cap the hub accepts in one batch; the agent sends far fewer by default."""

HEADER_DEVICE = "X-Gatecheck-Device"
HEADER_TIMESTAMP = "X-Gatecheck-Timestamp"
HEADER_NONCE = "X-Gatecheck-Nonce"
HEADER_SIGNATURE = "X-Gatecheck-Signature"

Verdict = Literal["admit", "deny", "remeasure", "manual"]
TempSource = Literal["sensor", "manual", "none"]


class CheckIn(BaseModel):
    """One check as the device recorded it. Times are the device's own clocks."""

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=1, description="Per-device sequence number, never reused.")
    gate: str = Field(min_length=1, max_length=64)
    wall_ms: int = Field(description="Device wall clock, ms since the Unix epoch (UTC).")
    mono_ms: int = Field(ge=0, description="Device monotonic clock (since boot), ms.")
    boot_id: str = Field(min_length=1, max_length=64, description="Kernel boot id.")
    verdict: Verdict
    reason: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="Stable reason code.")
    temp_c: float | None = Field(None, ge=-50.0, le=150.0)
    temp_source: TempSource = Field(description="'manual' when a guard typed the reading.")
    scheme: str | None = Field(None, max_length=16, description="Health-code scheme.")
    holder: str | None = Field(None, max_length=64, description="Keyed pseudonym, never an id.")
    flags: list[str] = Field(
        default_factory=list, max_length=8, description="Conditions such as clock_unset, trust_stale."
    )


class BatchIn(BaseModel):
    """A run of consecutive checks from one device."""

    model_config = ConfigDict(extra="forbid")

    protocol: int = Field(PROTOCOL_VERSION)
    device_id: str
    after_seq: int = Field(ge=0, description="Every check with seq <= this was acked before.")
    boot_id: str = Field(description="Boot id of the device when it sent the batch.")
    sent_wall_ms: int = Field(description="Device wall clock at send time.")
    sent_mono_ms: int = Field(ge=0, description="Device monotonic clock at send time.")
    software: str = Field("", max_length=32, description="Device software version.")
    checks: list[CheckIn] = Field(max_length=MAX_BATCH_CHECKS)


class BatchAck(BaseModel):
    """The hub's answer: how far the device may advance."""

    acked_seq: int = Field(description="Highest seq up to which the hub holds every check.")
    stored: int = Field(description="Checks newly stored from this batch.")
    duplicates: int = Field(description="Checks in this batch the hub already had.")


def _canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, timestamp, nonce, digest]).encode()


def sign_request(signing_key: bytes, device_id: str, method: str, path: str, body: bytes) -> dict[str, str]:
    """Headers that authenticate one request from a device."""
    timestamp = str(int(time.time()))
    nonce = secrets.token_urlsafe(16)
    key = Ed25519PrivateKey.from_private_bytes(signing_key)
    signature = key.sign(_canonical(method, path, timestamp, nonce, body))
    return {
        HEADER_DEVICE: device_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }


def verify_request(
    public_key: bytes,
    method: str,
    path: str,
    timestamp: str,
    nonce: str,
    signature_b64: str,
    body: bytes,
) -> bool:
    """True when the signature was made by the holder of ``public_key`` over this request."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, _canonical(method, path, timestamp, nonce, body)
        )
    except (ValueError, InvalidSignature):
        return False
    return True


def public_key_for(signing_key: bytes) -> bytes:
    """The raw 32-byte public key matching a device's signing key."""
    return (
        Ed25519PrivateKey.from_private_bytes(signing_key)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
