"""Which thermometer this gate has and how to talk to it — from the device's settings.

Every kind sits behind ``Thermometer``; hardware is opened on first use and reopened
after a failure, so a sensor plugged in late (or re-plugged) starts working without a
restart, while an absent one shows as a fault and the guard types temperatures.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from edge.mlx90614 import DEFAULT_ADDRESS, MLX90614, open_bus
from edge.serial_thermometer import LineProtocol, SerialThermometer, Unit, open_port
from edge.thermometer import (
    Calibrated,
    NoThermometer,
    Reading,
    SensorError,
    SimulatedThermometer,
    Thermometer,
)

Kind = Literal["simulated", "none", "mlx90614", "serial"]
KINDS: tuple[Kind, ...] = ("simulated", "none", "mlx90614", "serial")


def _i2c_address(value: object) -> object:
    """An address as technicians write it (``0x5a``) or as a number."""
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            raise ValueError(f"{value!r} is not an I2C address such as 0x5a") from None
    return value


class ThermometerConfig(BaseModel):
    """The thermometer section of the device's settings (``edge.settings``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind = Field("simulated", description="Temperature source (none: typed by the guard).")
    offset_c: float = Field(0.0, ge=-5, le=5, description="Calibration offset added to sensor readings, °C.")
    i2c_bus: int = Field(1, ge=0, description="MLX90614: I2C bus number.")
    i2c_address: Annotated[int, BeforeValidator(_i2c_address)] = Field(
        DEFAULT_ADDRESS, ge=0x03, le=0x77, description="MLX90614: address (0x03–0x77)."
    )
    emissivity: float | None = Field(
        None, ge=0.1, le=1.0, description="MLX90614: emissivity to store (skin ≈ 0.98; after a power cycle)."
    )
    serial_port: str = Field("/dev/ttyUSB0", description="Serial: port.")
    serial_baud: int = Field(9600, ge=300, description="Serial: baud rate.")
    serial_command: str = Field(
        "", description=r"Serial: sent per reading, escapes allowed (MEAS\r\n); empty: it streams."
    )
    serial_pattern: str = Field(LineProtocol.pattern, description="Serial: regex, group 1 is the number.")
    serial_unit: Unit = Field("C", description="Serial: unit the thermometer sends.")
    seed: int = Field(0, description="Simulated sensor: seed.")

    def describe(self) -> str:
        if self.kind == "mlx90614":
            return f"MLX90614 on I2C bus {self.i2c_bus} at 0x{self.i2c_address:02x}"
        if self.kind == "serial":
            return f"serial thermometer on {self.serial_port} at {self.serial_baud} baud"
        return {"simulated": "simulated sensor", "none": "no sensor (typed by the guard)"}[self.kind]


class Reconnecting:
    """Opens the hardware on first read; after a failure, the next read opens it again."""

    def __init__(self, opener: Callable[[], Thermometer]) -> None:
        self.opener = opener
        self.current: Thermometer | None = None

    def read(self) -> Reading:
        if self.current is None:
            self.current = self.opener()
        try:
            return self.current.read()
        except SensorError:
            self.current = None
            raise


def _mlx90614(config: ThermometerConfig) -> Thermometer:
    sensor = MLX90614(open_bus(config.i2c_bus), config.i2c_address)
    if config.emissivity is not None:
        sensor.set_emissivity(config.emissivity)
    return sensor


def _serial(config: ThermometerConfig) -> Thermometer:
    protocol = LineProtocol(
        command=codecs.decode(config.serial_command, "unicode_escape").encode("latin-1"),
        pattern=config.serial_pattern,
        unit=config.serial_unit,
    )
    port = open_port(config.serial_port, config.serial_baud, protocol.timeout_s)
    return SerialThermometer(port, protocol, config.describe())


def open_thermometer(config: ThermometerConfig) -> Thermometer:
    """The thermometer ``config`` describes, calibrated."""
    sensor: Thermometer
    if config.kind == "mlx90614":
        sensor = Reconnecting(lambda: _mlx90614(config))
    elif config.kind == "serial":
        sensor = Reconnecting(lambda: _serial(config))
    elif config.kind == "simulated":
        sensor = SimulatedThermometer(config.seed)
    else:
        return NoThermometer()
    return Calibrated(sensor, config.offset_c)
