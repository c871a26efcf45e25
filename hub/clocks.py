"""Placing checks in time when device clocks cannot be trusted.

A gate board has no RTC: until NTP answers it may think it is 1970, and it may reboot
offline. Every batch carries the device's wall clock, its monotonic (since-boot) clock and
its boot id, and the hub knows its own time when the batch arrives. From that, per
(device, boot):

* skew = device wall clock - hub clock (shown in device health);
* mono offset = hub clock - device monotonic clock: adding it to a check's monotonic
  reading gives the hub-clock time of the check, whatever the wall clock said.

A check whose wall clock agrees with its anchored time (within CLOCK_TOLERANCE) keeps its
own time ("device"); otherwise it takes the anchored time ("anchored"). A check from a
boot the hub never heard from keeps its wall clock if that is plausible, else it is
placed at its arrival ("received").
"""

from __future__ import annotations

from dataclasses import dataclass

from core import RELEASED

CLOCK_TOLERANCE_MS = 5 * 60 * 1000
_RELEASED_MS = int(RELEASED.timestamp() * 1000)


@dataclass(frozen=True)
class BootClock:
    skew_ms: int
    mono_offset_ms: int


def measure(sent_wall_ms: int, sent_mono_ms: int, received_ms: int) -> BootClock:
    """What one batch tells about its boot's clocks (network latency is noise here)."""
    return BootClock(skew_ms=sent_wall_ms - received_ms, mono_offset_ms=received_ms - sent_mono_ms)


def place(wall_ms: int, mono_ms: int, boot: BootClock | None, received_ms: int) -> tuple[int, str]:
    """When a check happened by the hub's clock, and how we know."""
    if boot is not None:
        anchored = mono_ms + boot.mono_offset_ms
        if abs(wall_ms - anchored) <= CLOCK_TOLERANCE_MS:
            return wall_ms, "device"
        return anchored, "anchored"
    if _RELEASED_MS <= wall_ms <= received_ms + CLOCK_TOLERANCE_MS:
        return wall_ms, "device"
    return received_ms, "received"
