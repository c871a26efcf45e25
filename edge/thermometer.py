"""Temperature readings and where they came from.

Sites have caught people reporting "normal" without measuring, so every reading says
whether a sensor produced it or a guard typed it. The hardware drivers (``edge.mlx90614``
on I2C, ``edge.serial_thermometer`` on a serial/USB port) sit behind the same
``Thermometer`` interface as the simulator; ``edge.sensor_config`` picks one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal, Protocol

Source = Literal["sensor", "manual"]


class ReadingError(ValueError):
    """A temperature value that is not a usable number."""


class SensorError(ReadingError):
    """The sensor gave no usable reading (unplugged, no answer, corrupted bytes); the
    message says what a technician should look at. The guard measures by hand meanwhile."""


@dataclass(frozen=True)
class Reading:
    celsius: float
    source: Source


def parse_celsius(text: str) -> float:
    """A typed temperature as a finite number of degrees Celsius, or a clear error."""
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise ReadingError(f"temperature {text!r} is not a number (example: 36.6)") from None
    if not math.isfinite(value):
        raise ReadingError(f"temperature {text!r} is not a finite number")
    return value


class Thermometer(Protocol):
    def read(self) -> Reading: ...


@dataclass
class ManualEntry:
    """A value a guard typed in."""

    celsius: float

    def read(self) -> Reading:
        return Reading(self.celsius, "manual")


@dataclass
class SimulatedThermometer:
    """Stands in for the infrared sensor where there is none: mostly normal readings."""

    seed: int = 0
    fever_rate: float = 0.05

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def read(self) -> Reading:
        if self._random.random() < self.fever_rate:
            return Reading(round(self._random.uniform(37.3, 39.5), 1), "sensor")
        return Reading(min(round(self._random.gauss(36.5, 0.25), 1), 37.1), "sensor")


class NoThermometer:
    """A gate without a sensor: every reading fails, so the guard types the temperature."""

    def read(self) -> Reading:
        raise ReadingError("no thermometer connected: type the temperature by hand")


@dataclass
class Calibrated:
    """A sensor with this device's calibration offset (from a reference thermometer at
    installation) added to every reading it makes. Typed readings are never adjusted."""

    inner: Thermometer
    offset_c: float

    def read(self) -> Reading:
        reading = self.inner.read()
        if reading.source != "sensor" or not self.offset_c:
            return reading
        return Reading(round(reading.celsius + self.offset_c, 2), reading.source)
