"""Issuers' keys: the operator's side of the trust list.

An issuer (an authority, or a site issuing its own codes) holds an Ed25519 private key in
a file of its own; the hub keeps only the public key (``hub.trust.add_issuer``) and hands
it to every device in the trust list. ``issue_code`` makes a signed gc1 code and its QR
image.
"""

from __future__ import annotations

import base64
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import segno
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Engine

from core.four_checks import Category
from core.protocol import public_key_for
from edge.codes import Colour, gc1
from hub.records import RegistryError
from hub.trust import add_issuer


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
            raise RegistryError(f"cannot read issuer key {path}: {exc}") from exc


def create_issuer(engine: Engine, name: str) -> IssuerSecret:
    """Make an issuer key pair and register its public half with the hub."""
    signing_key = secrets.token_bytes(32)
    kid = add_issuer(engine, name, public_key_for(signing_key))
    return IssuerSecret(issuer=name.strip(), kid=kid, signing_key=base64.b64encode(signing_key).decode())


def issue_code(
    secret: IssuerSecret,
    holder_id: str,
    display_name: str,
    colour: Colour,
    valid_for: timedelta,
    tested_ago: timedelta | None = None,
    vaccinations: int | None = None,
    now: datetime | None = None,
    category: Category | None = None,
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
        category=category,
    )


def write_qr_png(payload: str, path: Path, scale: int = 8) -> Path:
    """A QR image of the payload at error-correction level M (readable on a phone)."""
    segno.make(payload, error="m", micro=False).save(str(path), scale=scale, border=4)
    return path
