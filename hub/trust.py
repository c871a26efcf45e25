"""The trust list as the hub keeps and serves it: issuer keys, signer certificates,
revocations — the tables and all SQL touching them."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Engine, func, insert, select, union_all

from core.trust import IssuerKey, TrustError, TrustList, ed25519_kid, load_certificate, revocation_key
from hub.core.db import issuers, revocations, signer_certs
from hub.records import RegistryError


def build_trust_list(engine: Engine, delivered: bool = True) -> TrustList:
    """The current trust list. ``delivered``: stamped as received now (enrolment); the
    downlink leaves ``fetched_at`` for the device to stamp when it applies the list."""
    with engine.connect() as conn:
        keys = conn.execute(select(issuers.c.name, issuers.c.public_key).order_by(issuers.c.kid)).all()
        certs = conn.scalars(select(signer_certs.c.der).order_by(signer_certs.c.fingerprint)).all()
        revoked = conn.scalars(select(revocations.c.key).order_by(revocations.c.key)).all()
        changes = union_all(
            select(issuers.c.created_at_ms),
            select(signer_certs.c.created_at_ms),
            select(revocations.c.created_at_ms),
        ).subquery()
        version = conn.scalar(select(func.max(changes.c.created_at_ms))) or 0
    now = datetime.now(UTC)
    return TrustList(
        version=version,
        issued_at=now,
        fetched_at=now if delivered else None,
        gc1_keys=[IssuerKey(issuer=k.name, public_key=base64.b64encode(k.public_key).decode()) for k in keys],
        hc1_certs=[base64.b64encode(der).decode() for der in certs],
        revoked=list(revoked),
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def add_issuer(engine: Engine, name: str, public_key: bytes) -> str:
    """Trust a gc1 issuer's Ed25519 public key; returns its key id (hex)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise RegistryError("issuer name must be 1 to 100 characters")
    kid = ed25519_kid(public_key).hex()
    with engine.begin() as conn:
        conn.execute(
            insert(issuers).values(kid=kid, name=name, public_key=public_key, created_at_ms=_now_ms())
        )
    return kid


def add_signer_certificate(engine: Engine, data: bytes) -> str:
    """Trust an EU DCC document signer certificate (PEM or DER); returns its key id."""
    try:
        cert = load_certificate(data)
    except TrustError as exc:
        raise RegistryError(str(exc)) from exc
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
