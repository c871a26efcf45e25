"""Which thermometer this gate has and how to talk to it — from the device's settings.

Every kind sits behind ``Thermometer``; hardware is opened on first use and reopened
after a failure, so a sensor plugged in late (or re-plugged) starts working without a
restart, while an absent one shows as a fault and the guard types temperatures.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

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


@dataclass(frozen=True)
class ThermometerConfig:
    kind: Kind = "simulated"
    offset_c: float = 0.0
    """Calibration offset added to sensor readings (measured against a reference)."""
    i2c_bus: int = 1
    i2c_address: int = DEFAULT_ADDRESS
    emissivity: float | None = None
    """Written to the MLX90614 when it differs (takes effect after a power cycle)."""
    serial_port: str = "/dev/ttyUSB0"
    serial_baud: int = 9600
    serial_command: str = ""
    """Sent before each reading; backslash escapes allowed (e.g. MEAS\\r\\n)."""
    serial_pattern: str = LineProtocol.pattern
    serial_unit: Unit = "C"
    seed: int = 0

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
