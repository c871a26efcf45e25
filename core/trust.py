"""The trust list: which keys may sign health codes, and which codes are revoked.

A gate that is offline for days can only trust what it can verify itself, so the list is
held on the device, versioned, and stamped with when it was fetched; the policy decides
what to do once it is older than the site allows. The hub builds it, provisioning adds
to it, the gate indexes it for verification (``edge.trust.TrustStore``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field


def revocation_key(scheme: str, identifier: str) -> str:
    """How a revoked code is listed: a hash, so the list names no one."""
    return hashlib.sha256(f"{scheme}:{identifier}".encode()).hexdigest()[:32]


def cert_kid(der: bytes) -> bytes:
    """EU DCC key id: the first 8 bytes of SHA-256 of the signer certificate (DER)."""
    return hashlib.sha256(der).digest()[:8]


def ed25519_kid(public_key: bytes) -> bytes:
    """gc1 key id: the first 8 bytes of SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(public_key).digest()[:8]


class IssuerKey(BaseModel):
    """A gc1 issuer's Ed25519 public key."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(description="Issuer name, as in the code's 'iss' claim.")
    public_key: str = Field(description="Raw 32-byte Ed25519 public key, base64.")


class TrustList(BaseModel):
    """What the hub (or provisioning) tells a device to trust."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(0, ge=0, description="Increases with every change at the hub.")
    issued_at: datetime | None = Field(None, description="When the hub built this list.")
    fetched_at: datetime | None = Field(None, description="When the device received it.")
    gc1_keys: list[IssuerKey] = Field(default_factory=list)
    hc1_certs: list[str] = Field(default_factory=list, description="Signer certificates, base64 DER.")
    revoked: list[str] = Field(default_factory=list, description="revocation_key() of revoked codes.")

    def age_hours(self, now: datetime) -> float | None:
        """Hours since the device received the list; None if it never did."""
        if self.fetched_at is None:
            return None
        return (now - self.fetched_at).total_seconds() / 3600


class TrustError(Exception):
    """A certificate or key in a trust list cannot be loaded."""


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER bytes."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise TrustError(f"not an X.509 certificate (PEM or DER): {exc}") from exc
