"""Melexis MLX90614 infrared thermometer on I2C (SMBus with packet error checking).

What the datasheet fixes and this driver relies on:

* RAM word 0x07 is the object temperature (Tobj1), 0x06 the sensor's own (ambient);
  a raw word counts 0.02 K; bit 15 set means the sensor flags an error.
* Every read ends with a PEC byte: CRC-8 (x⁸+x²+x+1) over the address with the write bit,
  the command, the address with the read bit and the two data bytes. A reading whose PEC
  does not match was corrupted on the wire and is read again.
* Emissivity lives in EEPROM cell 0x04 (command 0x24) as round(ε × 65535). An EEPROM cell
  must be erased (written 0) before a new value is written, each write takes ≤ 5 ms, and
  the sensor applies a new emissivity after a power cycle.
"""

from __future__ import annotations

import errno
import time
from typing import Protocol

from smbus2 import SMBus, i2c_msg

from edge.thermometer import Reading, SensorError

DEFAULT_ADDRESS = 0x5A
RAM_AMBIENT = 0x06
RAM_OBJECT = 0x07
EEPROM_EMISSIVITY = 0x24
EEPROM_WRITE_S = 0.01
READ_TRIES = 3
KELVIN_PER_COUNT = 0.02


class I2CBus(Protocol):
    """The part of ``smbus2.SMBus`` the driver uses: combined I2C transfers."""

    def i2c_rdwr(self, *i2c_msgs: i2c_msg) -> None: ...


def pec(data: bytes) -> int:
    """SMBus packet error code: CRC-8, polynomial 0x07, initial value 0."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def open_bus(number: int) -> I2CBus:
    """The Linux I2C adapter /dev/i2c-<number>."""
    try:
        bus: I2CBus = SMBus(number)
    except FileNotFoundError:
        raise SensorError(
            f"no I2C bus /dev/i2c-{number}: enable I2C (raspi-config → Interface Options → I2C) "
            "and check the sensor's cable"
        ) from None
    except PermissionError:
        raise SensorError(f"no permission for /dev/i2c-{number}: add the service user to group i2c") from None
    return bus


class MLX90614:
    """Object temperature from an MLX90614 at ``address`` on ``bus``."""

    def __init__(self, bus: I2CBus, address: int = DEFAULT_ADDRESS) -> None:
        self.bus, self.address = bus, address

    def _transfer(self, *messages: i2c_msg) -> None:
        try:
            self.bus.i2c_rdwr(*messages)
        except OSError as exc:
            if exc.errno in (errno.EREMOTEIO, errno.ENXIO, errno.EIO, errno.ETIMEDOUT):
                raise SensorError(
                    f"no answer from the MLX90614 at address 0x{self.address:02x}: check its wiring "
                    "and power (i2cdetect shows what answers on the bus)"
                ) from exc
            raise SensorError(f"I2C error talking to the MLX90614: {exc}") from exc

    def read_word(self, command: int) -> int:
        """One 16-bit word, its PEC checked; corrupted transfers are retried."""
        for _ in range(READ_TRIES):
            request = i2c_msg.write(self.address, [command])
            answer = i2c_msg.read(self.address, 3)
            self._transfer(request, answer)
            low, high, check = bytes(answer)
            header = bytes([self.address << 1, command, (self.address << 1) | 1])
            if pec(header + bytes([low, high])) == check:
                return low | high << 8
        raise SensorError(f"the MLX90614's answers fail their checksum {READ_TRIES} times: check the cable")

    def write_word(self, command: int, value: int) -> None:
        low, high = value & 0xFF, value >> 8
        check = pec(bytes([self.address << 1, command, low, high]))
        self._transfer(i2c_msg.write(self.address, [command, low, high, check]))

    def _celsius(self, command: int) -> float:
        raw = self.read_word(command)
        if raw & 0x8000:
            raise SensorError("the MLX90614 flags its reading as invalid (error bit set)")
        return round(raw * KELVIN_PER_COUNT - 273.15, 2)

    def object_celsius(self) -> float:
        return self._celsius(RAM_OBJECT)

    def ambient_celsius(self) -> float:
        return self._celsius(RAM_AMBIENT)

    def read(self) -> Reading:
        return Reading(self.object_celsius(), "sensor")

    def emissivity(self) -> float:
        return round(self.read_word(EEPROM_EMISSIVITY) / 0xFFFF, 3)

    def set_emissivity(self, value: float) -> None:
        """Store a new emissivity (0.1–1.0; human skin ≈ 0.98). Erase, write, read back;
        the sensor uses it after its next power cycle."""
        if not 0.1 <= value <= 1.0:
            raise ValueError(f"emissivity {value} must lie between 0.1 and 1.0")
        word = round(value * 0xFFFF)
        if self.read_word(EEPROM_EMISSIVITY) == word:
            return  # EEPROM cells wear too: do not rewrite an equal value
        self.write_word(EEPROM_EMISSIVITY, 0)
        time.sleep(EEPROM_WRITE_S)
        self.write_word(EEPROM_EMISSIVITY, word)
        time.sleep(EEPROM_WRITE_S)
        stored = self.read_word(EEPROM_EMISSIVITY)
        if stored != word:
            raise SensorError(f"emissivity write did not take (stored 0x{stored:04x}, wanted 0x{word:04x})")
