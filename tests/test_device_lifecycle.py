"""A gate device's life through the real commands: enrol → init → checks → sync →
rotate → revoke, against a hub on 127.0.0.1 — and what ``gatecheck doctor`` says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from core.bundle import DeviceBundle
from edge.settings import DeviceSettings
from edge.store import CheckStore
from hub.auth import create_user
from hub.core.db import alerts, checks
from hub.registry import Site, enrol_device
from hub.server import BackgroundHub
from tests.conftest import ADMIN_PASSWORD, cli, fill_disk


@pytest.fixture
def device_env(tmp_path: Path) -> Iterator[Path]:
    """A device home; the environment is restored afterwards (commands load its settings)."""
    saved = dict(os.environ)
    home = tmp_path / "home"
    os.environ["GATECHECK_HOME"] = str(home)
    yield home
    os.environ.clear()
    os.environ.update(saved)


def hub_checks(engine: Engine, device_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).where(checks.c.device_id == device_id)) or 0)


def doctor_findings(*extra: str) -> tuple[int, dict[str, dict[str, str]]]:
    code, output = cli("doctor", "--json", *extra)
    return code, {f["name"]: f for f in json.loads(output)}


def test_enrol_init_check_sync_rotate_revoke(
    device_env: Path,
    tmp_path: Path,
    hub_database_url: str,
    hub_engine: Engine,
    site: Site,
    live_hub: BackgroundHub,
    signed: Callable[..., str],
    qr_png: Callable[..., Path],
) -> None:
    # Enrol from the hub's database; set the board up from the bundle alone.
    code, out = cli(
        "provision", "device", "enrol", "--database-url", hub_database_url, "--site", site.id,
        "--gate", "North gate", "--hub-url", live_hub.url, "--out", str(tmp_path / "bundle.json"),
    )  # fmt: skip
    assert code == 0, out
    device_id = out.split()[0]
    images = tmp_path / "images"
    first = [qr_png(signed(f"11010519491231{i:04d}"), name=f"a{i}.png") for i in range(3)]
    code, out = cli("edge", "init", "--bundle", str(tmp_path / "bundle.json"), "--source", str(images))
    assert code == 0, out
    assert f"device {device_id} (North gate, Test Compound)" in out
    settings = DeviceSettings.from_file(device_env / "gatecheck.env")
    assert settings.bundle_path == device_env / "device.json"
    assert settings.camera.source == str(images)
    for secret in ("device.json", "edge.db", "gatecheck.env"):  # owner-only, like every secret
        assert (device_env / secret).stat().st_mode & 0o777 == 0o600, secret

    # Checks and a sync with no --device/--db: the settings file supplies them.
    code, out = cli("edge", "scan", *map(str, first))
    assert code == 0, out
    code, out = cli("sync", "run", "--once")
    assert code == 0, out
    assert hub_checks(hub_engine, device_id) == 3
    code, out = cli("edge", "purge")  # retention from the settings file: nothing is old yet
    assert code == 0 and "purged 0 checks" in out and "3 checks kept (0 not yet at the hub)" in out
    code, findings = doctor_findings()
    assert findings["hub"]["status"] == "PASS", findings
    assert findings["camera"]["status"] == "PASS"
    assert findings["trust list"]["status"] == "PASS"  # refreshed by the sync
    assert code == 0, findings

    # Rotate through the admin API: the old key is refused, the checks wait on the device.
    create_user(hub_engine, "admin", ADMIN_PASSWORD, "admin")
    code, out = cli(
        "provision", "device", "rotate", device_id, "--hub", live_hub.url, "--admin-user", "admin",
        "--admin-password", ADMIN_PASSWORD, "--out", str(tmp_path / "rotated.json"),
    )  # fmt: skip
    assert code == 0, out
    second = [qr_png(signed(f"11010519491231{i:04d}"), name=f"b{i}.png") for i in range(10, 12)]
    cli("edge", "scan", *map(str, second))
    code, out = cli("sync", "run", "--once")
    assert code != 0 and "bad signature" in out
    code, findings = doctor_findings()
    assert code == 1 and "edge init --bundle" in findings["hub"]["detail"]
    assert CheckStore(device_env / "edge.db").backlog() == 2

    code, out = cli("edge", "init", "--bundle", str(tmp_path / "rotated.json"))
    assert code == 0, out
    assert "new credentials installed; 2 checks wait" in out
    assert DeviceSettings.from_file(device_env / "gatecheck.env").camera.source == str(images)  # kept
    code, out = cli("sync", "run", "--once")
    assert code == 0, out
    assert hub_checks(hub_engine, device_id) == 5

    # Revoke: the hub refuses the device from then on; what it records stays on it.
    code, out = cli("provision", "device", "revoke", device_id, "--database-url", hub_database_url)
    assert code == 0 and "revoked" in out
    cli("edge", "scan", str(second[0]))
    code, out = cli("sync", "run", "--once")
    assert code != 0 and "403" in out and "revoked" in out
    assert hub_checks(hub_engine, device_id) == 5
    assert CheckStore(device_env / "edge.db").backlog() == 1
    code, findings = doctor_findings()
    assert code == 1 and "revoked" in findings["hub"]["detail"]
    code, out = cli("provision", "device", "list", "--database-url", hub_database_url)
    assert code == 0
    assert any(line.startswith(device_id) and "\trevoked\t" in line for line in out.splitlines())


@pytest.fixture
def initialised(device_env: Path, tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path]) -> Path:
    """A device set up from a bundle whose hub is live; camera: a folder of frames."""
    qr_png("HC1:not-a-real-code", name="frame.png")
    code, out = cli(
        "edge", "init", "--bundle", str(tmp_path / "device.json"), "--source", str(tmp_path / "images")
    )
    assert code == 0, out
    return device_env


def test_doctor_names_an_unplugged_camera_and_a_missing_sensor(initialised: Path) -> None:
    code, output = cli("doctor", "--source", "7", "--thermometer", "mlx90614", "--i2c-bus", "97")
    assert code == 1
    lines = {
        line.split()[1]: line
        for line in output.splitlines()
        if line.strip().startswith(("PASS", "WARN", "FAIL"))
    }
    assert lines["camera"].split()[0] == "FAIL" and "plugged in" in lines["camera"]
    assert lines["thermometer"].split()[0] == "FAIL" and "/dev/i2c-97" in lines["thermometer"]
    assert lines["hub"].split()[0] == "PASS"
    assert output.rstrip().endswith("2 problems to fix: camera, thermometer")
    code, findings = doctor_findings("--thermometer", "serial", "--serial-port", "/dev/ttyUSB97")
    assert (
        findings["thermometer"]["status"] == "FAIL" and "/dev/ttyUSB97" in findings["thermometer"]["detail"]
    )


@pytest.mark.skipif(
    shutil.which("faketime") is None, reason="faketime not installed (scripts/bootstrap.sh --test)"
)
def test_doctor_reports_a_clock_in_1970(initialised: Path) -> None:
    gatecheck = Path(sys.executable).with_name("gatecheck")
    result = subprocess.run(
        ["faketime", "1970-01-01 00:05:00", str(gatecheck), "doctor", "--json"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "GATECHECK_HOME": str(initialised)},
    )  # fmt: skip
    findings = {f["name"]: f for f in json.loads(result.stdout)}
    assert result.returncode == 1
    assert findings["clock"]["status"] == "FAIL"
    assert (
        "1970-01-01" in findings["clock"]["detail"] and "timedatectl set-ntp" in findings["clock"]["detail"]
    )
    assert findings["hub"]["status"] == "PASS"  # signed with the hub's time, as the sync agent does


def test_doctor_reports_a_full_disk_and_keeps_what_is_stored(
    device_env: Path, small_disk: Path, tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path]
) -> None:
    os.environ["GATECHECK_HOME"] = str(small_disk / "gatecheck")
    code, out = cli("edge", "init", "--bundle", str(tmp_path / "device.json"), "--thermometer", "none")
    assert code == 0, out
    frame = qr_png("HC1:not-a-real-code", name="frame.png")
    assert cli("edge", "scan", "--temp", "36.5", str(frame), str(frame))[0] == 0
    filler = fill_disk(small_disk)
    code, out = cli("edge", "scan", "--temp", "36.5", str(frame))  # a traceback would fail the test
    assert code == 1 and "请联系管理员" in out and "stored checks are safe" in out
    code, findings = doctor_findings("--source", str(frame.parent), "--min-free-mb", "1")
    assert code == 1
    assert findings["storage"]["status"] == "FAIL" and "disk full" in findings["storage"]["detail"]
    assert "its 2 checks are intact" in findings["check log"]["detail"]
    filler.unlink()
    code, findings = doctor_findings("--source", str(frame.parent), "--min-free-mb", "1")
    assert findings["storage"]["status"] == "PASS"
    assert findings["check log"]["status"] == "PASS" and "2 checks" in findings["check log"]["detail"]


def test_init_with_another_device_keeps_unsynced_checks_aside(
    initialised: Path, tmp_path: Path, hub_engine: Engine, site: Site, live_hub: BackgroundHub
) -> None:
    assert cli("edge", "scan", "--temp", "36.4", str(tmp_path / "images" / "frame.png"))[0] == 0
    assert cli("edge", "guard", "add", "--id", "G7", "--name", "Li", "--pin", "1357")[0] == 0
    other = enrol_device(hub_engine, site.id, "South gate", live_hub.url)
    other.save(tmp_path / "other.json")

    code, out = cli("edge", "init", "--bundle", str(tmp_path / "other.json"))
    assert code != 0 and "still holds 1 checks" in out and "--replace" in out
    assert DeviceBundle.load(initialised / "device.json").device_id != other.device_id  # untouched

    code, out = cli("edge", "init", "--bundle", str(tmp_path / "other.json"), "--replace")
    assert code == 0, out
    archived = list(initialised.glob("edge-dev-*.db"))
    assert len(archived) == 1 and str(archived[0]) in out
    assert len(CheckStore(archived[0]).rows()) == 1  # the old identity's check, kept
    fresh = CheckStore(initialised / "edge.db")
    assert fresh.rows() == [] and fresh.acked_seq() == 0
    assert cli("edge", "guard", "list")[1].split() == ["G7", "Li"]  # guards carried over


@pytest.mark.site_policy(retest_after_s=0)
def test_a_lost_check_log_is_a_new_log_the_fever_after_it_reaches_the_hub(
    initialised: Path,
    tmp_path: Path,
    hub_engine: Engine,
    bundle: DeviceBundle,
    signed: Callable[..., str],
    qr_png: Callable[..., Path],
) -> None:
    person = str(qr_png(signed("110105194912310021"), name="person.png"))
    assert cli("edge", "scan", "--temp", "36.4", person, person, person, person, person)[0] == 0
    assert cli("sync", "run", "--once")[0] == 0
    assert hub_checks(hub_engine, bundle.device_id) == 5
    # The card fails: the log comes back as an empty file (re-flashed; its WAL gone too).
    for leftover in initialised.glob("edge.db*"):
        leftover.unlink()
    (initialised / "edge.db").write_bytes(b"")

    # The gate goes on: a first high reading, then the confirmed fever — numbered from 1
    # again, in a log with a new identity.
    code, out = cli("edge", "scan", "--json", "--temp", "38.6", person, person)
    assert code == 0, out
    scanned = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [(c["seq"], c["reason"]) for c in scanned] == [(1, "temp_high"), (2, "fever")]
    code, findings = doctor_findings("--source", str(tmp_path / "images"))
    assert code == 1 and findings["check log"]["status"] == "FAIL"
    assert "was lost" in findings["check log"]["detail"] and "edge init" in findings["check log"]["detail"]

    code, out = cli("sync", "run", "--once")
    assert code == 0, out
    assert "synced: 2 new (1 urgent first)" in out  # the fever first, then the log in order
    with hub_engine.connect() as conn:
        held = conn.execute(
            select(checks.c.seq, checks.c.reason).where(checks.c.device_id == bundle.device_id)
        ).all()
        raised = conn.execute(select(alerts.c.reason).where(alerts.c.device_id == bundle.device_id)).all()
    assert len(held) == 7 and sum(1 for r in held if r.reason == "fever") == 1  # nothing taken for old
    assert {r.reason for r in raised} == {"fever", "log_replaced"}  # the managers hear of the loss

    # The technician confirms the log in use: the doctor is satisfied again.
    assert cli("edge", "init", "--bundle", str(initialised / "device.json"))[0] == 0
    _, findings = doctor_findings("--source", str(tmp_path / "images"))
    assert findings["check log"]["status"] == "PASS"


def test_a_sensor_that_fails_still_records_the_check_for_the_guard(initialised: Path, tmp_path: Path) -> None:
    frame = str(tmp_path / "images" / "frame.png")
    code, out = cli("edge", "scan", "--json", "--thermometer", "mlx90614", "--i2c-bus", "97", frame)
    assert code == 0, out
    check = json.loads(out.splitlines()[-1])
    assert (check["temp_c"], check["temp_source"], check["reason"]) == (None, "none", "no_temperature")
    assert len(CheckStore(initialised / "edge.db").rows()) == 1


def test_a_rotated_bundle_keeps_the_site_ca_it_was_installed_with(
    tmp_path: Path, hub_engine: Engine, site: Site
) -> None:
    from edge.device_home import DeviceHome
    from edge.install import init_device
    from hub.registry import rotate_device

    pem = "-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n"
    first = enrol_device(hub_engine, site.id, "North", "https://hub.example:8443").model_copy(
        update={"ca_cert": pem}
    )
    home = DeviceHome(tmp_path / "home")
    init_device(home, first, DeviceSettings(home=home.path))
    rotated = rotate_device(hub_engine, first.device_id)
    assert rotated.ca_cert is None
    init_device(home, rotated, DeviceSettings(home=home.path))
    installed = DeviceBundle.load(home.bundle)
    assert installed.ca_cert == pem and installed.signing_key == rotated.signing_key


def test_hardware_settings_round_trip_through_the_settings_file(
    device_env: Path, tmp_path: Path, bundle: DeviceBundle
) -> None:
    code, out = cli(
        "edge", "init", "--bundle", str(tmp_path / "device.json"), "--thermometer", "serial",
        "--serial-port", "/dev/ttyUSB96", "--serial-command", r"MEAS\r\n", "--serial-unit", "F",
        "--i2c-address", "0x5b", "--temp-offset", "0.3", "--roi", "10,20,300,200",
    )  # fmt: skip
    assert code == 0, out
    lines = (device_env / "gatecheck.env").read_text(encoding="utf-8")
    assert "GATECHECK_THERMOMETER__SERIAL_COMMAND='MEAS\\r\\n'" in lines  # as typed, escapes kept
    assert "GATECHECK_THERMOMETER__I2C_ADDRESS='0x5b'" in lines
    settings = DeviceSettings.from_file(device_env / "gatecheck.env")
    assert (settings.thermometer.i2c_address, settings.thermometer.offset_c) == (0x5B, 0.3)
    assert settings.camera.roi == "10,20,300,200" and settings.thermometer.serial_unit == "F"
    # Every command on the device reads them back: the doctor tries that serial port.
    _, findings = doctor_findings("--source", str(tmp_path))
    assert "serial thermometer on /dev/ttyUSB96" in findings["thermometer"]["detail"]
