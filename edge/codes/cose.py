"""COSE_Sign1 (RFC 9052) parsing and signature checks, enough for signed health codes.

Written on cbor2 and cryptography rather than pycose: verification needs only the
Sig_structure and two algorithms, and every failure must map to a clear reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from edge.codes.result import CodeError

COSE_SIGN1_TAG = 18
CWT_TAG = 61
HEADER_ALG = 1
HEADER_KID = 4
ES256 = -7
ES384 = -35
ES512 = -36
PS256 = -37


@dataclass(frozen=True)
class Sign1:
    protected_bytes: bytes
    protected: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    @property
    def alg(self) -> Any:
        return self.protected.get(HEADER_ALG, self.unprotected.get(HEADER_ALG))

    @property
    def kid(self) -> bytes | None:
        """The key id; the protected header wins, as only it is covered by the signature."""
        kid = self.protected.get(HEADER_KID)
        if kid is None:
            kid = self.unprotected.get(HEADER_KID)
        return kid if isinstance(kid, bytes) else None

    def to_be_signed(self) -> bytes:
        return cbor2.dumps(["Signature1", self.protected_bytes, b"", self.payload])


def parse_sign1(data: bytes) -> Sign1:
    """Parse a (tagged or untagged) COSE_Sign1 structure."""
    try:
        obj = cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several types on hostile input
        raise CodeError(f"COSE: not valid CBOR ({exc})") from exc
    while isinstance(obj, cbor2.CBORTag) and obj.tag in (CWT_TAG, COSE_SIGN1_TAG):
        obj = obj.value
    if not (isinstance(obj, list | tuple) and len(obj) == 4):
        raise CodeError("COSE: not a COSE_Sign1 array of four elements")
    protected_bytes, unprotected, payload, signature = obj
    if not isinstance(protected_bytes, bytes) or not isinstance(payload, bytes):
        raise CodeError("COSE: protected header and payload must be byte strings")
    if not isinstance(unprotected, Mapping) or not isinstance(signature, bytes):
        raise CodeError("COSE: malformed unprotected header or signature")
    try:
        protected = cbor2.loads(protected_bytes) if protected_bytes else {}
    except Exception as exc:
        raise CodeError(f"COSE: protected header is not valid CBOR ({exc})") from exc
    if not isinstance(protected, Mapping):
        raise CodeError("COSE: protected header is not a map")
    return Sign1(protected_bytes, protected, unprotected, payload, signature)


EC_HASHES: dict[int, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    ES256: hashes.SHA256,
    ES384: hashes.SHA384,
    ES512: hashes.SHA512,
}
"""The hash each ECDSA algorithm names."""

EC_COORDINATE_BYTES = {"secp256r1": 32, "secp384r1": 48, "secp521r1": 66}
"""The curves a signer key may be on (NIST P-256, P-384, P-521), with the size of r and s."""

RSA_MIN_BITS = 2048


def verify_with(sign1: Sign1, public_key: Any) -> bool:
    """True if ``public_key`` made this signature with the algorithm the header names.

    ECDSA is checked with the header's hash on the key's own curve: national signers
    issued codes headed ES256 with a P-384 key (a 96-byte signature), and the EU
    conformance data expect those to verify — SHA-256 on P-384 is as safe as on P-256.
    Refused: a curve other than P-256/384/521, a signature not the curve's size, an RSA
    key under 2048 bits, and an algorithm that does not match the key's kind."""
    data = sign1.to_be_signed()
    try:
        if sign1.alg in EC_HASHES and isinstance(public_key, ec.EllipticCurvePublicKey):
            size = EC_COORDINATE_BYTES.get(public_key.curve.name)
            if size is None or len(sign1.signature) != 2 * size:
                return False
            r = int.from_bytes(sign1.signature[:size], "big")
            s = int.from_bytes(sign1.signature[size:], "big")
            public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(EC_HASHES[sign1.alg]()))
            return True
        if sign1.alg == PS256 and isinstance(public_key, rsa.RSAPublicKey):
            if public_key.key_size < RSA_MIN_BITS:
                return False
            public_key.verify(
                sign1.signature,
                data,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                hashes.SHA256(),
            )
            return True
    except (InvalidSignature, ValueError):
        return False
    return False
