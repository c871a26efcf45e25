"""The gate's index over its trust list, for fast lookups while verifying codes.

The list itself (``core.trust.TrustList``) is shared with the hub and provisioning.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding

from core.trust import TrustList, cert_kid, ed25519_kid, load_certificate


@dataclass
class TrustStore:
    """Indexes over a trust list for fast lookups during verification."""

    hc1_by_kid: dict[bytes, list[x509.Certificate]] = field(default_factory=lambda: defaultdict(list))
    gc1_by_kid: dict[bytes, list[tuple[str, Ed25519PublicKey]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    revoked: frozenset[str] = frozenset()

    @classmethod
    def build(cls, trust: TrustList) -> TrustStore:
        store = cls(revoked=frozenset(trust.revoked))
        for cert_b64 in trust.hc1_certs:
            store.add_certificate(base64.b64decode(cert_b64))
        for key in trust.gc1_keys:
            raw = base64.b64decode(key.public_key)
            store.gc1_by_kid[ed25519_kid(raw)].append((key.issuer, Ed25519PublicKey.from_public_bytes(raw)))
        return store

    def add_certificate(self, data: bytes) -> None:
        cert = load_certificate(data)
        self.hc1_by_kid[cert_kid(cert.public_bytes(Encoding.DER))].append(cert)

    def all_certificates(self) -> list[x509.Certificate]:
        return [cert for certs in self.hc1_by_kid.values() for cert in certs]
