"""The device bundle: the one file a gate device needs to work and to sync.

Provisioning writes it; the edge and the sync agent read it. It holds secrets (the
device's signing key and the site's pseudonym key), so it is written owner-only.
"""

from __future__ import annotations

import base64
import os
import ssl
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from core.policy import Policy
from core.trust import TrustList

BUNDLE_VERSION = 1


class BundleError(Exception):
    """The device bundle is missing or invalid."""


def _b64_32(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValueError("must be base64") from exc
    if len(raw) != 32:
        raise ValueError("must decode to 32 bytes")
    return value


Key32 = Annotated[str, AfterValidator(_b64_32)]


class DeviceBundle(BaseModel):
    """Everything a device is told at enrolment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bundle_version: int = Field(BUNDLE_VERSION, description="Format version of this file.")
    device_id: str = Field(description="Hub-assigned device id; part of every check's key.")
    site_id: str = Field(description="The site this device reports for.")
    site_name: str = Field(description="Shown on the kiosk.")
    timezone: str = Field(description="The site's IANA timezone (reports use local days).")
    gate: str = Field(description="Name of the entrance this device watches.")
    hub_url: str = Field(description="Base URL of the hub, e.g. https://hub.example:8443.")
    signing_key: Key32 = Field(description="Ed25519 private key seed that signs uploads.")
    pseudonym_key: Key32 = Field(
        description="Site-wide HMAC key: holders get the same pseudonym at every gate."
    )
    ca_cert: str | None = Field(None, description="PEM of the site CA the hub's TLS certificate chains to.")
    policy: Policy = Field(default_factory=Policy, description="The site's gate rules.")
    policy_version: int = Field(
        1, ge=1, description="Their version at enrolment (the downlink updates them)."
    )
    trust: TrustList = Field(default_factory=TrustList, description="Keys that may sign codes.")

    def tls_verify(self) -> ssl.SSLContext | bool:
        """How to check the hub's certificate: against the site's CA from the bundle (HTTPS
        with a private CA), else the system's store."""
        if self.ca_cert:
            return ssl.create_default_context(cadata=self.ca_cert)
        return True

    @property
    def signing_key_bytes(self) -> bytes:
        return base64.b64decode(self.signing_key)

    @property
    def pseudonym_key_bytes(self) -> bytes:
        return base64.b64decode(self.pseudonym_key)

    def save(self, path: Path) -> None:
        """Write the bundle owner-readable only, atomically (no half-written secrets)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.model_dump_json(indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> DeviceBundle:
        """Read a bundle, turning every failure into a message a technician can act on."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise BundleError(
                f"cannot read device bundle {path}: {exc.strerror}. "
                "Enrol the device with 'gatecheck provision device enrol'."
            ) from exc
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise BundleError(f"invalid device bundle {path}: {exc}") from exc
