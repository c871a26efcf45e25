"""Property-based: no payload, however hostile, makes a parser raise."""

from __future__ import annotations

import base64
import json
import secrets
import zlib
from datetime import UTC, datetime, timedelta

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.protocol import public_key_for
from core.trust import IssuerKey, TrustList
from edge.codes import b45, gc1, verify
from edge.codes.cli import answer
from edge.trust import TrustStore

NOW = datetime(2026, 12, 1, tzinfo=UTC)
KEY = secrets.token_bytes(32)
TRUST = TrustStore.build(
    TrustList(gc1_keys=[IssuerKey(issuer="I", public_key=base64.b64encode(public_key_for(KEY)).decode())])
)
VALID_GC1 = gc1.issue(KEY, "I", "id", "张*", "green", NOW, NOW + timedelta(days=1))
CBOR_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.integers() | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=20,
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(payload: bytes) -> None:
    result = verify(payload, TRUST, NOW)
    json.dumps(result.public())  # always serialisable, whatever came in
    assert result.signature_valid is not True  # nothing random carries a trusted signature
    assert result.decoded or result.scheme == "opaque" or result.error


@FAST
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    check(data)
    check(b"HC1:" + data)
    check(b"GC1:" + data)


@FAST
@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=300))
def test_random_base45_text(text: str) -> None:
    check(("HC1:" + text).encode())
    check(("GC1:" + text).encode())


@FAST
@given(CBOR_VALUES)
def test_any_cbor_inside_valid_wrappers(value: object) -> None:
    body = cbor2.dumps(value)
    check(("HC1:" + b45.encode(zlib.compress(body))).encode())
    check(
        (
            "HC1:" + b45.encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, body, b"x" * 64]))))
        ).encode()
    )
    check(("GC1:" + b45.encode(body + bytes(64))).encode())


@FAST
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_mutated_valid_code(position: int, byte: int) -> None:
    raw = bytearray(b45.decode(VALID_GC1[4:]))
    raw[position % len(raw)] = byte
    payload = ("GC1:" + b45.encode(bytes(raw))).encode()
    result = verify(payload, TRUST, NOW)
    if bytes(raw) != b45.decode(VALID_GC1[4:]):
        assert result.signature_valid is not True


@FAST
@given(
    st.dictionaries(st.sampled_from(["payload", "image", "at", "trust_certs", "x"]), CBOR_VALUES, max_size=4)
)
def test_cli_requests_of_any_shape(request: dict[str, object]) -> None:
    result = answer(request, TRUST, NOW)
    assert set(result) == {"scheme", "decoded", "signature_valid", "time_valid", "claims", "error"}
    json.dumps(result)
