"""``gc1``: gatecheck's own signed health code (format: docs/gc1.md).

``GC1:`` + base45( body || signature ), where body is a CBOR array of claims in fixed
positions and signature is Ed25519 over ``b"GC1\\x00" + body`` (64 bytes). Positional
claims and base45 (QR alphanumeric mode) keep a code at QR version 9-M or smaller.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from datetime import datetime
from typing import Any, cast

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.four_checks import CATEGORIES, Category
from core.policy import Colour
from core.trust import ed25519_kid, revocation_key
from edge.codes import b45
from edge.codes.result import CodeError, CodeResult
from edge.trust import TrustStore

SCHEME = "gc1"
PREFIX = b"GC1:"
VERSION = 1
SIGNATURE_DOMAIN = b"GC1\x00"
SIGNATURE_BYTES = 64
COLOURS: tuple[Colour, ...] = ("green", "yellow", "red")
FIELDS = ("v", "iss", "kid", "cid", "sub", "name", "col", "iat", "exp", "tst", "vac")
OPTIONAL_FIELDS = ("cat",)
"""Claims a later issuer may append (docs/gc1.md); a code may end before them."""


def matches(payload: bytes) -> bool:
    return payload.startswith(PREFIX)


def resembles(payload: bytes) -> bool:
    """gc1 content under a wrong prefix: base45 of a signed version-1 claims array."""
    _, _, rest = payload.partition(b":")
    try:
        _parse(PREFIX + rest)
    except CodeError:
        return False
    return True


def subject_pseudonym(signing_key: bytes, holder_id: str) -> bytes:
    """The issuer's pseudonym for a person: stable per issuer, 16 bytes, not reversible."""
    subject_key = hmac.new(signing_key, b"gc1-subject", hashlib.sha256).digest()
    return hmac.new(subject_key, holder_id.encode(), hashlib.sha256).digest()[:16]


def issue(
    signing_key: bytes,
    issuer: str,
    holder_id: str,
    display_name: str,
    colour: Colour,
    issued_at: datetime,
    expires_at: datetime,
    last_test_at: datetime | None = None,
    vaccinations: int | None = None,
    category: Category | None = None,
) -> str:
    """A signed gc1 payload, ready to put in a QR code (``category``: claim 11, appended
    only when given, so codes without it stay byte-for-byte what they were)."""
    if expires_at <= issued_at:
        raise ValueError("expiry must be after issue time")
    key = Ed25519PrivateKey.from_private_bytes(signing_key)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    claims = [
        VERSION,
        issuer,
        ed25519_kid(public),
        secrets.token_bytes(8),
        subject_pseudonym(signing_key, holder_id),
        display_name,
        COLOURS.index(colour),
        int(issued_at.timestamp()),
        int(expires_at.timestamp()),
        int(last_test_at.timestamp()) if last_test_at else None,
        vaccinations,
    ]
    if category is not None:
        claims.append(category)
    body = cbor2.dumps(claims)
    signature = key.sign(SIGNATURE_DOMAIN + body)
    return "GC1:" + b45.encode(body + signature)


def _typed(claims: list[Any]) -> dict[str, Any]:
    """Check every claim's type; a code with the wrong shape is not a gc1 code."""
    if len(claims) < len(FIELDS) or claims[0] != VERSION:
        raise CodeError(f"structure: expected a version-{VERSION} array of {len(FIELDS)} claims")
    named = dict(zip(FIELDS + OPTIONAL_FIELDS, claims, strict=False))
    expected: dict[str, tuple[type, ...]] = {
        "iss": (str,), "kid": (bytes,), "cid": (bytes,), "sub": (bytes,), "name": (str,),
        "col": (int,), "iat": (int,), "exp": (int,), "tst": (int, type(None)),
        "vac": (int, type(None)),
    }  # fmt: skip
    for name, types in expected.items():
        value = named[name]
        if not isinstance(value, types) or isinstance(value, bool):
            raise CodeError(f"structure: claim {name!r} has the wrong type")
    if not 0 <= named["col"] < len(COLOURS):
        raise CodeError("structure: unknown colour")
    return named


def _category(value: object) -> Category | None:
    """Claim 11: who the holder is, when the issuer says (a school's student code). A value
    this verifier does not know is ignored, not refused: the list may grow."""
    return cast(Category, value) if isinstance(value, str) and value in CATEGORIES else None


def _parse(payload: bytes) -> tuple[bytes, bytes, dict[str, Any]]:
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        raise CodeError("unprefix: payload is not ASCII text") from None
    if not text.startswith("GC1:"):
        raise CodeError("unprefix: missing 'GC1:' prefix")
    raw = b45.decode(text[len(PREFIX) :])
    if len(raw) <= SIGNATURE_BYTES:
        raise CodeError("structure: too short to hold claims and a signature")
    body, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    stream = io.BytesIO(body)
    try:
        claims = cbor2.CBORDecoder(stream).decode()
    except Exception as exc:  # cbor2 raises several types on hostile input
        raise CodeError(f"CBOR: {exc}") from exc
    if stream.tell() != len(body) or not isinstance(claims, list | tuple):
        raise CodeError("structure: claims are not one CBOR array")
    return body, signature, _typed(list(claims))


def verify(payload: bytes, trust: TrustStore, at: datetime) -> CodeResult:
    """Decode a gc1 code and check it against the trust list at time ``at``."""
    result = CodeResult(SCHEME)
    try:
        body, signature, claims = _parse(payload)
    except CodeError as exc:
        result.error = str(exc)
        result.signature_valid = False
        return result
    result.decoded = True
    result.claims = {
        "iss": claims["iss"],
        "kid": claims["kid"].hex(),
        "cid": claims["cid"].hex(),
        "sub": claims["sub"].hex(),
        "name": claims["name"],
        "colour": COLOURS[claims["col"]],
        "iat": claims["iat"],
        "exp": claims["exp"],
        "last_test": claims["tst"],
        "vaccinations": claims["vac"],
    }
    candidates = [key for issuer, key in trust.gc1_by_kid.get(claims["kid"], []) if issuer == claims["iss"]]
    result.issuer_known = bool(candidates)
    result.signature_valid = any(_signed_by(key, body, signature) for key in candidates)
    now = at.timestamp()
    result.time_valid = claims["iat"] <= now <= claims["exp"]
    result.colour = COLOURS[claims["col"]]
    result.display_name = claims["name"]
    result.holder_id = b"gc1:" + claims["iss"].encode() + b":" + claims["sub"]
    result.last_test_at = claims["tst"]
    result.category = _category(claims.get("cat"))
    if result.category:
        result.claims["category"] = result.category
    result.revoked = revocation_key(SCHEME, claims["cid"].hex()) in trust.revoked
    if not result.signature_valid:
        problem = "invalid" if candidates else "no trusted key"
        result.error = f"signature: {problem} for issuer {claims['iss']!r} kid {claims['kid'].hex()}"
    elif not result.time_valid:
        result.error = "expiration: not valid at the given time (issued-at/expiry)"
    return result


def _signed_by(key: Any, body: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, SIGNATURE_DOMAIN + body)
    except InvalidSignature:
        return False
    return True
