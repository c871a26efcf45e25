"""``gatecheck edge scan`` as a guard's terminal would run it, reading the real database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from core.bundle import DeviceBundle
from edge.store import CheckStore
from gatecheck.cli import main
from gatecheck.samples import render_frame, spoil, write_png
from tests.conftest import cli


def scan(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main,
        ["edge", "scan", "--device", str(tmp_path / "device.json"), "--db", str(tmp_path / "edge.db"), *args],
    )
    return result.exit_code, result.stdout, result.stderr


def stored(tmp_path: Path) -> list[dict[str, object]]:
    store = CheckStore(tmp_path / "edge.db")
    rows = store.rows()
    store.close()
    return rows


def test_folder_of_images_becomes_checks(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    green, red = signed("ID-1"), signed("ID-2", "red")
    qr_png(green, "a.png")
    qr_png(red, "sub/b.png", angle=20)
    qr_png("https://hc.example.invalid/v?id=110101199003071234", "sub/c.png")
    code, out, _ = scan(tmp_path, "--temp", "36.4", "--json", str(tmp_path / "images"))
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["code"] for line in lines] == [
        green,
        red,
        "https://hc.example.invalid/v?id=110101199003071234",
    ]
    assert lines[0]["name"] == "张*"
    rows = stored(tmp_path)
    assert [(r["verdict"], r["reason"], r["scheme"]) for r in rows] == [
        ("admit", "ok", "gc1"),
        ("deny", "code_red", "gc1"),
        ("manual", "code_unverified", "opaque"),
    ]
    assert {r["temp_source"] for r in rows} == {"manual"}
    assert all(r["device_id"] == bundle.device_id and r["gate"] == bundle.gate for r in rows)
    # Neither the code nor the ID in it reaches the database: only keyed pseudonyms do.
    assert "110101199003071234" not in json.dumps(rows) and green not in json.dumps(rows)
    assert len({r["holder"] for r in rows}) == 3 and len(str(rows[0]["holder"])) == 32


def test_same_holder_same_pseudonym(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path]
) -> None:
    first, second = qr_png("SAME", "1.png"), qr_png("SAME", "2.png", angle=30)
    assert scan(tmp_path, "--temp", "36.5", str(first), str(second))[0] == 0
    rows = stored(tmp_path)
    assert rows[0]["holder"] == rows[1]["holder"]


@pytest.mark.site_policy(retest_after_s=0)
def test_fever_is_measured_twice_then_denied(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    """A site whose medic re-tests at once (no 5-minute wait): the second high reading of
    the same person confirms the fever."""
    image = qr_png(signed("ID-HOT"), "hot.png")
    other = qr_png(signed("ID-OTHER"), "other.png")
    assert scan(tmp_path, "--temp", "38.2", str(image))[0] == 0
    assert scan(tmp_path, "--temp", "37.9", str(other))[0] == 0  # someone else: a first reading
    assert scan(tmp_path, "--temp", "38.4", str(image))[0] == 0  # the same person again
    assert scan(tmp_path, str(image))[0] == 0  # then the (simulated) sensor, normal
    rows = stored(tmp_path)
    assert [(r["verdict"], r["reason"]) for r in rows] == [
        ("remeasure", "temp_high"),
        ("remeasure", "temp_high"),
        ("deny", "fever"),
        ("admit", "ok"),
    ]
    assert rows[2]["temp_c"] == 38.4
    assert rows[3]["temp_source"] == "sensor"


def test_a_high_reading_again_before_the_wait_is_not_yet_a_fever(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    """The default drill: the re-test comes 5 minutes after the first high reading; a
    second one at once says "wait", and the first reading stays the one the wait runs from."""
    image = qr_png(signed("ID-HOT"), "hot.png")
    for _ in range(3):
        assert scan(tmp_path, "--temp", "38.2", str(image))[0] == 0
    assert [r["reason"] for r in stored(tmp_path)] == ["temp_high", "retest_wait", "retest_wait"]


def test_temperature_that_is_not_a_number_is_refused_and_nothing_is_lost(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path]
) -> None:
    image = qr_png("KEEP", "keep.png")
    assert scan(tmp_path, "--temp", "36.5", str(image))[0] == 0
    code, _, err = scan(tmp_path, "--temp", "warm", str(image))
    assert code == 2
    assert "not a number" in err
    assert len(stored(tmp_path)) == 1


def test_non_image_is_reported_and_the_rest_still_recorded(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    good = qr_png(signed("ID-GOOD"), "good.png")
    bad = tmp_path / "images" / "bad.png"
    bad.write_text("not an image")
    code, _, err = scan(tmp_path, "--temp", "36.5", str(bad), str(good))
    assert code == 1
    assert "bad.png is not an image" in err and "nothing recorded" in err
    assert [r["reason"] for r in stored(tmp_path)] == ["ok"]


def test_image_without_code_is_a_manual_check(tmp_path: Path, bundle: DeviceBundle) -> None:
    path = write_png(tmp_path / "blank.png", spoil(render_frame("gone")))
    code, _, err = scan(tmp_path, "--temp", "36.5", str(path))
    assert code == 0
    assert "no QR code found" in err
    (row,) = stored(tmp_path)
    assert (row["verdict"], row["reason"], row["holder"]) == ("manual", "no_code", None)


def test_video_source_debounces_a_code_held_in_front_of_the_camera(
    tmp_path: Path, bundle: DeviceBundle
) -> None:
    video = tmp_path / "gate.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    blank = np.full((480, 640), 90, np.uint8)
    frames = [blank] * 3 + [render_frame("PERSON-A")] * 8 + [blank] * 3 + [render_frame("PERSON-B")] * 5
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    code, out, _ = scan(tmp_path, "--temp", "36.5", "--json", str(video))
    assert code == 0
    assert [json.loads(line)["code"] for line in out.splitlines()] == ["PERSON-A", "PERSON-B"]
    assert len(stored(tmp_path)) == 2


def test_missing_bundle_says_how_to_fix(tmp_path: Path) -> None:
    code, _, err = scan(tmp_path, "--temp", "36.5", str(tmp_path))
    assert code == 1
    assert "cannot read device bundle" in err and "gatecheck provision device enrol" in err


def test_status_in_an_empty_folder_says_where_it_looked_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATECHECK_HOME", str(tmp_path / "home"))
    for command in (["edge", "status"], ["sync", "run", "--once"], ["edge", "guard", "list"]):
        code, out = cli(*command)
        assert code == 1, command
        assert f"no check log at {tmp_path / 'home' / 'edge.db'}" in out or "cannot read device bundle" in out
        assert "edge init" in out or "Enrol" in out
    assert list(tmp_path.iterdir()) == []  # no stray database, here or in the home


def test_config_check_names_every_bad_line_of_a_settings_file(tmp_path: Path) -> None:
    good = tmp_path / "good.env"
    good.write_text(
        "GATECHECK_CAMERA__SOURCE='rtsp://10.0.0.9/1'\nGATECHECK_THERMOMETER__I2C_ADDRESS='0x5b'\n"
    )
    code, out = cli("edge", "config", "--check", str(good))
    assert code == 0, out
    assert (
        "GATECHECK_CAMERA__SOURCE=rtsp://10.0.0.9/1" in out
        and "GATECHECK_THERMOMETER__I2C_ADDRESS=0x5b" in out
    )
    for line, named in (
        ("GATECHECK_KIOSK__PORT='99999'", "kiosk.port"),
        ("GATECHECK_CAMRA__SOURCE='0'", "gatecheck_camra__source"),  # a typo is not ignored
        ("GATECHECK_THERMOMETER__KIND='infrared'", "thermometer.kind"),
        ("GATECHECK_CAMERA__ROI='10,20'", "camera.roi"),
    ):
        bad = tmp_path / "bad.env"
        bad.write_text(line + "\n")
        code, out = cli("edge", "config", "--check", str(bad))
        assert code == 1 and named in out.lower() and str(bad) in out, line


def test_options_override_variables_which_override_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "gatecheck.env").write_text("GATECHECK_KIOSK__PORT='8081'\nGATECHECK_SYNC__BATCH_SIZE='40'\n")
    monkeypatch.setenv("GATECHECK_HOME", str(home))
    monkeypatch.setenv("GATECHECK_SYNC__BATCH_SIZE", "50")
    code, out = cli("edge", "config")
    assert code == 0 and "GATECHECK_KIOSK__PORT=8081" in out and "GATECHECK_SYNC__BATCH_SIZE=50" in out
    # An option wins over both: a batch size the protocol refuses is a usage error.
    code, out = cli("sync", "run", "--once", "--batch-size", "6000")
    assert code == 2 and "6000" in out
