"""EU DCC conformance: every EXPECTED* of every case in ../shared/testdata/dgc is met.

Steps: picture decode (the PNG through our decoder), unprefix, base45, compression,
COSE verify with the case's certificate, CBOR decode matching the case's JSON, schema,
key usage, and expiration at the case's validation clock. ENCODE is an issuer's step
(a verifier never encodes a DCC), so it is not checked here.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.codes import verify
from edge.decode import decode
from edge.trust import TrustStore
from tests.conftest import data_set

DGC = data_set("dgc", "dgc")
CASES = sorted(DGC.glob("*/2DCode/raw/*.json"))


def load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return case


def clock(case: dict[str, Any]) -> datetime:
    moment = datetime.fromisoformat(case["TESTCTX"]["VALIDATIONCLOCK"].replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def normalise(value: Any) -> Any:
    """JSON test data writes times as '...Z'; CBOR times come back as '+00:00'."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str) and len(value) > 10 and value[4] == "-" and "T" in value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return value
    return value


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parts[-4]}/{p.stem}")
def test_case_meets_every_expectation(path: Path) -> None:
    case = load(path)
    expected: dict[str, bool] = case["EXPECTEDRESULTS"]
    trust = TrustStore()
    trust.add_certificate(base64.b64decode(case["TESTCTX"]["CERTIFICATE"]))
    result = verify(case["PREFIX"].encode(), trust, clock(case))
    error = result.error or ""

    if "2DCODE" in case and "EXPECTEDPICTUREDECODE" in expected:
        png = np.frombuffer(base64.b64decode(case["2DCODE"]), np.uint8)
        image = cv2.imdecode(png, cv2.IMREAD_GRAYSCALE)
        texts = [c.payload for c in decode(image)] if image is not None else []
        assert (case["PREFIX"].encode() in texts) is expected["EXPECTEDPICTUREDECODE"]
    for key, step in [
        ("EXPECTEDUNPREFIX", "unprefix"),
        ("EXPECTEDB45DECODE", "base45"),
        ("EXPECTEDCOMPRESSION", "compression"),
        ("EXPECTEDSCHEMAVALIDATION", "schema"),
        ("EXPECTEDKEYUSAGE", "key usage"),
    ]:
        if key in expected:
            assert error.startswith(step) is (not expected[key]), (key, error)
    if "EXPECTEDVERIFY" in expected:
        assert result.signature_valid is expected["EXPECTEDVERIFY"], error
    if expected.get("EXPECTEDKEYUSAGE") is False:
        assert result.signature_valid is False
    if "EXPECTEDEXPIRATIONCHECK" in expected:
        assert result.time_valid is expected["EXPECTEDEXPIRATIONCHECK"], error
    if expected.get("EXPECTEDDECODE") is False:
        assert not result.decoded
    if expected.get("EXPECTEDDECODE") and "JSON" in case:
        assert result.decoded and result.claims is not None
        assert normalise(result.claims["hcert"]) == normalise(case["JSON"])
    if expected.get("EXPECTEDVALIDJSON"):
        json.dumps(result.claims)
    if expected.get("EXPECTEDVALIDOBJECT"):
        assert result.decoded and not error.startswith("schema")


def test_cli_contract_on_the_whole_suite(tmp_path: Path) -> None:
    """The same cases through `gatecheck code verify --jsonl`, with per-request clock and
    trust list, as a conformance runner would call it."""
    requests, cases = [], []
    for path in CASES:
        case = load(path)
        cases.append(case)
        requests.append(
            {"payload": case["PREFIX"], "at": case["TESTCTX"]["VALIDATIONCLOCK"],
             "trust_certs": [case["TESTCTX"]["CERTIFICATE"]]}
        )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "gatecheck", "code", "verify", "--jsonl"],
        input="\n".join(json.dumps(r) for r in requests) + "\n",
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(cases)
    for case, answer in zip(cases, answers, strict=True):
        assert set(answer) == {"scheme", "decoded", "signature_valid", "time_valid", "claims", "error"}
        assert answer["scheme"] == "hc1"
        expected = case["EXPECTEDRESULTS"]
        if "EXPECTEDVERIFY" in expected:
            assert answer["signature_valid"] is expected["EXPECTEDVERIFY"], case["TESTCTX"]["DESCRIPTION"]
        if "EXPECTEDEXPIRATIONCHECK" in expected:
            assert answer["time_valid"] is expected["EXPECTEDEXPIRATIONCHECK"]
        # Every failing step but the picture (this request sends the payload) is an error.
        if any(v is False for k, v in expected.items() if k != "EXPECTEDPICTUREDECODE"):
            assert answer["error"], case["TESTCTX"]["DESCRIPTION"]


def test_picture_requests_decode_the_image(tmp_path: Path) -> None:
    path = next(p for p in CASES if "2DCODE" in load(p) and load(p)["EXPECTEDRESULTS"].get("EXPECTEDVERIFY"))
    case = load(path)
    image = tmp_path / "code.png"
    image.write_bytes(base64.b64decode(case["2DCODE"]))
    cert = tmp_path / "signer.der"
    cert.write_bytes(base64.b64decode(case["TESTCTX"]["CERTIFICATE"]))
    result = subprocess.run(
        [sys.executable, "-m", "gatecheck", "code", "verify", "--trust-cert", str(cert),
         "--at", case["TESTCTX"]["VALIDATIONCLOCK"], "--image", str(image)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["scheme"] == "hc1" and answer["decoded"] and answer["signature_valid"] is True
