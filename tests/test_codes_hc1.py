"""EU DCC behaviour beyond the public sample data, on DCCs signed here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.policy import Policy
from core.trust import cert_kid, load_certificate, revocation_key
from edge.codes import verify
from edge.policy import Presentation, decide
from edge.thermometer import Reading
from edge.trust import TrustStore
from tests.dcc_factory import dcc, hcert, signer

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_es256_and_ps256_verify(kind: str) -> None:
    key, cert = signer(kind)
    trust = TrustStore()
    trust.add_certificate(cert)
    result = verify(dcc(key, cert, hcert("v", AT), AT).encode(), trust, AT)
    assert (result.signature_valid, result.time_valid, result.error) == (True, True, None)
    assert result.display_name == "E. M*****"


def test_es256_from_a_p384_signer_verifies_on_its_own_curve() -> None:
    """National signers issued ES256 codes with a P-384 key (96-byte signatures); the EU
    conformance data expect them to verify."""
    key, cert = signer("ec384")
    trust = TrustStore()
    trust.add_certificate(cert)
    result = verify(dcc(key, cert, hcert("v", AT), AT).encode(), trust, AT)
    assert (result.signature_valid, result.error) == (True, None)


def test_unsafe_or_mismatched_signatures_are_refused() -> None:
    """A curve outside P-256/384/521 and a signature cut to another curve's size fail."""
    for kind in ("k1", "ec384"):
        key, cert = signer(kind)
        trust = TrustStore()
        trust.add_certificate(cert)
        code = dcc(key, cert, hcert("v", AT), AT)
        if kind == "ec384":  # the certificate is trusted for a P-256 key: sizes differ
            _, p256_cert = signer("ec")
            trust = TrustStore()
            trust.hc1_by_kid[cert_kid(cert)] = [load_certificate(p256_cert)]
        result = verify(code.encode(), trust, AT)
        assert result.signature_valid is False, kind


def test_every_certificate_sharing_a_key_id_is_tried() -> None:
    """Key ids are 8 bytes: collisions happen, and the right certificate may be second."""
    key, cert = signer()
    _, colliding = signer()
    trust = TrustStore()
    trust.hc1_by_kid[cert_kid(cert)] = [load_certificate(colliding), load_certificate(cert)]
    assert verify(dcc(key, cert, hcert("t", AT), AT).encode(), trust, AT).signature_valid is True
    stranger, _ = signer()  # a key nobody trusts, claiming the same kid
    result = verify(dcc(stranger, cert, hcert("t", AT), AT).encode(), trust, AT)
    assert result.signature_valid is False and result.issuer_known is True


def test_revoked_certificate_identifier() -> None:
    key, cert = signer()
    trust = TrustStore(revoked=frozenset({revocation_key("hc1", "URN:UVCI:01:DE:TEST#1")}))
    trust.add_certificate(cert)
    assert verify(dcc(key, cert, hcert("r", AT), AT).encode(), trust, AT).revoked


@pytest.mark.parametrize(
    ("kind", "entry", "reason"),
    [
        ("v", {}, "ok"),
        ("v", {"dn": 1, "sd": 2}, "code_yellow"),  # series not complete
        ("v", {"dt": (AT - timedelta(days=3)).date().isoformat()}, "code_yellow"),  # too recent
        ("t", {}, "ok"),
        ("t", {"sc": (AT - timedelta(hours=60)).isoformat()}, "code_yellow"),  # older than 48 h
        ("t", {"tr": "260373001"}, "code_red"),  # positive
        ("r", {}, "ok"),
        ("r", {"du": (AT - timedelta(days=1)).date().isoformat()}, "code_yellow"),  # recovery over
    ],
)
def test_dcc_colour_by_the_policy(kind: str, entry: dict[str, object], reason: str) -> None:
    key, cert = signer()
    trust = TrustStore()
    trust.add_certificate(cert)
    result = verify(dcc(key, cert, hcert(kind, AT, **entry), AT).encode(), trust, AT)
    decision = decide(Presentation(code=result, reading=Reading(36.5, "sensor"), at=AT), Policy())
    assert decision.reason == reason
