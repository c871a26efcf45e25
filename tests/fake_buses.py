"""Hardware stand-ins at the byte level: an I2C adapter with an MLX90614 on it, and a
serial thermometer on the far end of a real pseudo-terminal.

The drivers under test talk to these exactly as to the kernel: ``i2c_rdwr`` with smbus2's
own message structures (bytes copied into the read buffers), and a tty opened by pyserial.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from collections.abc import Callable

from smbus2 import i2c_msg
from smbus2.smbus2 import I2C_M_RD

from edge.mlx90614 import pec


class FakeMLX90614Bus:
    """An I2C adapter with one MLX90614. Like the chip: answers reads with LSB, MSB, PEC;
    ignores writes with a wrong PEC; a write of 0 erases an EEPROM cell, any other write
    ORs into it (a value written without an erase comes out wrong); an absent address is
    not acknowledged (EREMOTEIO)."""

    def __init__(self, address: int = 0x5A, object_c: float = 36.6, ambient_c: float = 24.0) -> None:
        self.address = address
        self.ram = {0x06: self.word_for(ambient_c), 0x07: self.word_for(object_c)}
        self.eeprom = {0x04: 0xFFFF}
        self.corrupt_next = 0
        """Flip a bit in the next N answers' PEC, as a noisy cable would."""
        self.writes: list[bytes] = []

    @staticmethod
    def word_for(celsius: float) -> int:
        return round((celsius + 273.15) / 0.02)

    def set_object(self, celsius: float) -> None:
        self.ram[0x07] = self.word_for(celsius)

    def _word(self, command: int) -> int:
        if command & 0xE0 == 0x00:
            return self.ram.get(command & 0x1F, 0)
        if command & 0xE0 == 0x20:
            return self.eeprom.get(command & 0x1F, 0)
        raise OSError(errno.EIO, "Input/output error")

    def i2c_rdwr(self, *messages: i2c_msg) -> None:
        if any(m.addr != self.address for m in messages):
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        first = bytes(messages[0])
        if len(messages) == 2 and messages[1].flags & I2C_M_RD:
            command = first[0]
            word = self._word(command)
            low, high = word & 0xFF, word >> 8
            check = pec(bytes([self.address << 1, command, (self.address << 1) | 1, low, high]))
            if self.corrupt_next:
                self.corrupt_next -= 1
                check ^= 0x01
            answer = bytes([low, high, check])
            ctypes.memmove(messages[1].buf, answer, len(answer))
            return
        if len(messages) == 1 and len(first) == 4:
            self.writes.append(first)
            command, low, high, check = first
            if pec(bytes([self.address << 1, command, low, high])) != check or command & 0xE0 != 0x20:
                return  # the chip ignores it
            cell, value = command & 0x1F, low | high << 8
            self.eeprom[cell] = value if value == 0 else self.eeprom.get(cell, 0) | value
            return
        raise OSError(errno.EIO, "Input/output error")


class PtyThermometer:
    """A line-protocol thermometer on the master side of a pseudo-terminal; the driver
    opens ``path`` (the slave) with pyserial like a USB-serial adapter."""

    def __init__(self, respond: Callable[[bytes], bytes | None], stream: bytes | None = None) -> None:
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        self._slave = slave
        self.respond, self.stream = respond, stream
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import select

        while not self._stop.is_set():
            if self.stream is not None:
                os.write(self.master, self.stream)
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 256)
            except OSError:
                return
            self.received += data
            if b"\n" in self.received:
                request, _, rest = bytes(self.received).partition(b"\n")
                self.received = bytearray(rest)
                answer = self.respond(request + b"\n")
                if answer:
                    os.write(self.master, answer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self._slave)
