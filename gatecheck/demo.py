"""``gatecheck demo``: the whole chain on embedded defaults, checked end to end.

A hub on SQLite in a working folder, one site with two gates, sample camera images (codes
on screens, spoiled codes, fevers, a temperature typed by a guard), checks through the
real decoder into each device's SQLite log, sync over HTTP, and the hub's daily counts
compared with what the gates were fed.
"""

from __future__ import annotations

import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import click
import httpx

from edge.frames import read_image
from edge.station import GateStation
from edge.store import CheckStore
from edge.thermometer import Reading
from gatecheck.samples import render_frame, spoil, write_png
from hub.core.config import HubSettings
from hub.main import create_app
from hub.schemas import DayCounts
from hub.server import BackgroundHub
from provisioning.bundle import DeviceBundle
from provisioning.registry import create_site, enrol_device
from sync.agent import SyncAgent

SITE_NAME = "阳光花园小区 Sunshine Garden"
SITE_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Visit:
    """One person at the gate and what the gate must decide."""

    label: str
    payload: str | None
    """The code shown; None when the code is unreadable (spoiled image)."""
    temp_c: float
    typed: bool
    expect: tuple[str, str]


def scenario(gate: int, people: int) -> list[Visit]:
    """A gate's morning: mostly residents, some fevers, spoiled codes, a typed reading."""
    visits: list[Visit] = []
    for i in range(people):
        payload = f"https://hc.example.invalid/v?token=G{gate}R{i:04d}"
        if i % 7 == 3:
            visits.append(Visit(f"fever-{i}", payload, 37.6 + 0.3 * (i % 3), False, ("deny", "fever")))
        elif i % 5 == 4:
            visits.append(Visit(f"unreadable-{i}", None, 36.4, False, ("manual", "no_code")))
        elif i % 6 == 5:
            visits.append(Visit(f"typed-{i}", payload, 36.7, True, ("admit", "ok")))
        else:
            visits.append(Visit(f"resident-{i}", payload, 36.2 + 0.1 * (i % 7), False, ("admit", "ok")))
    return visits


def expected_counts(visits: list[Visit]) -> Counter[str]:
    """What the hub must report for these visits, independent of the hub's own code."""
    counts: Counter[str] = Counter(checks=len(visits))
    for visit in visits:
        verdict, reason = visit.expect
        counts[{"admit": "admitted", "deny": "denied"}.get(verdict, verdict)] += 1
        counts["fevers"] += reason == "fever"
        counts["temp_manual"] += visit.typed
    return counts


def hub_totals(days: list[DayCounts]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for day in days:
        for field in ("checks", "admitted", "denied", "remeasure", "manual", "fevers", "temp_manual"):
            totals[field] += getattr(day, field)
    return totals


def run_gate(bundle: DeviceBundle, store: CheckStore, visits: list[Visit], images: Path) -> list[str]:
    """Render each visit's camera frame, check it through the real decoder; list surprises."""
    station = GateStation(bundle, store)
    problems = []
    for n, visit in enumerate(visits):
        seed = zlib.crc32(f"{bundle.gate}/{n}".encode())
        frame = render_frame(visit.payload or "spoiled", angle=(n % 5) * 4 - 8, blur=0.6, noise=4, seed=seed)
        path = write_png(
            images / f"{n:03d}-{visit.label}.png", spoil(frame) if visit.payload is None else frame
        )
        code = station.first_code(read_image(path))
        outcome = station.record(code, Reading(visit.temp_c, "manual" if visit.typed else "sensor"))
        got = (outcome.decision.verdict, outcome.decision.reason)
        if got != visit.expect:
            problems.append(f"{path.name}: gate decided {got}, expected {visit.expect}")
    return problems


COLUMNS = (
    ("checks", "checks", 8),
    ("admitted", "admitted", 10),
    ("denied", "denied", 8),
    ("fevers", "fevers", 8),
    ("manual", "manual", 8),
    ("typed", "temp_manual", 7),
)


def _table(days: list[DayCounts]) -> str:
    """The hub's counts as a fixed-width table, one line per local day."""
    head = f"{'date':<12}" + "".join(f"{title:>{width}}" for title, _, width in COLUMNS)
    lines = [head + "  denied by reason"]
    for day in days:
        numbers = "".join(f"{getattr(day, field):>{width}}" for _, field, width in COLUMNS)
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(day.denied_by_reason.items())) or "-"
        lines.append(f"{day.date:<12}{numbers}  {reasons}")
    return "\n".join(lines)


@click.command()
@click.option("--serve", is_flag=True, help="Keep the hub running after the demo (Ctrl-C stops).")
@click.option("--port", default=0, help="Hub port (default: any free port).")
@click.option("--people", default=24, show_default=True, help="People per gate.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's databases and images here (default: a temporary folder).",
)
def demo(serve: bool, port: int, people: int, workdir: Path | None) -> None:
    """Run the whole chain — hub, site, two gates, sample images, sync — and check that the
    hub's daily counts equal what the gates were fed."""
    with tempfile.TemporaryDirectory(prefix="gatecheck-demo-") as tmp:
        root = workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        _run(root, serve, port, people)


def _run(root: Path, serve: bool, port: int, people: int) -> None:
    settings = HubSettings(database_url=f"sqlite:///{root / 'hub.db'}")
    app = create_app(settings)
    engine = app.state.engine
    with BackgroundHub(app, port=port) as server:
        click.echo(f"hub: {server.url}  (database {root / 'hub.db'})")
        site = create_site(engine, SITE_NAME, SITE_TIMEZONE)
        click.echo(f"site: {site.name} [{site.id}] in {site.timezone}")
        expected: Counter[str] = Counter()
        problems: list[str] = []
        for index, gate in enumerate(("北门 North gate", "南门 South gate")):
            bundle = enrol_device(engine, site.id, gate, server.url)
            bundle.save(root / f"device-{index}.json")
            store = CheckStore(root / f"edge-{index}.db")
            visits = scenario(index, people)
            problems += run_gate(bundle, store, visits, root / "images" / f"gate-{index}")
            expected += expected_counts(visits)
            report = SyncAgent(bundle, store).push()
            click.echo(
                f"gate {gate} [{bundle.device_id}]: {len(visits)} checks recorded, "
                f"{report.stored} synced, backlog {report.backlog}"
            )
            store.close()
        response = httpx.get(f"{server.url}/api/v1/sites/{site.id}/daily", timeout=10)
        response.raise_for_status()
        days = [DayCounts.model_validate(d) for d in response.json()]
        click.echo(f"\nHub daily counts for {site.name} ({site.timezone}):")
        click.echo(_table(days))
        totals = hub_totals(days)
        mismatched = {k: (totals[k], v) for k, v in expected.items() if totals[k] != v}
        for problem in problems:
            click.echo(f"problem: {problem}", err=True)
        if mismatched or problems:
            for key, (got, want) in mismatched.items():
                click.echo(f"MISMATCH {key}: hub {got}, fed {want}", err=True)
            raise SystemExit(1)
        click.echo(f"\nOK: the hub's counts equal what the gates were fed ({expected['checks']} checks).")
        click.echo(f"Dashboard: {server.url}/")
        if serve:
            click.echo("Serving; press Ctrl-C to stop.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
