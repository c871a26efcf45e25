"""What verifying a code tells the gate, whatever the scheme."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.four_checks import Category
from core.policy import Colour


@dataclass
class CodeResult:
    """The outcome of reading one payload. ``error`` names the first step that failed.

    ``decoded``: the payload was parsed into claims. ``signature_valid``: a trusted key
    signed it (None for schemes without signatures). ``time_valid``: issued-at <= at <=
    expiry (None when unknown). ``holder_id`` is what the pseudonym is computed over; it
    never leaves the device.
    """

    scheme: str
    decoded: bool = False
    signature_valid: bool | None = None
    time_valid: bool | None = None
    claims: dict[str, Any] | None = None
    error: str | None = None
    colour: Colour | None = None
    display_name: str | None = None
    holder_id: bytes | None = None
    issuer_known: bool | None = None
    """False when no key in the trust list matches (as opposed to a bad signature)."""
    revoked: bool = False
    last_test_at: int | None = None
    """Unix seconds of the last negative test the code vouches for, if any."""
    flags: list[str] = field(default_factory=list)
    category: Category | None = None
    """Who the holder is, when the code says (gc1 claim ``cat``): the gate's person kind."""

    def public(self) -> dict[str, Any]:
        """The fields of the ``gatecheck code verify`` contract."""
        return {
            "scheme": self.scheme,
            "decoded": self.decoded,
            "signature_valid": self.signature_valid,
            "time_valid": self.time_valid,
            "claims": self.claims,
            "error": self.error,
        }


class CodeError(Exception):
    """A step of reading a code failed; the message says which and why."""
