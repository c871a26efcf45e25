"""``gatecheck doctor``: what a site technician checks before walking away from a gate.

Each check returns PASS, WARN or FAIL with one sentence saying what was found and, when
something is wrong, what to do about it — in words for someone holding a screwdriver,
not a stack trace. Nothing here changes the device: the checks only look (the disk probe
writes a small file and removes it).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx

from core import RELEASED
from core.bundle import BundleError, DeviceBundle
from core.policy import SiteRules
from core.protocol import CONFIG_PATH, HEADER_SERVER_TIME, refused_for_clock, sign_request
from core.trust import TrustList
from edge import clock
from edge.camera import Roi, open_stream
from edge.frames import Frame, FrameError
from edge.log_identity import replaced_log
from edge.sensor_config import ThermometerConfig, open_thermometer
from edge.store import CheckStore, StoreError
from edge.thermometer import ReadingError
from edge.voice import PROMPTS, Voice

Status = Literal["PASS", "WARN", "FAIL"]


@dataclass(frozen=True)
class Finding:
    name: str
    status: Status
    detail: str


@dataclass(frozen=True)
class DoctorSettings:
    device_path: Path
    db_path: Path
    camera: str
    roi: Roi | None
    thermometer: ThermometerConfig
    min_free_mb: int = 200
    camera_timeout_s: float = 8.0
    hub_timeout_s: float = 8.0


def check_bundle(path: Path) -> tuple[Finding, DeviceBundle | None]:
    try:
        bundle = DeviceBundle.load(path)
    except BundleError as exc:
        return Finding("device bundle", "FAIL", f"{exc}"), None
    if path.stat().st_mode & 0o077:
        return Finding(
            "device bundle",
            "WARN",
            f"{path} can be read by other users; it holds the device's key: chmod 600 {path}",
        ), bundle
    return Finding(
        "device bundle",
        "PASS",
        f"{bundle.device_id} — {bundle.gate}, {bundle.site_name}; hub {bundle.hub_url}",
    ), bundle


def check_database(path: Path) -> tuple[Finding, CheckStore | None]:
    if not path.exists():
        return Finding(
            "check log", "FAIL", f"no check log at {path}: run 'gatecheck edge init --bundle FILE'"
        ), None
    try:
        store = CheckStore(path)
        result = store.quick_check()
    except (StoreError, sqlite3.Error) as exc:
        return Finding("check log", "FAIL", _unwritable(path, exc)), None
    if result != "ok":
        return Finding(
            "check log",
            "FAIL",
            f"{path} is damaged ({result}); stop the services, keep a copy of the file for support, "
            "and replace the SD card if this repeats",
        ), store
    total = store.count()
    return Finding(
        "check log", "PASS", f"intact; {total} checks, {store.backlog()} waiting for the hub"
    ), store


def _unwritable(path: Path, exc: Exception) -> str:
    """Why the log cannot be opened for writing, and whether what it holds is intact (read
    as an immutable file, which needs no space and no lock)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True) as conn:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
            total = conn.execute("SELECT count(*) FROM checks").fetchone()[0]
        conn.close()
    except sqlite3.Error as read_exc:
        return f"cannot open {path} ({exc}) nor read it ({read_exc})"
    state = f"its {total} checks are intact" if result == "ok" else f"it is damaged ({result})"
    return f"cannot record checks: {exc}; {state}"


def check_disk(folder: Path, min_free_mb: int) -> Finding:
    """Free space, and whether the card still takes writes (worn SD cards turn read-only)."""
    try:
        free_mb = shutil.disk_usage(folder).free // 2**20
    except OSError as exc:
        return Finding("storage", "FAIL", f"cannot inspect {folder}: {exc.strerror}")
    probe = folder / f".doctor-probe-{os.getpid()}"
    try:
        with open(probe, "wb") as fh:
            fh.write(os.urandom(64 * 1024))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        probe.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            return Finding("storage", "FAIL", f"disk full ({free_mb} MB free): checks cannot be stored")
        if exc.errno == errno.EROFS:
            return Finding("storage", "FAIL", "the SD card has turned read-only (worn out?): replace it")
        return Finding("storage", "FAIL", f"cannot write to {folder}: {exc.strerror}")
    probe.unlink(missing_ok=True)
    if free_mb < min_free_mb:
        return Finding(
            "storage",
            "FAIL",
            f"disk full: {free_mb} MB free, at least {min_free_mb} MB needed; "
            "free space or lower GATECHECK_RETENTION_DAYS",
        )
    return Finding("storage", "PASS", f"{free_mb} MB free")


def check_clock(hub_offset_s: float | None) -> Finding:
    now = clock.now()
    shown = datetime.fromtimestamp(now.wall_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if datetime.fromtimestamp(now.wall_ms / 1000, UTC) < RELEASED:
        return Finding(
            "clock",
            "FAIL",
            f"the clock says {shown}: this board has no battery clock and has not got the time "
            "from the network. Checks are still stored and re-timed by the hub; connect the "
            "network and enable time sync (timedatectl set-ntp true)",
        )
    if hub_offset_s is not None and abs(hub_offset_s) > 120:
        return Finding(
            "clock", "WARN", f"the clock is {hub_offset_s:+.0f} s off the hub's time: check time sync (NTP)"
        )
    return Finding("clock", "PASS", shown)


def _first_frame(source: str, roi: Roi | None, timeout_s: float) -> Frame | str:
    """One frame from the camera, or why there is none."""
    result: list[Frame | str] = []

    def grab() -> None:
        try:
            frames = open_stream(source, roi)
            try:
                result.append(next(frames))
            except StopIteration:
                result.append(f"camera {source} gave no picture")
            finally:
                close = getattr(frames, "close", None)
                if close is not None:
                    close()
        except FrameError as exc:
            result.append(str(exc))

    thread = threading.Thread(target=grab, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return result[0] if result else f"camera {source} gave no picture within {timeout_s:g} s"


def check_camera(source: str, roi: Roi | None, timeout_s: float) -> Finding:
    frame = _first_frame(source, roi, timeout_s)
    if isinstance(frame, str):
        return Finding(
            "camera",
            "FAIL",
            f"{frame} — check that the camera is plugged in (ls /dev/video*) and GATECHECK_CAMERA",
        )
    height, width = frame.image.shape[:2]
    return Finding("camera", "PASS", f"camera {source} gives {width}×{height} pictures")


def check_thermometer(config: ThermometerConfig) -> Finding:
    if config.kind == "none":
        return Finding("thermometer", "WARN", "no thermometer configured: guards type every temperature")
    try:
        reading = open_thermometer(config).read()
    except ReadingError as exc:
        return Finding("thermometer", "FAIL", f"{config.describe()}: {exc}")
    if config.kind == "simulated":
        return Finding("thermometer", "WARN", "simulated sensor: readings are made up — not for a real gate")
    return Finding("thermometer", "PASS", f"{config.describe()} reads {reading.celsius:.1f} °C")


def check_voice() -> Finding:
    """Can the gate screen speak? (espeak-ng renders the prompts; without it, tones.)"""
    with tempfile.TemporaryDirectory(prefix="gatecheck-voice-") as folder:
        voice = Voice(Path(folder))
        voice.render()
        if voice.available() == sorted(PROMPTS):
            return Finding(
                "voice", "PASS", f"espeak-ng speaks the {len(PROMPTS)} prompts in Mandarin and English"
            )
    return Finding(
        "voice",
        "WARN",
        "espeak-ng missing or failing: the gate screen plays tones only (apt install espeak-ng)",
    )


def check_trust(bundle: DeviceBundle, store: CheckStore | None) -> Finding:
    applied = store.config() if store is not None else None
    trust = TrustList.model_validate_json(applied[2]) if applied else bundle.trust
    policy = (
        SiteRules.model_validate_json(applied[1]).at(clock.now().wall_ms)[1] if applied else bundle.policy
    )
    age = trust.age_hours(datetime.now(UTC))
    keys = len(trust.gc1_keys) + len(trust.hc1_certs)
    if keys == 0:
        return Finding("trust list", "FAIL", "the trust list holds no issuer keys: no code can be verified")
    if age is None:
        return Finding(
            "trust list",
            "WARN",
            f"version {trust.version} from enrolment ({keys} signing key{'s' if keys != 1 else ''}), "
            "never refreshed",
        )
    if age > policy.trust_max_age_hours:
        return Finding(
            "trust list",
            "FAIL",
            f"{age:.0f} h old (limit {policy.trust_max_age_hours:g} h): the device has not reached the hub",
        )
    return Finding(
        "trust list",
        "PASS",
        f"version {trust.version}, {keys} signing key{'s' if keys != 1 else ''}, {age:.1f} h old",
    )


def check_hub(bundle: DeviceBundle, timeout_s: float) -> tuple[Finding, float | None]:
    """A signed request, as the sync agent makes: reachable, and still accepting this device?"""
    try:
        with httpx.Client(base_url=bundle.hub_url, timeout=timeout_s, verify=bundle.tls_verify()) as client:
            signing_time = sent = time.time()
            for _ in range(2):
                headers = sign_request(
                    bundle.signing_key_bytes, bundle.device_id, "GET", CONFIG_PATH, b"", now=signing_time
                )
                response = client.get(CONFIG_PATH, headers=headers)
                server = response.headers.get(HEADER_SERVER_TIME, "")
                if not (refused_for_clock(response.status_code, response.text) and server.isdigit()):
                    break
                signing_time = int(server) / 1000  # our clock is off: sign with the hub's, as sync does
    except httpx.HTTPError as exc:
        return Finding(
            "hub",
            "FAIL",
            f"cannot reach {bundle.hub_url} ({type(exc).__name__}). The gate keeps working and "
            "stores checks; check the network cable/Wi-Fi and the hub address",
        ), None
    offset = (int(server) / 1000 - (sent + time.time()) / 2) if server.isdigit() else None
    if response.status_code == 200:
        return Finding("hub", "PASS", f"{bundle.hub_url} accepts this device"), offset
    detail = response.text[:200]
    if response.status_code == 403:
        return Finding(
            "hub", "FAIL", f"the hub refuses this device ({detail}): it was revoked — enrol a new one"
        ), offset
    if response.status_code == 401:
        return Finding(
            "hub",
            "FAIL",
            f"the hub does not accept this device's key ({detail}): if its credentials were rotated, "
            "load the new bundle with 'gatecheck edge init --bundle FILE'",
        ), offset
    return Finding("hub", "FAIL", f"the hub answered {response.status_code}: {detail}"), offset


def examine(settings: DoctorSettings, report: Callable[[Finding], None]) -> list[Finding]:
    """Run every check, reporting each as soon as it is known."""
    findings: list[Finding] = []

    def note(finding: Finding) -> None:
        findings.append(finding)
        report(finding)

    bundle_finding, bundle = check_bundle(settings.device_path)
    note(bundle_finding)
    db_finding, store = check_database(settings.db_path)
    replaced = replaced_log(settings.device_path.parent, store) if store is not None else None
    note(Finding("check log", "FAIL", replaced.describe()) if replaced else db_finding)
    note(
        check_disk(
            settings.db_path.parent if settings.db_path.parent.exists() else Path("."), settings.min_free_mb
        )
    )
    hub_finding, offset = (
        check_hub(bundle, settings.hub_timeout_s)
        if bundle
        else (Finding("hub", "FAIL", "not asked: no device bundle"), None)
    )
    note(check_clock(offset))
    note(check_camera(settings.camera, settings.roi, settings.camera_timeout_s))
    note(check_thermometer(settings.thermometer))
    note(check_voice())
    if bundle is not None:
        note(check_trust(bundle, store))
    note(hub_finding)
    if store is not None:
        store.close()
    return findings
