"""Options shared by the device's commands (``edge``, ``sync``, ``doctor``).

Each takes its default from the device's settings (``edge.settings.DeviceSettings``: the
settings file in the device home, then ``GATECHECK_*`` variables), so an option only
overrides what the device is configured with.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import click
from pydantic import ValidationError

from core.bundle import BundleError, DeviceBundle
from edge.camera import Roi
from edge.sensor_config import ThermometerConfig
from edge.settings import current
from edge.store import CheckStore, StorageFault, StoreError

device_option = click.option(
    "--device",
    "device_path",
    default=lambda: current().bundle_path,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Device bundle from enrolment [setting GATECHECK_DEVICE; default $GATECHECK_HOME/device.json].",
)
db_option = click.option(
    "--db",
    "db_path",
    default=lambda: current().db_path,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The device's check log [setting GATECHECK_EDGE_DB; default $GATECHECK_HOME/edge.db].",
)
"""Both default to the device home (``/var/lib/gatecheck`` unless ``GATECHECK_HOME`` says
otherwise), never the current folder: a command run anywhere finds the device's log."""


def retention_option(flag: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """How many days of confirmed checks the device keeps (purge and init share it)."""
    return click.option(
        flag,
        "retention_days",
        type=click.IntRange(1),
        default=lambda: current().retention_days,
        help="Confirmed checks and visitor records older than this many days are purged "
        "[setting GATECHECK_RETENTION_DAYS; default 21].",
    )


def open_log(db_path: Path, create: bool = False) -> CheckStore:
    """The check log, failures as CLI errors. Only commands that record checks may start a
    new log (``create``); the others say where they looked and what to do."""
    try:
        if not create and not db_path.exists():
            raise StoreError(
                f"no check log at {db_path}: this board is not set up as a gate (device home "
                f"{current().home}). Set it up with 'gatecheck edge init --bundle FILE', "
                "or point GATECHECK_HOME or --db at the device's log."
            )
        return CheckStore(db_path)
    except StorageFault as exc:
        raise click.ClickException(f"{exc}. Nothing was recorded; the stored checks are safe.") from exc
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def open_device(device_path: Path, db_path: Path, create: bool = False) -> tuple[DeviceBundle, CheckStore]:
    """The bundle, then the check log (see ``open_log``), failures as CLI errors."""
    try:
        bundle = DeviceBundle.load(device_path)
    except BundleError as exc:
        raise click.ClickException(str(exc)) from exc
    return bundle, open_log(db_path, create)


def _roi(ctx: click.Context, param: click.Parameter, value: str | None) -> Roi | None:
    try:
        return Roi.parse(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def camera_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--source and --roi, the same for every command that watches the camera."""
    command = click.option(
        "--roi",
        default=lambda: current().camera.roi,
        callback=_roi,
        help="Only look at x,y,width,height (pixels) of each frame [setting GATECHECK_CAMERA__ROI].",
    )(command)
    return click.option(
        "--source",
        default=lambda: current().camera.source,
        help="Camera index, stream URL, video file or folder [setting GATECHECK_CAMERA__SOURCE; default 0].",
    )(command)


THERMOMETER_FLAGS: dict[str, str] = {
    "kind": "--thermometer",
    "offset_c": "--temp-offset",
    "i2c_bus": "--i2c-bus",
    "i2c_address": "--i2c-address",
    "emissivity": "--emissivity",
    "serial_port": "--serial-port",
    "serial_baud": "--serial-baud",
    "serial_command": "--serial-command",
    "serial_pattern": "--serial-pattern",
    "serial_unit": "--serial-unit",
}
"""The thermometer section's fields as options; types, ranges and help come from the model."""


def thermometer_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The thermometer settings, handed to the command as one ``thermometer`` config: the
    device's settings with whatever options were given laid over them (and checked by the
    same model)."""

    @functools.wraps(command)
    def with_config(*args: Any, **kwargs: Any) -> Any:
        given = {field: value for field in THERMOMETER_FLAGS if (value := kwargs.pop(field)) is not None}
        try:
            config = ThermometerConfig.model_validate(current().thermometer.model_dump() | given)
        except ValidationError as exc:
            raise click.BadParameter(str(exc)) from exc
        return command(*args, thermometer=config, **kwargs)

    fields = ThermometerConfig.model_fields
    for field, flag in reversed(THERMOMETER_FLAGS.items()):
        choices = get_args(fields[field].annotation) if field in ("kind", "serial_unit") else ()
        setting = f"GATECHECK_THERMOMETER__{field.upper()}"
        with_config = click.option(
            flag,
            field,
            type=click.Choice(choices) if choices else str,
            help=f"{fields[field].description} [setting {setting}; default {fields[field].default}]",
        )(with_config)
    return with_config
