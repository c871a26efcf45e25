"""The device's settings: one model, read once from the device home.

A gate device keeps its settings in ``$GATECHECK_HOME/gatecheck.env`` (``/var/lib/gatecheck``
unless the variable says otherwise), one ``GATECHECK_*`` line each, nested sections
separated by ``__`` (``GATECHECK_THERMOMETER__KIND='mlx90614'``). ``gatecheck edge init``
writes it, systemd hands it to the services as their ``EnvironmentFile``, and every
``gatecheck`` command on the device reads it through ``DeviceSettings`` — so the services
and a technician's shell always agree. Variables in the environment win over the file;
command-line options win over both. An unknown or invalid line is an error that names it
(``gatecheck edge config --check``), never silently ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import click
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from core.four_checks import Category
from edge.camera import Roi
from edge.device_home import DEFAULT_HOME, DeviceHome, write_env_file
from edge.sensor_config import ThermometerConfig

PREFIX = "GATECHECK_"
NESTED = "__"


class CameraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field("0", description="Camera index, stream URL, video file or folder of images.")
    roi: str | None = Field(None, description="Only look at x,y,width,height (pixels) of each frame.")
    cnn_fallback: bool = Field(
        True, description="Try WeChat's CNN QR reader on still photos nothing else reads (off: slow boards)."
    )

    @field_validator("roi")
    @classmethod
    def _roi(cls, value: str | None) -> str | None:
        if value:
            Roi.parse(value)  # ValueError names what is wrong
        return value or None


class KioskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address the gate page is served on (the screen is local).")
    port: int = Field(8080, ge=1, le=65535, description="Port of the gate page.")
    clear_after_s: float = Field(3.0, ge=0.5, le=60, description="Seconds a verdict stays on screen.")
    volume: int = Field(80, ge=0, le=100, description="Loudness of spoken prompts and alarms (0: silent).")


Direction = Literal["in", "out"]
"""Which way people pass a gate: checked coming in, or recorded going out."""


class GateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    direction: Direction = Field(
        "in", description="in: people are checked coming in; out: an exit gate (each code: a person leaving)."
    )
    category: Category | None = Field(
        None, description="Who comes through this gate unless the guard or the code says (staff gate: staff)."
    )


class SyncSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_s: float = Field(30.0, ge=0.1, le=86400, description="Seconds between sync rounds.")
    batch_size: int = Field(500, ge=1, le=5000, description="Most checks per batch.")
    max_batch_kb: int = Field(256, ge=1, le=64 * 1024, description="Most compressed KiB per batch.")
    max_backoff_s: float = Field(300.0, ge=0.1, le=86400, description="Longest wait between retries.")


class DeviceSettings(BaseSettings):
    """Everything a gate device is configured with, besides its bundle."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_nested_delimiter=NESTED, extra="forbid", env_file_encoding="utf-8"
    )

    home: Path = Field(DEFAULT_HOME, description="Where the device keeps its bundle, log and settings.")
    device: Path | None = Field(None, description="The device bundle (default: HOME/device.json).")
    edge_db: Path | None = Field(None, description="The check log (default: HOME/edge.db).")
    retention_days: int = Field(21, ge=1, description="Confirmed checks older than this are purged.")
    camera: CameraSettings = Field(default_factory=CameraSettings)
    thermometer: ThermometerConfig = Field(default_factory=ThermometerConfig)
    kiosk: KioskSettings = Field(default_factory=KioskSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    sync: SyncSection = Field(default_factory=SyncSection)

    @property
    def bundle_path(self) -> Path:
        return self.device or DeviceHome(self.home).bundle

    @property
    def db_path(self) -> Path:
        return self.edge_db or DeviceHome(self.home).database

    @classmethod
    def load(cls, home: Path | None = None) -> DeviceSettings:
        """The settings of the device at ``home`` (default ``$GATECHECK_HOME``): its settings
        file, then the environment. Raises ``click.ClickException`` naming a bad line."""
        home = home or Path(os.environ.get(f"{PREFIX}HOME") or DEFAULT_HOME)
        env_file = DeviceHome(home).env_file
        try:
            return cls(_env_file=env_file if env_file.exists() else None, home=home)
        except (ValidationError, SettingsError) as exc:
            raise click.ClickException(
                f"invalid device settings ({env_file} or GATECHECK_* variables):\n{exc}"
            ) from exc

    @classmethod
    def from_file(cls, path: Path) -> DeviceSettings:
        """The settings one file holds (for ``edge config --check FILE``), on defaults."""
        if not path.is_file():
            raise click.ClickException(f"no settings file at {path}")
        try:
            return cls(_env_file=path)
        except (ValidationError, SettingsError) as exc:
            raise click.ClickException(f"invalid device settings in {path}:\n{exc}") from exc

    def env_lines(self) -> dict[str, str]:
        """The settings as the lines of a settings file (every value, so a technician sees
        what the device runs with)."""
        lines: dict[str, str] = {}

        def put(prefix: str, values: dict[str, Any]) -> None:
            for name, value in values.items():
                if isinstance(value, dict):
                    put(f"{prefix}{name.upper()}{NESTED}", value)
                elif value is not None:
                    lines[f"{prefix}{name.upper()}"] = (
                        f"0x{value:02x}" if name == "i2c_address" else str(value)
                    )

        put(PREFIX, self.model_dump(exclude={"thermometer": {"seed"}}))
        return lines

    def save(self) -> None:
        write_env_file(DeviceHome(self.home).env_file, self.env_lines())


def current() -> DeviceSettings:
    """This command's settings, read once per invocation (a command's options take their
    defaults from here). ``--home`` given on the command line, when the command has it,
    is where they are read from."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    if "gatecheck.settings" not in root.meta:
        root.meta["gatecheck.settings"] = DeviceSettings.load(root.meta.get("gatecheck.home"))
    settings: DeviceSettings = root.meta["gatecheck.settings"]
    return settings


def set_home(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Callback of an eager ``--home`` option: read the settings of that home instead."""
    if value is not None:
        ctx.find_root().meta["gatecheck.home"] = value
        ctx.find_root().meta.pop("gatecheck.settings", None)
    return value
