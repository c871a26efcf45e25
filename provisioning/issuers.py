"""Issuer keys, signer certificates, revocations: what goes into devices' trust lists.

An issuer (an authority, or a site issuing its own codes) holds an Ed25519 private key in
a file of its own; the hub keeps only the public key and hands it to every device in the
trust list. ``issue_code`` makes a signed gc1 code and its QR image.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import segno
from cryptography.hazmat.primitives.serialization import Encoding
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Engine, insert, select

from edge.codes import Colour, gc1
from edge.trust import TrustError, ed25519_kid, load_certificate, revocation_key
from hub.core.db import issuers, revocations, signer_certs
from provisioning.errors import ProvisioningError
from sync.protocol import public_key_for


class IssuerSecret(BaseModel):
    """An issuer's private key file."""

    model_config = ConfigDict(extra="forbid")

    issuer: str
    kid: str
    signing_key: str

    @property
    def signing_key_bytes(self) -> bytes:
        return base64.b64decode(self.signing_key)

    def save(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.model_dump_json(indent=2))

    @classmethod
    def load(cls, path: Path) -> IssuerSecret:
        try:
            return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValidationError) as exc:
            raise ProvisioningError(f"cannot read issuer key {path}: {exc}") from exc


def _now_ms() -> int:
    return int(time.time() * 1000)


def create_issuer(engine: Engine, name: str) -> IssuerSecret:
    """Make an issuer key pair and register its public half with the hub."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ProvisioningError("issuer name must be 1 to 100 characters")
    signing_key = secrets.token_bytes(32)
    public = public_key_for(signing_key)
    kid = ed25519_kid(public).hex()
    with engine.begin() as conn:
        conn.execute(insert(issuers).values(kid=kid, name=name, public_key=public, created_at_ms=_now_ms()))
    return IssuerSecret(issuer=name, kid=kid, signing_key=base64.b64encode(signing_key).decode())


def add_signer_certificate(engine: Engine, data: bytes) -> str:
    """Trust an EU DCC document signer certificate (PEM or DER); returns its key id."""
    try:
        cert = load_certificate(data)
    except TrustError as exc:
        raise ProvisioningError(str(exc)) from exc
    der = cert.public_bytes(Encoding.DER)
    fingerprint = hashlib.sha256(der).hexdigest()
    with engine.begin() as conn:
        if conn.scalar(select(signer_certs.c.fingerprint).where(signer_certs.c.fingerprint == fingerprint)):
            return fingerprint[:16]
        conn.execute(insert(signer_certs).values(fingerprint=fingerprint, der=der, created_at_ms=_now_ms()))
    return fingerprint[:16]


def revoke_code(engine: Engine, scheme: str, identifier: str) -> str:
    """Revoke one code (gc1: its code id; hc1: its certificate identifier)."""
    key = revocation_key(scheme, identifier)
    with engine.begin() as conn:
        if not conn.scalar(select(revocations.c.key).where(revocations.c.key == key)):
            conn.execute(insert(revocations).values(key=key, created_at_ms=_now_ms()))
    return key


def issue_code(
    secret: IssuerSecret,
    holder_id: str,
    display_name: str,
    colour: Colour,
    valid_for: timedelta,
    tested_ago: timedelta | None = None,
    vaccinations: int | None = None,
    now: datetime | None = None,
) -> str:
    """A signed gc1 payload for one person."""
    now = now or datetime.now(UTC)
    return gc1.issue(
        secret.signing_key_bytes,
        secret.issuer,
        holder_id,
        display_name,
        colour,
        issued_at=now,
        expires_at=now + valid_for,
        last_test_at=now - tested_ago if tested_ago is not None else None,
        vaccinations=vaccinations,
    )


def write_qr_png(payload: str, path: Path, scale: int = 8) -> Path:
    """A QR image of the payload at error-correction level M (readable on a phone)."""
    segno.make(payload, error="m", micro=False).save(str(path), scale=scale, border=4)
    return path
