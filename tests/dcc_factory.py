"""A test-only EU DCC issuer: real keys, real certificates, real COSE signatures.

Verifiers never encode DCCs, so this lives with the tests. It lets tests exercise what the
public sample data cannot: colliding key ids, revocation, certificate types per colour.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from core.trust import cert_kid
from edge.codes import b45

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


CURVES: dict[str, ec.EllipticCurve] = {"ec": ec.SECP256R1(), "ec384": ec.SECP384R1(), "k1": ec.SECP256K1()}


def signer(kind: str = "ec") -> tuple[PrivateKey, bytes]:
    """A document signer key (``ec``: P-256, ``ec384``, ``k1``: secp256k1, ``rsa``) and its
    self-signed certificate (DER)."""
    key: PrivateKey = (
        ec.generate_private_key(CURVES[kind]) if kind in CURVES else rsa.generate_private_key(65537, 2048)
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test DSC")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=365))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(Encoding.DER)


def hcert(kind: str, at: datetime, **entry: Any) -> dict[str, Any]:
    base = {"tg": "840539006", "co": "DE", "is": "Test Ministry", "ci": "URN:UVCI:01:DE:TEST#1"}
    if kind == "v":
        base |= {"vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 2, "sd": 2,
                 "dt": (at - timedelta(days=30)).date().isoformat()}  # fmt: skip
    elif kind == "t":
        base |= {"tt": "LP6464-4", "sc": (at - timedelta(hours=10)).isoformat(), "tr": "260415000"}
    else:
        base |= {"fr": (at - timedelta(days=40)).date().isoformat(),
                 "df": (at - timedelta(days=30)).date().isoformat(),
                 "du": (at + timedelta(days=100)).date().isoformat()}  # fmt: skip
    base |= entry
    return {"ver": "1.3.0", "nam": {"fn": "Muster", "fnt": "MUSTER", "gn": "Erika", "gnt": "ERIKA"},
            "dob": "1964-08-12", kind: [base]}  # fmt: skip


def dcc(
    key: PrivateKey, cert_der: bytes, payload: dict[str, Any], at: datetime, kid: bytes | None = None
) -> str:
    """Sign a DCC payload: HC1:base45(zlib(COSE_Sign1(CWT)))."""
    alg = -7 if isinstance(key, ec.EllipticCurvePrivateKey) else -37
    protected = cbor2.dumps({1: alg, 4: kid if kid is not None else cert_kid(cert_der)})
    iat = int((at - timedelta(days=1)).timestamp())
    cwt = cbor2.dumps({1: "DE", 6: iat, 4: iat + 365 * 86400, -260: {1: payload}})
    to_sign = cbor2.dumps(["Signature1", protected, b"", cwt])
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # ES256 whatever the curve, as national signers did; r and s at the curve's size.
        r, s = decode_dss_signature(key.sign(to_sign, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    else:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = key.sign(to_sign, pss, hashes.SHA256())
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, cwt, signature]))
    return "HC1:" + b45.encode(zlib.compress(cose, 9))
