"""``gatecheck edge``: run checks on the device from images, folders or video sources."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from core.bundle import BundleError, DeviceBundle
from core.four_checks import (
    CATEGORIES,
    ITINERARY,
    MASK,
    SYMPTOMS,
    VEHICLE_ENTRY,
    VEHICLE_WINDOW_MS,
    Category,
    Itinerary,
    Looked,
    Mask,
    Symptom,
    vehicle_flag,
)
from edge import clock
from edge.camera import Roi, is_live, open_stream, reconnecting
from edge.cli_options import (
    camera_options,
    db_option,
    device_option,
    open_device,
    open_log,
    retention_option,
    thermometer_options,
)
from edge.device_home import DEFAULT_HOME
from edge.frames import FrameError, image_files, is_stream, read_image
from edge.log_identity import replaced_log
from edge.sensor_config import ThermometerConfig, open_thermometer
from edge.settings import current, set_home
from edge.station import GateStation, Outcome, measure
from edge.store import CheckStore, StorageFault, StoreError, SyncKey
from edge.thermometer import ManualEntry, ReadingError, Thermometer, parse_celsius


def _temperature(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_celsius(value)
    except ReadingError as exc:
        raise click.BadParameter(str(exc)) from exc


def _describe(outcome: Outcome, name: str) -> dict[str, Any]:
    return {
        "seq": outcome.seq,
        "source": name,
        "verdict": outcome.decision.verdict,
        "reason": outcome.decision.reason,
        "text": outcome.decision.text_en,
        "temp_c": outcome.reading.celsius if outcome.reading else None,
        "temp_source": outcome.reading.source if outcome.reading else "none",
        "code": outcome.code.text if outcome.code else None,
        "scheme": outcome.verification.scheme if outcome.verification else None,
        "name": outcome.display_name,
        "flags": list(outcome.decision.flags),
        "engine": outcome.code.engine if outcome.code else None,
    }


def _unstored(exc: StorageFault) -> str:
    return f"{exc}. This check was not recorded; the ones before it are safe."


def _symptoms(_ctx: click.Context, _param: click.Parameter, text: str | None) -> tuple[Symptom, ...] | None:
    """``--symptoms``: "none", or the questions answered yes, comma-separated."""
    if text is None:
        return None
    said = [s.strip() for s in text.split(",") if s.strip()]
    if said == ["none"]:
        return ()
    unknown = [s for s in said if s not in SYMPTOMS]
    if unknown or not said:
        named = ", ".join(unknown) or repr(text)
        raise click.BadParameter(f"{named}: say none, or some of {', '.join(SYMPTOMS)} (无，或以上各项)")
    return tuple(said)  # type: ignore[arg-type]


def _print_json(check: dict[str, Any]) -> None:
    click.echo(json.dumps(check, ensure_ascii=False))


def _print_line(check: dict[str, Any]) -> None:
    temp = "-" if check["temp_c"] is None else f"{check['temp_c']:.1f}"
    click.echo(
        f"#{check['seq']:<6} {check['verdict']:<9} {check['reason']:<18} "
        f"{temp:>5} °C ({check['temp_source']}) {check['source']}"
    )


class VehicleEntry:
    """One vehicle's occupants, checked one by one (002:21, 002:595): each check carries
    the entry's flag; its first also ``vehicle_entry`` and the plate (kept on the gate, in
    the check's note — the hub counts entries, not plates). The same plate again within
    ``VEHICLE_WINDOW_MS`` of its entry is the same entry, however many runs check it."""

    def __init__(self, plate: str, store: CheckStore) -> None:
        self.plate, self.store = plate.strip(), store
        now = clock.now().wall_ms
        earlier = store.flags_noted(self.note, now - VEHICLE_WINDOW_MS) or []
        found = next((f for f in earlier if f.startswith("vehicle_") and f != VEHICLE_ENTRY), None)
        self.flag = found or vehicle_flag(self.plate, now)
        self.first = found is None

    @property
    def note(self) -> str:
        return f"车牌 {self.plate}"

    def next(self) -> tuple[tuple[str, ...], str | None]:
        """The flags and note of the next occupant's check."""
        if not self.first:
            return (self.flag,), None
        self.first = False
        return (self.flag, VEHICLE_ENTRY), self.note


def _station(bundle: DeviceBundle, store: CheckStore) -> GateStation:
    """The gate loop with this device's decoder settings."""
    settings = current()
    return GateStation(
        bundle, store, settings.camera.cnn_fallback, settings.gate.direction, settings.gate.category
    )


@click.group()
def edge() -> None:
    """Gate-side commands: check people, inspect the local log."""


@edge.command()
@device_option
@db_option
@click.option(
    "--temp",
    callback=_temperature,
    help="Temperature typed by the guard, °C (recorded as manual). Default: the sensor.",
)
@thermometer_options
@click.option("--seed", default=0, show_default=True, help="Seed of the simulated sensor.")
@click.option(
    "--itinerary", type=click.Choice(list(ITINERARY)),
    help="The itinerary card the guard saw: green, star (a risk area) or none shown. Default: not looked at.",
)  # fmt: skip
@click.option(
    "--mask", type=click.Choice(list(MASK)),
    help="The mask: worn, none, or given (handed out at the gate). Default: not looked at.",
)  # fmt: skip
@click.option(
    "--category", type=click.Choice(list(CATEGORIES)),
    help="Who is entering (resident, staff, workman, courier …): per-kind rules apply.",
)  # fmt: skip
@click.option(
    "--symptoms", callback=_symptoms, metavar="none|cough,fatigue,fever_14d,contact",
    help="The health questions asked, and those answered yes (none: asked, all no). Default: not asked.",
)  # fmt: skip
@click.option(
    "--exit", "leaving", is_flag=True,
    help="People leaving (an exit gate): recorded and counted as exits, no temperature, no verdict.",
)  # fmt: skip
@click.option(
    "--vehicle", "plate", metavar="PLATE",
    help="Everyone in SOURCES came in this vehicle: their checks are grouped as one vehicle entry.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object per check.")
@click.argument("sources", nargs=-1, required=True)
def scan(
    device_path: Path,
    db_path: Path,
    temp: float | None,
    thermometer: ThermometerConfig,
    seed: int,
    itinerary: Itinerary | None,
    mask: Mask | None,
    category: Category | None,
    symptoms: tuple[Symptom, ...] | None,
    leaving: bool,
    plate: str | None,
    as_json: bool,
    sources: tuple[str, ...],
) -> None:
    """Check people from SOURCES: image files, folders of images, video files, camera
    indexes or stream URLs. A still image is one presentation (no code found → check by
    hand); in a video, frames with a code become checks and repeats are debounced. The
    itinerary card and the mask (the other two of the four checks) apply to every person
    of this run."""
    bundle, store = open_device(device_path, db_path, create=True)
    station = _station(bundle, store)
    vehicle = VehicleEntry(plate, store) if plate else None
    seeded = thermometer.model_copy(update={"seed": seed})
    sensor = ManualEntry(temp) if temp is not None else open_thermometer(seeded)
    emit = _print_json if as_json else _print_line
    failures = 0
    try:
        for source in sources:
            try:
                failures += _scan_source(
                    source, station, sensor, emit, Looked(itinerary, mask, category, symptoms), leaving,
                    vehicle,
                )  # fmt: skip
            except FrameError as exc:
                click.echo(f"error: {exc} — skipped, nothing recorded", err=True)
                failures += 1
    except StorageFault as exc:
        raise click.ClickException(_unstored(exc)) from exc
    finally:
        store.close()
    if failures:
        raise SystemExit(1)


def _scan_source(
    source: str,
    station: GateStation,
    thermometer: Thermometer,
    emit: Callable[[dict[str, Any]], None],
    looked: Looked,
    leaving: bool,
    vehicle: VehicleEntry | None,
) -> int:
    """Check every presentation in one source; return how many inputs failed."""
    if (leaving or vehicle) and is_stream(source):
        raise FrameError(f"{source}: --exit and --vehicle take image files (离开与车辆登记仅支持图片)")
    if is_stream(source):
        for outcome in station.watch(open_stream(source), thermometer, looked):
            emit(_describe(outcome, source))
        return 0
    path = Path(source)
    if path.is_dir():
        paths = image_files(path)
        if not paths:
            raise FrameError(f"no image files under {path}")
    else:
        paths = [path]
    failures = 0
    for image_path in paths:
        try:
            image = read_image(image_path)
        except FrameError as exc:
            click.echo(f"error: {exc} — skipped, nothing recorded", err=True)
            failures += 1
            continue
        code = station.first_code(image)
        if leaving:
            emit(_describe(station.record_exit(code), str(image_path)))
            continue
        flags, note = vehicle.next() if vehicle else ((), None)
        outcome = station.record(code, measure(thermometer), looked=looked, flags=flags, note=note)
        if code is None:
            click.echo(
                f"warning: no QR code found in {image_path} — recorded as a manual check "
                f"(#{outcome.seq}); the guard must verify by hand",
                err=True,
            )
        emit(_describe(outcome, str(image_path)))
    return failures


@edge.command()
@device_option
@db_option
@camera_options
@thermometer_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per check.")
def run(
    device_path: Path,
    db_path: Path,
    source: str,
    roi: Roi | None,
    thermometer: ThermometerConfig,
    as_json: bool,
) -> None:
    """The gate's camera loop without a screen: every code shown to the camera becomes a
    check. Live sources drop stale frames; the same code within the debounce time is one
    check."""
    bundle, store = open_device(device_path, db_path, create=True)
    station = _station(bundle, store)
    emit = _print_json if as_json else _print_line
    try:
        for outcome in station.watch(open_stream(source, roi), open_thermometer(thermometer)):
            emit(_describe(outcome, source))
    except FrameError as exc:
        raise click.ClickException(str(exc)) from exc
    except StorageFault as exc:
        raise click.ClickException(_unstored(exc)) from exc
    finally:
        store.close()


@edge.command()
@db_option
def status(db_path: Path) -> None:
    """How many checks are stored and how many still wait for the hub."""
    store = open_log(db_path)
    click.echo(f"check log: {db_path}")
    total = store.count()
    click.echo(f"checks: {total}  synced up to: #{store.acked_seq()}  backlog: {store.backlog()}")
    for key, label in ((SyncKey.UPLINK_OK_MS, "last upload"), (SyncKey.DOWNLINK_OK_MS, "last config check")):
        stamp = store.state(key)
        when = datetime.fromtimestamp(stamp / 1000, UTC).isoformat(timespec="seconds") if stamp else "never"
        click.echo(f"{label}: {when}")


@edge.command()
@device_option
@db_option
@camera_options
@thermometer_options
@click.option(
    "--host",
    default=lambda: current().kiosk.host,
    help="Address the page is served on [setting GATECHECK_KIOSK__HOST; default 127.0.0.1].",
)
@click.option(
    "--port",
    default=lambda: current().kiosk.port,
    type=click.IntRange(1, 65535),
    help="Port of the page [setting GATECHECK_KIOSK__PORT; default 8080].",
)
@click.option(
    "--clear-after",
    default=lambda: current().kiosk.clear_after_s,
    type=click.FloatRange(0.5, 60),
    help="Seconds a verdict stays on screen [setting GATECHECK_KIOSK__CLEAR_AFTER_S; default 3].",
)
@click.option(
    "--volume",
    default=lambda: current().kiosk.volume,
    type=click.IntRange(0, 100),
    help="Loudness of prompts and the fever alarm, 0-100 [setting GATECHECK_KIOSK__VOLUME; default 80].",
)
def kiosk(
    device_path: Path,
    db_path: Path,
    source: str,
    roi: Roi | None,
    thermometer: ThermometerConfig,
    host: str,
    port: int,
    clear_after: float,
    volume: int,
) -> None:
    """The gate screen: the camera loop plus the guard's page at http://HOST:PORT/ (show
    it with Chromium in kiosk mode). A camera that cannot be opened shows as a fault on
    the page; guards can still enter people by hand."""
    import uvicorn

    from edge.kiosk.app import create_kiosk_app
    from edge.kiosk.runtime import Kiosk
    from edge.voice import Voice

    bundle, store = open_device(device_path, db_path, create=True)
    voice = Voice(db_path.parent / "voice")
    voice.render()  # once per device (cached beside the check log); seconds on a Pi
    gate = Kiosk(
        _station(bundle, store),
        open_thermometer(thermometer),
        clear_after_s=clear_after,
        volume=volume,
        voice=voice,
    )
    gate.log_replaced = replaced_log(device_path.parent, store, adopt=True)
    if gate.log_replaced is not None:
        click.echo(f"warning: {gate.log_replaced.describe()}", err=True)
    try:
        if is_live(source):  # a network or USB camera that drops is opened again
            gate.start_camera(reconnecting(source, roi, gate.camera_lost, gate.stopping))
        else:
            gate.start_camera(open_stream(source, roi))
    except FrameError as exc:
        gate.camera.set("error", str(exc))
        click.echo(f"warning: {exc}", err=True)
    uvicorn.run(create_kiosk_app(gate), host=host, port=port, log_level="warning")
    gate.stopping.set()


@edge.command()
@db_option
@retention_option("--days")
def purge(db_path: Path, retention_days: int) -> None:
    """Delete checks the hub has confirmed, and visitor records, older than DAYS. Checks
    not yet at the hub are never deleted. Run daily (the gatecheck-purge timer does)."""
    from edge import clock
    from edge.store import RELEASED_MS

    now_ms = clock.now().wall_ms
    if now_ms < RELEASED_MS:
        raise click.ClickException(
            "the clock is not set (1970?): cannot tell how old checks are; nothing purged"
        )
    store = open_log(db_path)
    try:
        purged = store.purge(now_ms - retention_days * 86_400_000)
        left, backlog = store.count(), store.backlog()
    finally:
        store.close()
    click.echo(
        f"purged {purged.checks} checks and {purged.visitors} visitor records older than "
        f"{retention_days} days; {left} checks kept ({backlog} not yet at the hub)"
    )


@edge.command()
@click.option(
    "--bundle",
    "bundle_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The device bundle from 'gatecheck provision device enrol' (or 'rotate').",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    is_eager=True,
    callback=set_home,
    help="Where the device keeps its bundle, log and settings [env GATECHECK_HOME; "
    "default /var/lib/gatecheck].",
)
@camera_options
@thermometer_options
@click.option(
    "--kiosk-port",
    default=lambda: current().kiosk.port,
    type=click.IntRange(1, 65535),
    help="Port of the gate page [setting GATECHECK_KIOSK__PORT; default 8080].",
)
@retention_option("--retention-days")
@click.option("--replace", is_flag=True, help="Set aside another device's unsynced log instead of refusing.")
def init(
    bundle_path: Path,
    home: Path | None,
    source: str,
    roi: Roi | None,
    thermometer: ThermometerConfig,
    kiosk_port: int,
    retention_days: int,
    replace: bool,
) -> None:
    """Set this board up as the device BUNDLE describes: its home, check log and settings
    file (read by the services and by every gatecheck command here). Run it again with a
    rotated bundle to change credentials; the log and its backlog stay, and so do the
    settings not given as options."""
    from edge.device_home import DeviceHome
    from edge.install import InitError, init_device

    try:
        bundle = DeviceBundle.load(bundle_path)
    except BundleError as exc:
        raise click.ClickException(str(exc)) from exc
    settings = current()
    device_home = DeviceHome(settings.home)
    settings = settings.model_copy(
        update={
            "device": device_home.bundle,
            "edge_db": device_home.database,
            "retention_days": retention_days,
            "camera": settings.camera.model_copy(update={"source": source, "roi": str(roi) if roi else None}),
            "thermometer": thermometer,
            "kiosk": settings.kiosk.model_copy(update={"port": kiosk_port}),
        }
    )
    try:
        result = init_device(device_home, bundle, settings, replace)
    except (InitError, StoreError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"device {bundle.device_id} ({bundle.gate}, {bundle.site_name}) is set up in {settings.home}")
    click.echo(f"  hub: {bundle.hub_url}   trust list version {bundle.trust.version}")
    click.echo(f"  camera: {source}   thermometer: {thermometer.describe()}")
    if result.previous_device == bundle.device_id:
        click.echo(f"  new credentials installed; {result.backlog} checks wait for the hub and will upload")
    elif result.archived is not None:
        click.echo(f"  the log of device {result.previous_device or 'unknown'} is kept in {result.archived}")
    click.echo("next: 'gatecheck doctor', then 'systemctl restart gatecheck-edge gatecheck-sync'")


@edge.command()
@click.option(
    "--check",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Validate this settings file (default: the device home's gatecheck.env).",
)
def config(file: Path | None) -> None:
    """Validate the device's settings and print them as the device runs with them (file,
    then GATECHECK_* variables). Exits 1 naming every bad line."""
    from edge.settings import DeviceSettings

    settings = current() if file is None else DeviceSettings.from_file(file)
    for key, value in settings.env_lines().items():
        click.echo(f"{key}={value}")


@edge.command()
@click.option("--url", help="The gate page (default: http://127.0.0.1:<the kiosk's port>/).")
@click.option("--chromium", default="/usr/bin/chromium", show_default=True)
@click.option(
    "--profile",
    type=click.Path(file_okay=False, path_type=Path),
    help="Chromium profile folder (default: $GATECHECK_HOME/chromium).",
)
@click.option("--chromium-arg", "extra", multiple=True, help="Extra Chromium flag (repeatable).")
@click.option(
    "--wait",
    default=120.0,
    show_default=True,
    type=click.FloatRange(1),
    help="Seconds to wait for the gate page.",
)
def browser(
    url: str | None, chromium: str, profile: Path | None, extra: tuple[str, ...], wait: float
) -> None:
    """Show the gate page full-screen in Chromium and keep it alive (the kiosk-browser
    service runs this under a Wayland kiosk compositor)."""
    from edge.browser import BrowserError, supervise, wait_for_page

    settings = current()
    url = url or f"http://127.0.0.1:{settings.kiosk.port}/"
    try:
        wait_for_page(url, wait)
        status = supervise(url, chromium, profile or settings.home / "chromium", extra)
    except BrowserError as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(status)


@edge.command("install-units")
@click.option(
    "--dest",
    default="/etc/systemd/system",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--user", default="gatecheck", show_default=True, help="Service account the units run as.")
@click.option("--home", envvar="GATECHECK_HOME", default=str(DEFAULT_HOME), show_default=True, type=Path)
@click.option(
    "--cage", default="/usr/bin/cage", show_default=True, type=Path, help="Wayland kiosk compositor."
)
def install_units(dest: Path, user: str, home: Path, cage: Path) -> None:
    """Write the systemd units (gate, sync, kiosk browser, daily purge) for this install;
    then: systemctl daemon-reload && systemctl enable --now ... (docs/deploy.md)."""
    from edge.service_units import render_units, write_units

    gatecheck = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name == "gatecheck" else None
    found = gatecheck or shutil.which("gatecheck")
    if found is None:
        raise click.ClickException("cannot find the gatecheck executable; install the package first")
    for path in write_units(render_units(Path(found), home, user, cage), dest):
        click.echo(path)


@edge.group()
def guard() -> None:
    """Guards who may log in on this gate's screen."""


@guard.command("add")
@db_option
@click.option("--id", "guard_id", required=True, help="Badge or staff number.")
@click.option("--name", required=True)
@click.option(
    "--pin",
    envvar="GATECHECK_GUARD_PIN",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="4 to 8 digits [env GATECHECK_GUARD_PIN; asked if missing].",
)
def guard_add(db_path: Path, guard_id: str, name: str, pin: str) -> None:
    """Add a guard, or reset their name and PIN."""
    from edge.guards import GuardBook, GuardError

    try:
        GuardBook(open_log(db_path)).add(guard_id, name, pin)
    except GuardError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"guard {guard_id} ({name}) can log in")


@guard.command("list")
@db_option
def guard_list(db_path: Path) -> None:
    """Active guards."""
    from edge.guards import GuardBook

    names = GuardBook(open_log(db_path)).names()
    for guard_id, name in names.items():
        click.echo(f"{guard_id}\t{name}")
