"""``gatecheck demo``: the whole chain on embedded defaults, checked end to end.

A hub on SQLite in a working folder, one site with two gates, sample camera images (codes
on screens, spoiled codes, fevers, a temperature typed by a guard), checks through the
real decoder into each device's SQLite log (each device set up from its bundle as
``gatecheck edge init`` does), sync over HTTP, the hub's daily counts compared with what
the gates were fed, and what ``gatecheck doctor`` says on the first gate.
"""

from __future__ import annotations

import secrets
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import httpx

from core.bundle import DeviceBundle
from core.four_checks import NOT_LOOKED, Looked
from core.policy import Policy
from edge.codes import Colour
from edge.codes.names import mask_name
from edge.device_home import DeviceHome
from edge.doctor import DoctorSettings, examine
from edge.frames import read_image
from edge.install import init_device
from edge.sensor_config import ThermometerConfig
from edge.settings import CameraSettings, DeviceSettings
from edge.station import GateStation
from edge.store import CheckStore
from edge.thermometer import Reading
from gatecheck.demo_sites import echo_region, echo_states, more_sites, place_in_regions
from gatecheck.samples import forge_gc1, render_frame, spoil, write_png
from hub.auth import create_user
from hub.core.config import HubSettings
from hub.core.db import create_schema, make_engine
from hub.counting import VERDICT_METRICS
from hub.main import create_app
from hub.registry import create_site, enrol_device
from hub.schemas import DayCounts
from hub.server import BackgroundHub
from provisioning.issuers import IssuerSecret, create_issuer, issue_code
from sync.agent import SyncAgent

SITE_NAME = "阳光花园小区 Sunshine Garden"
SITE_TIMEZONE = "Asia/Shanghai"
ISSUER_NAME = "阳光物业 Sunshine Property"


@dataclass(frozen=True)
class Visit:
    """One presentation at the gate and what the gate must decide."""

    label: str
    payload: str | None
    """The code shown; None when the code is unreadable (spoiled image)."""
    temp_c: float
    typed: bool
    expect: tuple[str, str]
    looked: Looked = NOT_LOOKED
    """What the guard saw of the itinerary card and the mask (the camera sees neither)."""


def scenario(gate: int, people: int, issuer: IssuerSecret) -> list[Visit]:
    """A gate's morning: residents with signed codes, yellow and red codes, an expired
    code, a red code edited to green, a regional app code, spoiled codes, fevers (each
    measured twice, as the rules require: the demo site re-tests at once) and readings
    typed by the guard."""
    now = datetime.now(UTC)
    day = timedelta(days=1)

    def code(i: int, colour: Colour = "green", issued: datetime = now) -> str:
        return issue_code(issuer, f"G{gate}-ID{i:05d}", mask_name(f"Resident {i}"), colour, day, now=issued)

    visits: list[Visit] = []
    for i in range(people):
        kind = i % 12
        if kind == 3:
            payload = code(i)
            visits.append(Visit(f"fever-{i}", payload, 37.8, False, ("remeasure", "temp_high")))
            visits.append(Visit(f"fever-{i}-again", payload, 38.1, False, ("deny", "fever")))
        elif kind == 5:
            visits.append(Visit(f"yellow-{i}", code(i, "yellow"), 36.5, False, ("deny", "code_yellow")))
        elif kind == 7:
            visits.append(Visit(f"red-{i}", code(i, "red"), 36.6, False, ("deny", "code_red")))
        elif kind == 8:
            visits.append(
                Visit(f"expired-{i}", code(i, issued=now - 3 * day), 36.4, False, ("deny", "expired"))
            )
        elif kind == 9:
            forged = forge_gc1(code(i, "red"))
            visits.append(Visit(f"forged-{i}", forged, 36.5, False, ("deny", "signature_invalid")))
        elif kind == 10:
            regional = f"https://hc.example.invalid/v?token=G{gate}R{i:04d}"
            visits.append(Visit(f"regional-{i}", regional, 36.5, False, ("manual", "code_unverified")))
        elif kind == 11:
            visits.append(Visit(f"unreadable-{i}", None, 36.4, False, ("manual", "no_code")))
        elif kind == 4:
            starred = Looked("star", "worn")  # a risk area in the last 14 days: refused here
            visits.append(Visit(f"star-{i}", code(i), 36.4, False, ("deny", "itinerary_star"), starred))
        elif kind == 6 and gate == 1:
            # The south gate's couriers hand over at the gate; a visitor answers yes to a
            # question, another no to all.
            courier = Looked(category="courier")
            visits.append(Visit(f"courier-{i}", code(i), 36.5, False, ("deny", "courier_handover"), courier))
            coughing = Looked("green", "worn", "visitor", ("cough",))
            visits.append(Visit(f"visitor-{i}", code(i + 1000), 36.6, False, ("deny", "symptoms"), coughing))
            well = Looked("green", "worn", "visitor", ())  # asked, all no: admitted, then registered
            visits.append(Visit(f"visitor-{i}-well", code(i + 2000), 36.5, False, ("admit", "ok"), well))
        else:
            # Residents: most shown card and mask; one handed a mask at the gate; one the
            # guard waved through without looking (counted as incomplete, not as passed).
            looked = {2: Looked("green", "none"), 6: NOT_LOOKED}.get(kind, Looked("green", "worn"))
            typed = kind == 1
            visits.append(Visit(f"resident-{i}", code(i), 36.2 + 0.1 * kind, typed, ("admit", "ok"), looked))
    return visits


def expected_counts(visits: list[Visit]) -> Counter[str]:
    """What the hub must report for these visits, independent of the hub's own code."""
    counts: Counter[str] = Counter(checks=len(visits))
    for visit in visits:
        verdict, reason = visit.expect
        counts[VERDICT_METRICS[verdict]] += 1
        counts["fevers"] += reason == "fever"
        counts["temp_manual"] += visit.typed
        if verdict == "deny":
            counts[f"deny:{reason}"] += 1
        if verdict == "admit":
            parts = [
                *(["itinerary"] if visit.looked.itinerary in (None, "none") else []),
                *(["temperature"] if visit.typed else []),
                *(["mask"] if visit.looked.mask is None else []),  # "none" is handed one here
            ]
            counts.update([f"incomplete:{part}" for part in parts] or ["complete"])
    return counts


def hub_totals(days: list[DayCounts]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for day in days:
        for field in ("checks", "admitted", "denied", "remeasure", "manual", "fevers", "temp_manual"):
            totals[field] += getattr(day, field)
        for reason, n in day.denied_by_reason.items():
            totals[f"deny:{reason}"] += n
        totals["complete"] += day.complete
        for part, n in day.incomplete_by_part.items():
            totals[f"incomplete:{part}"] += n
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
        reading = Reading(visit.temp_c, "manual" if visit.typed else "sensor")
        outcome = station.record(code, reading, looked=visit.looked)
        got = (outcome.decision.verdict, outcome.decision.reason)
        if got != visit.expect:
            problems.append(f"{path.name}: gate decided {got}, expected {visit.expect}")
    return problems


COLUMNS = (
    ("checks", "checks", 8),
    ("admitted", "admitted", 10),
    ("denied", "denied", 8),
    ("remeasure", "remeasure", 11),
    ("fevers", "fevers", 8),
    ("manual", "manual", 8),
    ("typed", "temp_manual", 7),
    ("complete", "complete", 10),
)


def _doctor(home: DeviceHome, camera: Path) -> None:
    """What `gatecheck doctor` says on the first gate (its camera: the sample images)."""
    click.echo(f"\ngatecheck doctor on {home.path.name}:")
    settings = DoctorSettings(
        home.bundle, home.database, str(camera), None, ThermometerConfig(), min_free_mb=50
    )
    examine(settings, lambda f: click.echo(f"  {f.status}  {f.name:<13} {f.detail}"))


def _table(days: list[DayCounts]) -> str:
    """The hub's counts as a fixed-width table, one line per local day."""
    head = f"{'date':<12}" + "".join(f"{title:>{width}}" for title, _, width in COLUMNS)
    lines = [head + "  denied by reason | admitted with a part missing or hand-made"]
    for day in days:
        numbers = "".join(f"{getattr(day, field):>{width}}" for _, field, width in COLUMNS)
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(day.denied_by_reason.items())) or "-"
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(day.incomplete_by_part.items())) or "-"
        lines.append(f"{day.date:<12}{numbers}  {reasons} | {parts}")
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
    create_schema(make_engine(settings.database_url))  # what `gatecheck hub migrate` does
    app = create_app(settings)
    engine = app.state.engine
    with BackgroundHub(app, port=port) as server:
        click.echo(f"hub: {server.url}  (database {root / 'hub.db'})")
        # The demo runs in seconds, so its site's medic re-tests at once; the default
        # drill waits 5 minutes before the re-test (docs/kiosk.md, "Fever drill").
        site = create_site(engine, SITE_NAME, SITE_TIMEZONE, policy=Policy(retest_after_s=0))
        click.echo(f"site: {site.name} [{site.id}] in {site.timezone}")
        issuer = create_issuer(engine, ISSUER_NAME)
        issuer.save(root / "issuer.json")
        click.echo(f"issuer: {issuer.issuer} [kid {issuer.kid}] (gc1 codes)")
        expected: Counter[str] = Counter()
        problems: list[str] = []
        for index, gate in enumerate(("北门 North gate", "南门 South gate")):
            bundle = enrol_device(engine, site.id, gate, server.url)
            home = DeviceHome(root / f"device-{index}")  # as `gatecheck edge init` sets a board up
            camera = CameraSettings(source=str(root / "images" / f"gate-{index}"))
            init_device(home, bundle, DeviceSettings(home=home.path, camera=camera))
            store = CheckStore(home.database)
            visits = scenario(index, people, issuer)
            problems += run_gate(bundle, store, visits, root / "images" / f"gate-{index}")
            expected += expected_counts(visits)
            report = SyncAgent(bundle, store).push()
            click.echo(
                f"gate {gate} [{bundle.device_id}]: {len(visits)} checks recorded, "
                f"{report.stored} synced, backlog {report.backlog}"
            )
            store.close()
        others = more_sites(engine, server.url, root, SITE_TIMEZONE)
        for other in others:
            click.echo(f"site: {other.site.name} — {other.story}")
        city, district = place_in_regions(engine, site, others)
        _doctor(DeviceHome(root / "device-0"), root / "images" / "gate-0")
        password = secrets.token_urlsafe(12)
        create_user(engine, "admin", password, "admin")
        create_user(engine, "officer", password, "officer", region_ids=[district])
        api = httpx.Client(base_url=server.url, timeout=10, auth=httpx.BasicAuth("admin", password))
        response = api.get(f"/api/v1/sites/{site.id}/daily")
        response.raise_for_status()
        days = [DayCounts.model_validate(d) for d in response.json()]
        click.echo(f"\nHub daily counts for {site.name} ({site.timezone}):")
        click.echo(_table(days))
        totals = hub_totals(days)
        mismatched = {k: (totals[k], expected[k]) for k in expected | totals if totals[k] != expected[k]}
        for problem in problems:
            click.echo(f"problem: {problem}", err=True)
        if mismatched or problems:
            for key, (got, want) in mismatched.items():
                click.echo(f"MISMATCH {key}: hub {got}, fed {want}", err=True)
            raise SystemExit(1)
        echo_states(api, [site, *(other.site for other in others)], settings.offline_after_min * 60_000)
        echo_region(api, city)
        click.echo(f"\nOK: the hub's counts equal what the gates were fed ({expected['checks']} checks).")
        click.echo(f"Dashboard: {server.url}/  (log in as admin / {password}; a district's officer: officer)")
        if serve:
            click.echo("Serving; press Ctrl-C to stop.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
