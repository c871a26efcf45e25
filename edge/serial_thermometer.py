"""Infrared thermometers on a serial or USB-serial port that speak in lines of text.

Models differ, so the protocol is configuration, not code: an optional command that asks
for a reading (many stream on their own), a regular expression whose first group is the
number, and the unit. Lines that do not match (banners, status, noise) are skipped until a
reading arrives or the timeout passes. Examples::

    command "MEAS\\r\\n", pattern  T=([-\\d.]+)C     → "T=36.62C"
    no command,           pattern  ([-\\d.]+)\\s*F  → "98.2 F" (Fahrenheit)
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Literal, Protocol

import serial

from edge.thermometer import Reading, SensorError

Unit = Literal["C", "F"]
DEFAULT_PATTERN = r"(-?\d+(?:\.\d+)?)"


class SerialPort(Protocol):
    """The part of ``serial.Serial`` the driver uses."""

    def reset_input_buffer(self) -> None: ...
    def write(self, data: bytes, /) -> int | None: ...
    def readline(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class LineProtocol:
    command: bytes = b""
    """Sent before each reading; empty for thermometers that stream readings."""
    pattern: str = DEFAULT_PATTERN
    unit: Unit = "C"
    timeout_s: float = 2.0

    def parse(self, line: bytes) -> float | None:
        """The temperature in °C on this line, or None if the line carries none."""
        match = re.search(self.pattern, line.decode("ascii", errors="replace"))
        if match is None:
            return None
        try:
            value = float(match.group(1))
        except (IndexError, ValueError):
            return None
        return round((value - 32) * 5 / 9, 2) if self.unit == "F" else value


def open_port(path: str, baudrate: int, timeout_s: float) -> SerialPort:
    try:
        port: SerialPort = serial.Serial(path, baudrate=baudrate, timeout=min(timeout_s, 0.5))
    except serial.SerialException as exc:
        raise SensorError(
            f"cannot open the thermometer's serial port {path}: is it plugged in? ({exc})"
        ) from None
    return port


class SerialThermometer:
    def __init__(self, port: SerialPort, protocol: LineProtocol, name: str = "serial thermometer") -> None:
        self.port, self.protocol, self.name = port, protocol, name

    def read(self) -> Reading:
        """Ask (or wait) for a fresh reading. Stale lines already buffered are dropped, so
        the number belongs to the person at the gate now."""
        try:
            self.port.reset_input_buffer()
            if self.protocol.command:
                self.port.write(self.protocol.command)
            deadline = time.monotonic() + self.protocol.timeout_s
            while time.monotonic() < deadline:
                line = self.port.readline()
                if line:
                    value = self.protocol.parse(line)
                    if value is not None:
                        return Reading(value, "sensor")
        except serial.SerialException as exc:
            raise SensorError(f"the {self.name} stopped answering: {exc}") from exc
        raise SensorError(
            f"no reading from the {self.name} within {self.protocol.timeout_s:g} s: "
            "check its cable, power, baud rate and the configured command/pattern"
        )
