"""A gate for kiosk tests: frames fed by the test into the real camera loop, a sensor the
test sets, a guard on file, and the page's server on a loopback port."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from edge.frames import Frame
from edge.thermometer import Reading

GUARD_ID, GUARD_NAME, GUARD_PIN = "G01", "王保安", "2468"
LOGIN = {"guard_id": GUARD_ID, "pin": GUARD_PIN, "temp_c": 36.5}
"""What a guard types to start a shift: id, PIN and their own temperature."""


@dataclass
class SettableSensor:
    """An infrared sensor whose next reading the test chooses (or makes fail)."""

    celsius: float | None = 36.5

    def read(self) -> Reading:
        if self.celsius is None:
            raise OSError("sensor not answering on the bus")
        return Reading(self.celsius, "sensor")


class FrameFeed:
    """A camera whose frames the test hands in, one at a time."""

    def __init__(self) -> None:
        self._frames: queue.Queue[Frame | None] = queue.Queue()

    def show(self, image: np.ndarray) -> None:
        self._frames.put(Frame("camera", image, still=False))

    def unplug(self) -> None:
        self._frames.put(None)

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self._frames.get()) is not None:
            yield frame
