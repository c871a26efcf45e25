"""gatecheck's own signed code: round trip, tampering, wrong keys, expiry, revocation,
and the provisioning commands that make keys and code images."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import segno
from click.testing import CliRunner

from core.protocol import public_key_for
from core.trust import IssuerKey, TrustList
from edge.codes import gc1, verify
from edge.decode import decode
from edge.frames import read_image
from edge.trust import TrustStore
from gatecheck.cli import main
from gatecheck.samples import forge_gc1

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
KEY = secrets.token_bytes(32)


def trust_for(key: bytes, issuer: str = "Issuer", revoked: list[str] | None = None) -> TrustStore:
    public = base64.b64encode(public_key_for(key)).decode()
    return TrustStore.build(
        TrustList(gc1_keys=[IssuerKey(issuer=issuer, public_key=public)], revoked=revoked or [])
    )


def make(key: bytes = KEY, **kw: object) -> str:
    fields: dict[str, object] = dict(
        issuer="Issuer", holder_id="110101199003071234", display_name="张*", colour="yellow",
        issued_at=NOW - timedelta(hours=1), expires_at=NOW + timedelta(hours=23),
        last_test_at=NOW - timedelta(hours=30), vaccinations=3,
    )  # fmt: skip
    fields.update(kw)
    return gc1.issue(key, **fields)  # type: ignore[arg-type]


def test_round_trip_carries_every_claim() -> None:
    result = verify(make().encode(), trust_for(KEY), NOW)
    assert (result.scheme, result.decoded, result.signature_valid, result.time_valid) == (
        "gc1",
        True,
        True,
        True,
    )
    assert result.error is None
    claims = result.claims or {}
    assert claims["iss"] == "Issuer" and claims["name"] == "张*" and claims["colour"] == "yellow"
    assert claims["vaccinations"] == 3
    assert claims["last_test"] == int((NOW - timedelta(hours=30)).timestamp())
    assert "110101199003071234" not in json.dumps(claims)


def test_fits_a_phone_readable_qr() -> None:
    payload = make(display_name="欧阳**娜", issuer="阳光物业 Sunshine Property")
    qr = segno.make(payload, error="m", micro=False)
    assert qr.mode == "alphanumeric"
    assert int(qr.version) <= 10


def test_same_person_same_subject_other_issuer_other_subject() -> None:
    a = verify(make().encode(), trust_for(KEY), NOW).claims or {}
    b = verify(make().encode(), trust_for(KEY), NOW).claims or {}
    other_key = secrets.token_bytes(32)
    c = verify(make(other_key).encode(), trust_for(other_key), NOW).claims or {}
    assert a["sub"] == b["sub"] != c["sub"]
    assert a["cid"] != b["cid"]  # each code has its own id, so one code can be revoked


def test_edited_code_fails_its_signature() -> None:
    result = verify(forge_gc1(make(colour="red")).encode(), trust_for(KEY), NOW)
    assert result.decoded and result.signature_valid is False and result.issuer_known is True
    assert (result.claims or {})["colour"] == "green"  # what the forger wanted us to see
    assert result.error and result.error.startswith("signature")


def test_key_not_in_trust_list() -> None:
    result = verify(make(secrets.token_bytes(32)).encode(), trust_for(KEY), NOW)
    assert result.signature_valid is False and result.issuer_known is False
    assert "no trusted key" in (result.error or "")


def test_issuer_name_must_match_the_trusted_key() -> None:
    result = verify(make(issuer="Impostor").encode(), trust_for(KEY, issuer="Issuer"), NOW)
    assert result.signature_valid is False


@pytest.mark.parametrize(
    "at, valid", [(NOW - timedelta(hours=2), False), (NOW, True), (NOW + timedelta(days=1), False)]
)
def test_time_validity(at: datetime, valid: bool) -> None:
    result = verify(make().encode(), trust_for(KEY), at)
    assert result.time_valid is valid
    assert (result.error is None) is valid


def test_revoked_code_is_marked() -> None:
    payload = make()
    cid = (verify(payload.encode(), trust_for(KEY), NOW).claims or {})["cid"]
    from core.trust import revocation_key

    assert verify(payload.encode(), trust_for(KEY, revoked=[revocation_key("gc1", cid)]), NOW).revoked


def test_wrong_prefix_is_still_recognised_as_gc1() -> None:
    result = verify(make().replace("GC1:", "GC9:").encode(), trust_for(KEY), NOW)
    assert result.scheme == "gc1" and not result.decoded
    assert (result.error or "").startswith("unprefix")


def test_provisioning_commands_make_codes_a_device_trusts(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    run("hub", "migrate", "--database-url", db)
    run(
        "provision",
        "issuer",
        "create",
        "--database-url",
        db,
        "--name",
        "Test Authority",
        "--out",
        str(tmp_path / "k.json"),
    )
    assert oct((tmp_path / "k.json").stat().st_mode & 0o777) == "0o600"
    payload = run(
        "provision", "issue-code", "--issuer-key", str(tmp_path / "k.json"), "--holder-id", "ID-9",
        "--name", "李*", "--colour", "green", "--valid-hours", "12", "--out", str(tmp_path / "code.png"),
    ).strip()  # fmt: skip
    (code,) = decode(read_image(tmp_path / "code.png"))
    assert code.payload == payload.encode()

    trust_path = tmp_path / "trust.json"
    trust_path.write_text(run("provision", "trust", "show", "--database-url", db))
    answer = json.loads(
        run("code", "verify", "--trust", str(trust_path), "--image", str(tmp_path / "code.png"))
    )
    assert answer["signature_valid"] is True and answer["time_valid"] is True
    assert answer["claims"]["name"] == "李*"

    run(
        "provision",
        "trust",
        "revoke",
        "--database-url",
        db,
        "--scheme",
        "gc1",
        "--id",
        answer["claims"]["cid"],
    )
    revoked = TrustList.model_validate_json(run("provision", "trust", "show", "--database-url", db))
    assert verify(payload.encode(), TrustStore.build(revoked), datetime.now(UTC)).revoked


def test_bad_issuer_key_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "k.json"
    bad.write_text("{}")
    result = CliRunner().invoke(
        main,
        [
            "provision",
            "issue-code",
            "--issuer-key",
            str(bad),
            "--holder-id",
            "x",
            "--name",
            "x",
            "--out",
            str(tmp_path / "c.png"),
        ],
    )
    assert result.exit_code == 1 and "cannot read issuer key" in result.output
