"""The device's three clocks, read together for every check.

A Raspberry Pi has no RTC: until NTP answers, its wall clock may say 1970. The monotonic
boot-time clock and the kernel's boot id let the hub re-anchor such checks to real time
later (it knows its own time when a batch from the same boot arrives).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


@cache
def boot_id() -> str:
    """The kernel's id for this boot; a random stand-in where the kernel has none."""
    try:
        return BOOT_ID_PATH.read_text().strip()
    except OSError:
        return f"proc-{uuid.uuid4()}"


@dataclass(frozen=True)
class ClockReading:
    wall_ms: int
    mono_ms: int
    boot_id: str


def now() -> ClockReading:
    """Wall clock, time since boot (CLOCK_BOOTTIME counts suspend too) and boot id."""
    mono_ns = time.clock_gettime_ns(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))
    return ClockReading(time.time_ns() // 1_000_000, mono_ns // 1_000_000, boot_id())


def utc_now() -> datetime:
    """The wall clock as an aware datetime (what the device believes the time is)."""
    return datetime.now(UTC)
