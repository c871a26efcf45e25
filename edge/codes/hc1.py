"""``hc1``: the EU Digital COVID Certificate, verified offline.

``HC1:`` + base45( zlib( COSE_Sign1( CWT{iss, iat, exp, -260: {1: hcert}} ) ) ), signed
with ES256 or PS256 by a document signer whose certificate is in the trust list; the key
id is the first 8 bytes of SHA-256 of that certificate. The gate's colour for a DCC is
derived by the policy from the certificate type and dates (``dcc_colour``).
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import cbor2
from cryptography import x509
from pydantic import ValidationError

from core.policy import Colour
from core.trust import revocation_key
from edge.codes import b45
from edge.codes.cose import parse_sign1, verify_with
from edge.codes.dcc_schema import TEST_NEGATIVE, TEST_POSITIVE, HCert
from edge.codes.names import mask_name
from edge.codes.result import CodeError, CodeResult
from edge.trust import TrustStore

SCHEME = "hc1"
PREFIX = b"HC1:"
MAX_INFLATED = 64 * 1024
_CONTEXT = re.compile(r"^[A-Za-z0-9]{1,8}:")
CWT_ISS, CWT_EXP, CWT_IAT, CWT_HCERT = 1, 4, 6, -260

# Extended key usages a signer certificate may carry to limit what it can sign.
_EKU_KINDS = {
    "1.3.6.1.4.1.1847.2021.1.1": "t",
    "1.3.6.1.4.1.1847.2021.1.2": "v",
    "1.3.6.1.4.1.1847.2021.1.3": "r",
    "1.3.6.1.4.1.0.1847.2021.1.1": "t",
    "1.3.6.1.4.1.0.1847.2021.1.2": "v",
    "1.3.6.1.4.1.0.1847.2021.1.3": "r",
}
_KIND_NAMES = {"v": "vaccination", "t": "test", "r": "recovery"}


def matches(payload: bytes) -> bool:
    return payload.startswith(PREFIX)


def resembles(payload: bytes) -> bool:
    """A DCC under a wrong or missing context prefix (``HC2:``, none at all): its content
    is base45 of zlib of a COSE_Sign1. Such a payload is reported as a failed ``hc1``
    code, not waved through as an unknown token."""
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        return False
    body = _CONTEXT.sub("", text, count=1)
    try:
        parse_sign1(_inflate(b45.decode(body)))
    except CodeError:
        return False
    return True


def jsonable(value: Any) -> Any:
    """CBOR values as JSON values (dates as ISO text, bytes as base64)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, cbor2.CBORTag):
        return jsonable(value.value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _unwrap(payload: bytes) -> bytes:
    """Prefix, base45 and zlib: the COSE bytes, or the step that failed."""
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        raise CodeError("unprefix: payload is not ASCII text") from None
    if not text.startswith("HC1:"):
        raise CodeError("unprefix: missing 'HC1:' context prefix")
    return _inflate(b45.decode(text[4:]))


def _inflate(compressed: bytes) -> bytes:
    if not compressed or compressed[0] & 0x0F != 8:
        raise CodeError("compression: data is not zlib-compressed")
    try:
        inflater = zlib.decompressobj()
        cose = inflater.decompress(compressed, MAX_INFLATED)
    except zlib.error as exc:
        raise CodeError(f"compression: {exc}") from exc
    if inflater.unconsumed_tail or not inflater.eof:
        raise CodeError("compression: stream truncated or larger than 64 KiB")
    return cose


def _der_oid(dotted: str) -> bytes:
    """DER encoding (tag, length, value) of an object identifier."""
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body.extend(reversed(chunk))
    return bytes([0x06, len(body)]) + bytes(body)


_EKU_DER = {_der_oid(oid): kind for oid, kind in _EKU_KINDS.items()}


def _key_usage_allows(cert: x509.Certificate, kind: str) -> bool:
    """A signer certificate may limit itself to some certificate types via extended key
    usage; with none of the DCC usages present it may sign any type."""
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        kinds = {_EKU_KINDS[oid.dotted_string] for oid in usages if oid.dotted_string in _EKU_KINDS}
    except x509.ExtensionNotFound:
        return True
    except ValueError:
        # Some issuers' certificates carry extensions a strict parser refuses (an empty
        # EKU sequence, seen in the conformance suite). Look for the DCC usage OIDs directly.
        tbs = cert.tbs_certificate_bytes
        kinds = {kind for der, kind in _EKU_DER.items() if der in tbs}
    return not kinds or kind in kinds


def verify(payload: bytes, trust: TrustStore, at: datetime) -> CodeResult:
    """Decode and verify an EU DCC; ``error`` names the first step that failed."""
    result = CodeResult(SCHEME)
    try:
        sign1 = parse_sign1(_unwrap(payload))
    except CodeError as exc:
        result.error = str(exc)
        result.signature_valid = False
        return result

    candidates = trust.hc1_by_kid.get(sign1.kid, []) if sign1.kid else trust.all_certificates()
    result.issuer_known = bool(candidates)
    signer = next((c for c in candidates if verify_with(sign1, c.public_key())), None)
    result.signature_valid = signer is not None
    kid = sign1.kid.hex() if sign1.kid else "none"
    signature_error = None
    if signer is None:
        problem = "invalid" if candidates else "no trusted certificate"
        signature_error = f"signature: {problem} for kid {kid}"

    try:
        cwt, hcert_raw = _claims(sign1.payload)
    except CodeError as exc:
        result.error = signature_error or str(exc)
        return result
    result.decoded = True
    iat, exp = cwt.get(CWT_IAT), cwt.get(CWT_EXP)
    result.claims = {
        "iss": jsonable(cwt.get(CWT_ISS)),
        "iat": jsonable(iat),
        "exp": jsonable(exp),
        "hcert": jsonable(hcert_raw),
    }

    time_error = None
    if isinstance(exp, int | float):
        now = at.timestamp()
        result.time_valid = (not isinstance(iat, int | float) or iat <= now) and now <= exp
        if not result.time_valid:
            time_error = "expiration: not valid at the given time (issued-at/expiry)"
    else:
        result.time_valid = False
        time_error = "expiration: no expiry claim"

    schema_error = key_usage_error = None
    try:
        hcert = HCert.model_validate(result.claims["hcert"])
    except ValidationError as exc:
        schema_error = "schema: " + "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
        )
    else:
        if signer is not None and not _key_usage_allows(signer, hcert.kind):
            result.signature_valid = False
            key_usage_error = f"key usage: signer may not sign {_KIND_NAMES[hcert.kind]} certificates"
        _describe_holder(result, hcert, trust)
    result.error = next((e for e in (signature_error, key_usage_error, schema_error, time_error) if e), None)
    return result


def _claims(cose_payload: bytes) -> tuple[Mapping[Any, Any], Any]:
    """The CWT claims map and the raw health certificate inside it."""
    try:
        cwt = cbor2.loads(cose_payload)
    except Exception as exc:  # cbor2 raises several types on hostile input
        raise CodeError(f"CWT: not valid CBOR ({exc})") from exc
    if not isinstance(cwt, Mapping):
        raise CodeError("CWT: payload is not a claims map")
    container = cwt.get(CWT_HCERT)
    hcert = container.get(1) if isinstance(container, Mapping) else None
    if not isinstance(hcert, Mapping):
        raise CodeError("CWT: no health certificate claim (-260/1)")
    return cwt, hcert


def _describe_holder(result: CodeResult, hcert: HCert, trust: TrustStore) -> None:
    """Who the certificate is about, as the gate may use it: pseudonym input and a masked name."""
    entry = (hcert.v or hcert.t or hcert.r)[0]  # type: ignore[index]
    result.revoked = revocation_key(SCHEME, entry.ci) in trust.revoked
    result.holder_id = f"{hcert.nam.fnt}|{hcert.nam.gnt or ''}|{hcert.dob}".encode()
    result.display_name = mask_name(f"{hcert.nam.gn or ''} {hcert.nam.fn or hcert.nam.fnt}")
    if hcert.t and hcert.t[0].tr == TEST_NEGATIVE:
        result.last_test_at = _timestamp(hcert.t[0].sc)


def _timestamp(text: str) -> int | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def dcc_colour(hcert: dict[str, Any], at: datetime, test_validity: timedelta) -> Colour:
    """A gate colour for a verified DCC: green when the certificate covers ``at``.

    Vaccination: green once the series is complete (dose number >= series total) and 14
    days have passed. Test: green for a negative result sampled within ``test_validity``;
    red for a positive one. Recovery: green between its valid-from and valid-until.
    Anything else is yellow (not enough on its own; the policy decides).
    """
    try:
        model = HCert.model_validate(hcert)
    except ValidationError:
        return "yellow"
    today = at.date()
    if model.v:
        vac = model.v[0]
        done = vac.dn >= vac.sd and date.fromisoformat(vac.dt[:10]) + timedelta(days=14) <= today
        return "green" if done else "yellow"
    if model.t:
        test = model.t[0]
        if test.tr == TEST_POSITIVE:
            return "red"
        sampled = _timestamp(test.sc)
        fresh = sampled is not None and 0 <= at.timestamp() - sampled <= test_validity.total_seconds()
        return "green" if test.tr == TEST_NEGATIVE and fresh else "yellow"
    assert model.r
    rec = model.r[0]
    valid = date.fromisoformat(rec.df[:10]) <= today <= date.fromisoformat(rec.du[:10])
    return "green" if valid else "yellow"
