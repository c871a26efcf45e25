"""The trust list as the hub serves it: issuer keys, signer certificates, revocations."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select, union_all

from edge.trust import IssuerKey, TrustList
from hub.core.db import issuers, revocations, signer_certs


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
