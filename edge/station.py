"""The gate station: one presentation in, one stored check out.

This is the edge's data path — frame → decode → temperature → policy → local log — kept
in one place so the CLI, the camera loop and the kiosk all record checks the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from edge import clock
from edge.decode import Code, decode
from edge.policy import Decision, decide
from edge.pseudonym import pseudonym
from edge.store import CheckStore, NewCheck
from edge.thermometer import Reading
from provisioning.bundle import DeviceBundle

DEBOUNCE_SECONDS = 5.0
"""A code seen again by the camera within this time is the same person, not a new check."""


def scheme_of(payload: bytes) -> str:
    """Which health-code scheme a payload claims to be (verification comes per scheme)."""
    if payload.startswith(b"HC1:"):
        return "hc1"
    if payload.startswith(b"GC1:"):
        return "gc1"
    return "opaque"


@dataclass(frozen=True)
class Outcome:
    seq: int
    decision: Decision
    reading: Reading | None
    code: Code | None


@dataclass
class GateStation:
    bundle: DeviceBundle
    store: CheckStore
    _recent: dict[bytes, float] = field(default_factory=dict)

    def record(self, code: Code | None, reading: Reading | None) -> Outcome:
        """Decide and durably log one presentation."""
        decision = decide(code is not None, reading, self.bundle.fever_threshold_c)
        now = clock.now()
        seq = self.store.append(
            NewCheck(
                device_id=self.bundle.device_id,
                gate=self.bundle.gate,
                wall_ms=now.wall_ms,
                mono_ms=now.mono_ms,
                boot_id=now.boot_id,
                verdict=decision.verdict,
                reason=decision.reason,
                temp_c=reading.celsius if reading else None,
                temp_source=reading.source if reading else "none",
                scheme=scheme_of(code.payload) if code else None,
                holder=pseudonym(self.bundle.pseudonym_key_bytes, code.payload) if code else None,
                engine=code.engine if code else None,
            )
        )
        return Outcome(seq, decision, reading, code)

    def first_code(self, image: np.ndarray) -> Code | None:
        codes = decode(image)
        return codes[0] if codes else None

    def is_repeat(self, code: Code, now: float | None = None) -> bool:
        """True when the camera saw this exact code moments ago (debounce)."""
        now = time.monotonic() if now is None else now
        self._recent = {p: t for p, t in self._recent.items() if now - t < DEBOUNCE_SECONDS}
        repeat = code.payload in self._recent
        self._recent[code.payload] = now
        return repeat
