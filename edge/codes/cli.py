"""``gatecheck code``: verify health codes from the command line (people and test suites).

``verify --jsonl`` reads one request per line and writes one result per line, never
stopping on bad input: any payload, any bytes, any image gives a result with ``error``.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from core.trust import TrustError, TrustList
from edge.codes import verify
from edge.decode import Code, decode
from edge.frames import FrameError, image_files, read_image
from edge.trust import TrustStore


def _failure(error: str, scheme: str | None = None) -> dict[str, Any]:
    return {
        "scheme": scheme,
        "decoded": False,
        "signature_valid": None,
        "time_valid": None,
        "claims": None,
        "error": error,
    }


def _parse_at(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _load_trust(cert_paths: tuple[Path, ...], trust_path: Path | None) -> TrustStore:
    store = TrustStore.build(
        TrustList.model_validate_json(trust_path.read_text(encoding="utf-8")) if trust_path else TrustList()
    )
    files = [f for p in cert_paths for f in (sorted(p.iterdir()) if p.is_dir() else [p]) if f.is_file()]
    for path in files:
        try:
            store.add_certificate(path.read_bytes())
        except TrustError as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
    return store


def _payload_of_image(path: str) -> bytes:
    codes = decode(read_image(Path(path)))
    if not codes:
        raise FrameError(f"picture decode: no QR code found in {path}")
    return codes[0].payload


def answer(request: Any, trust: TrustStore, default_at: datetime) -> dict[str, Any]:
    """One request object → one result object (the --jsonl contract)."""
    if not isinstance(request, dict):
        return _failure("request: expected a JSON object")
    try:
        at = _parse_at(request["at"]) if request.get("at") is not None else default_at
    except (TypeError, ValueError, AttributeError):
        return _failure("request: 'at' is not an ISO-8601 time")
    if request.get("trust_certs") is not None:
        trust = TrustStore()
        try:
            for cert in request["trust_certs"]:
                trust.add_certificate(base64.b64decode(cert, validate=True))
        except (TypeError, ValueError, binascii.Error, TrustError) as exc:
            return _failure(f"request: bad trust_certs entry ({exc})")
    if isinstance(request.get("payload"), str):
        payload = request["payload"].encode("utf-8")
    elif isinstance(request.get("image"), str):
        try:
            payload = _payload_of_image(request["image"])
        except FrameError as exc:
            return _failure(str(exc))
    else:
        return _failure("request: needs a string 'payload' or 'image'")
    return verify(payload, trust, at).public()


@click.group()
def code() -> None:
    """Health codes: verify offline against a trust list."""


@code.command("verify")
@click.option(
    "--trust-cert",
    "trust_certs",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Signer certificate (PEM or DER) or a folder of them; repeatable.",
)
@click.option(
    "--trust",
    "trust_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A trust list JSON file (as provisioning writes it).",
)
@click.option("--at", "at_text", help="Verify as of this ISO-8601 time (default: now).")
@click.option("--jsonl", is_flag=True, help="Read requests from stdin, one JSON object a line.")
@click.option("--payload", help="A code's text, e.g. 'HC1:...'.")
@click.option("--image", type=click.Path(dir_okay=False), help="An image holding the code.")
def verify_command(
    trust_certs: tuple[Path, ...],
    trust_path: Path | None,
    at_text: str | None,
    jsonl: bool,
    payload: str | None,
    image: str | None,
) -> None:
    """Verify codes offline and print {scheme, decoded, signature_valid, time_valid,
    claims, error} as JSON. With --jsonl, requests are {"payload": ...} or {"image": ...}
    with optional "at" and "trust_certs" (base64 DER list replacing the trust list)."""
    try:
        default_at = _parse_at(at_text) if at_text else datetime.now(UTC)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO-8601 time: {at_text}", param_hint="--at") from exc
    trust = _load_trust(trust_certs, trust_path)
    if jsonl:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except ValueError:
                result = _failure("request: not valid JSON")
            else:
                result = answer(request, trust, default_at)
            click.echo(json.dumps(result, ensure_ascii=False))
        return
    if (payload is None) == (image is None):
        raise click.UsageError("give exactly one of --payload, --image or --jsonl")
    request = {"payload": payload} if payload is not None else {"image": image}
    click.echo(json.dumps(answer(request, trust, default_at), ensure_ascii=False, indent=2))


def _code_json(code: Code) -> dict[str, Any]:
    return {
        "text": code.text,
        "corners": [list(point) for point in code.corners],
        "engine": code.engine,
        "colour": code.colour,
        "encoding": code.encoding,
        "bytes_b64": base64.b64encode(code.payload).decode(),
    }


def _inputs(paths: tuple[Path, ...]) -> list[Path]:
    return [f for p in paths for f in (image_files(p) if p.is_dir() else [p])]


@code.command("decode")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image per line.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def decode_command(as_json: bool, paths: tuple[Path, ...]) -> None:
    """Read the QR codes in image files or folders (recursive). With --json each line is
    {"path", "codes": [{"text", "corners", "engine", "colour", "encoding", "bytes_b64"}], "ms"}
    ("colour": green, yellow, red or null for black);
    an unreadable file gets an "error" and the exit status is 1."""
    failed = 0
    for path in _inputs(paths):
        start = time.perf_counter()
        try:
            codes = decode(read_image(path), still=True)
        except FrameError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
            if as_json:
                click.echo(json.dumps({"path": str(path), "codes": [], "ms": 0.0, "error": str(exc)}))
            continue
        ms = round((time.perf_counter() - start) * 1000, 3)
        if as_json:
            line = {"path": str(path), "codes": [_code_json(c) for c in codes], "ms": ms}
            click.echo(json.dumps(line, ensure_ascii=False))
        else:
            found = "; ".join(f"[{c.engine}] {c.text}" for c in codes) or "no code"
            click.echo(f"{path}: {found} ({ms:.1f} ms)")
    if failed:
        raise SystemExit(1)
