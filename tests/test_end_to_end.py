"""One check's whole journey: image → decoder → device log → sync over HTTP → hub counts.

Everything is real: uvicorn on 127.0.0.1, SQLite files, the decoders, the CLI commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from core.bundle import DeviceBundle
from edge.store import CheckStore
from gatecheck.samples import render_frame, spoil, write_png
from hub.registry import Site, enrol_device
from hub.server import BackgroundHub
from tests.conftest import admin_session, cli, free_port


def edge_counts(db: Path) -> Counter[str]:
    """What the device recorded, in the hub's vocabulary."""
    store = CheckStore(db)
    counts: Counter[str] = Counter()
    for row in store.rows():
        counts["checks"] += 1
        counts[{"admit": "admitted", "deny": "denied"}.get(row["verdict"], row["verdict"])] += 1
        counts["fevers"] += row["reason"] == "fever"
    store.close()
    return counts


def hub_counts(url: str, site_id: str, engine: Engine) -> Counter[str]:
    days = admin_session(url, engine).get(f"/api/v1/sites/{site_id}/daily").json()
    counts: Counter[str] = Counter()
    for day in days:
        for key in ("checks", "admitted", "denied", "manual", "remeasure", "fevers"):
            counts[key] += day[key]
    return +counts


@pytest.mark.site_policy(retest_after_s=0)
def test_checks_reach_the_hub_exactly_once(
    tmp_path: Path,
    bundle: DeviceBundle,
    live_hub: BackgroundHub,
    site: Site,
    qr_png: Callable[..., Path],
    signed: Callable[..., str],
    hub_engine: Engine,
) -> None:
    live_hub_engine = hub_engine
    device, db = str(tmp_path / "device.json"), str(tmp_path / "edge.db")

    def scan(temp: str, source: Path) -> None:
        assert cli("edge", "scan", "--device", device, "--db", db, "--temp", temp, str(source))[0] == 0

    for i in range(6):
        qr_png(signed(f"RESIDENT-{i}"), f"r{i}.png", angle=i * 7)
    write_png(tmp_path / "images" / "spoiled.png", spoil(render_frame("x")))
    scan("36.5", tmp_path / "images")
    fever = qr_png(signed("FEVERISH"), "fever.png")
    scan("38.3", fever)  # measured twice: the second high reading is a confirmed fever
    scan("38.3", fever)

    code, out = cli("sync", "run", "--once", "--device", device, "--db", db)
    assert code == 0, out
    assert "9 new (1 urgent first), 1 already at hub" in out  # the fever went first
    expected = edge_counts(Path(db))
    assert expected == Counter(checks=9, admitted=6, manual=1, remeasure=1, denied=1, fevers=1)
    assert hub_counts(live_hub.url, site.id, live_hub_engine) == expected

    # Replaying the whole log (as after a lost acknowledgement) changes nothing at the hub.
    CheckStore(Path(db)).set_acked_seq(0)
    code, out = cli("sync", "run", "--once", "--device", device, "--db", db)
    assert code == 0 and "0 new (0 urgent first), 9 already at hub" in out
    assert hub_counts(live_hub.url, site.id, live_hub_engine) == expected


def test_unreachable_hub_keeps_every_check_until_it_comes_back(
    tmp_path: Path, hub_app: FastAPI, site: Site, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    port = free_port()
    bundle = enrol_device(hub_app.state.engine, site.id, "South", f"http://127.0.0.1:{port}")
    bundle.save(tmp_path / "device.json")
    device, db = str(tmp_path / "device.json"), str(tmp_path / "edge.db")
    for i in range(3):
        qr_png(signed(f"P{i}"), f"p{i}.png")
    assert (
        cli("edge", "scan", "--device", device, "--db", db, "--temp", "36.6", str(tmp_path / "images"))[0]
        == 0
    )

    code, out = cli("sync", "run", "--once", "--device", device, "--db", db)
    assert code == 1
    assert "cannot reach hub" in out and "3 checks stay queued" in out
    assert CheckStore(Path(db)).backlog() == 3

    with BackgroundHub(hub_app, port=port) as hub:
        code, out = cli("sync", "run", "--once", "--device", device, "--db", db)
        assert code == 0, out
        assert CheckStore(Path(db)).backlog() == 0
        assert hub_counts(hub.url, site.id, hub_app.state.engine) == Counter(checks=3, admitted=3)


def test_demo_runs_and_agrees_with_itself(tmp_path: Path) -> None:
    """The README's demo, as a user runs it: a subprocess that must print OK and exit 0."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(
        [sys.executable, "-m", "gatecheck", "demo", "--people", "12", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "OK: the hub's counts equal what the gates were fed" in result.stdout
    for reason in ("fever", "code_red", "code_yellow", "expired", "signature_invalid"):
        assert f"{reason}: 2" in result.stdout
    assert (tmp_path / "hub.db").exists() and (tmp_path / "device-0" / "edge.db").exists()
    doctor = result.stdout.split("gatecheck doctor on device-0:")[1]
    assert "PASS  hub" in doctor and "PASS  camera" in doctor and "FAIL" not in doctor
    states = {
        line.split()[0]: line
        for line in result.stdout.split("Report states")[1].splitlines()[2:]
        if line.strip()
    }
    assert "zero_report" in states["静安小学"] and "reported" in states["平安银行支行"]
    assert "late" in states["东门菜市场"] and "东门 East gate" in states["东门菜市场"]  # quiet gate
    assert "no data yet" in states["和平小区"] and "正门 Main gate" in states["和平小区"]  # silent, never 0
