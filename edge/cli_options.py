"""Options shared by the device's commands (``edge``, ``sync``, ``doctor``).

Each reads an environment variable, and on a device those come from the env file that
``gatecheck edge init`` writes (``$GATECHECK_HOME/gatecheck.env``, also systemd's
``EnvironmentFile``): the services and a technician's shell see the same settings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from core.bundle import BundleError, DeviceBundle
from edge.camera import Roi
from edge.device_home import DeviceHome
from edge.sensor_config import KINDS, ThermometerConfig
from edge.store import CheckStore, StorageFault, StoreError

device_option = click.option(
    "--device",
    "device_path",
    envvar="GATECHECK_DEVICE",
    default=lambda: DeviceHome.from_env().bundle,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Device bundle from enrolment [env GATECHECK_DEVICE; default $GATECHECK_HOME/device.json].",
)
db_option = click.option(
    "--db",
    "db_path",
    envvar="GATECHECK_EDGE_DB",
    default=lambda: DeviceHome.from_env().database,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The device's check log [env GATECHECK_EDGE_DB; default $GATECHECK_HOME/edge.db].",
)
"""Both default to the device home (``/var/lib/gatecheck`` unless ``GATECHECK_HOME`` says
otherwise), never the current folder: a command run anywhere finds the device's log."""


def retention_option(flag: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """How many days of confirmed checks the device keeps (purge and init share it)."""
    return click.option(
        flag,
        "retention_days",
        envvar="GATECHECK_RETENTION_DAYS",
        type=click.IntRange(1),
        default=21,
        show_default=True,
        help="Confirmed checks and visitor records older than this many days are purged "
        "[env GATECHECK_RETENTION_DAYS].",
    )


def open_log(db_path: Path, create: bool = False) -> CheckStore:
    """The check log, failures as CLI errors. Only commands that record checks may start a
    new log (``create``); the others say where they looked and what to do."""
    try:
        if not create and not db_path.exists():
            raise StoreError(
                f"no check log at {db_path}: this board is not set up as a gate (device home "
                f"{DeviceHome.from_env().path}). Set it up with 'gatecheck edge init --bundle FILE', "
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
        envvar="GATECHECK_ROI",
        callback=_roi,
        help="Only look at x,y,width,height (pixels) of each frame [env GATECHECK_ROI].",
    )(command)
    return click.option(
        "--source",
        envvar="GATECHECK_CAMERA",
        default="0",
        show_default=True,
        help="Camera index, stream URL, video file or folder [env GATECHECK_CAMERA].",
    )(command)


def _address(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        address = int(value, 0)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an I2C address such as 0x5a") from None
    if not 0x03 <= address <= 0x77:
        raise click.BadParameter(f"I2C address {value} lies outside 0x03–0x77")
    return address


THERMOMETER_OPTIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # ThermometerConfig field: (flag, env var, click.option keywords)
    "kind": (
        "--thermometer",
        "GATECHECK_THERMOMETER",
        {"type": click.Choice(KINDS), "default": "simulated", "help": "Temperature source (none: typed)."},
    ),
    "offset_c": (
        "--temp-offset",
        "GATECHECK_TEMP_OFFSET",
        {"type": click.FloatRange(-5, 5), "default": 0.0, "help": "Calibration offset added, °C."},
    ),
    "i2c_bus": (
        "--i2c-bus",
        "GATECHECK_I2C_BUS",
        {"type": click.IntRange(0), "default": 1, "help": "MLX90614: bus."},
    ),
    "i2c_address": (
        "--i2c-address",
        "GATECHECK_I2C_ADDRESS",
        {"default": "0x5a", "callback": _address, "help": "MLX90614: address."},
    ),
    "emissivity": (
        "--emissivity",
        "GATECHECK_EMISSIVITY",
        {"type": click.FloatRange(0.1, 1.0), "help": "MLX90614: emissivity to store (skin ≈ 0.98)."},
    ),
    "serial_port": (
        "--serial-port",
        "GATECHECK_SERIAL_PORT",
        {"default": "/dev/ttyUSB0", "help": "Serial: port."},
    ),
    "serial_baud": (
        "--serial-baud",
        "GATECHECK_SERIAL_BAUD",
        {"type": click.IntRange(300), "default": 9600, "help": "Serial: baud rate."},
    ),
    "serial_command": (
        "--serial-command",
        "GATECHECK_SERIAL_COMMAND",
        {"default": "", "help": r"Serial: sent per reading, escapes allowed (MEAS\r\n); empty: streams."},
    ),
    "serial_pattern": (
        "--serial-pattern",
        "GATECHECK_SERIAL_PATTERN",
        {"default": ThermometerConfig.serial_pattern, "help": "Serial: regex, group 1 is the number."},
    ),
    "serial_unit": (
        "--serial-unit",
        "GATECHECK_SERIAL_UNIT",
        {"type": click.Choice(["C", "F"]), "default": "C"},
    ),
}


def thermometer_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The thermometer settings, handed to the command as one ``thermometer`` config."""

    @functools.wraps(command)
    def with_config(*args: Any, **kwargs: Any) -> Any:
        config = ThermometerConfig(**{field: kwargs.pop(field) for field in THERMOMETER_OPTIONS})
        return command(*args, thermometer=config, **kwargs)

    for field, (flag, env, keywords) in reversed(THERMOMETER_OPTIONS.items()):
        help_text = f"{keywords.get('help', '')} [env {env}]".strip()
        with_config = click.option(
            flag, field, envvar=env, show_default="default" in keywords, **{**keywords, "help": help_text}
        )(with_config)
    return with_config


def thermometer_env(config: ThermometerConfig) -> dict[str, str]:
    """The env-file lines that give ``config`` back through ``thermometer_options``."""
    lines = {}
    for field, (_, env, _) in THERMOMETER_OPTIONS.items():
        value = getattr(config, field)
        if value is not None:
            lines[env] = f"0x{value:02x}" if field == "i2c_address" else str(value)
    return lines
