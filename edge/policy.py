"""The gate's verdict for one presentation: admit, deny, re-measure or check by hand.

Each verdict carries a stable reason code (what the hub counts and reports by) and the
texts the kiosk shows in zh-CN and English.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.thermometer import Reading

Verdict = Literal["admit", "deny", "remeasure", "manual"]

PLAUSIBLE_BODY_C = (34.0, 43.0)
"""An infrared reading outside this range is a sensor or aiming error, not a person."""

REASON_TEXTS: dict[str, tuple[str, str]] = {
    "ok": ("通行", "Admitted"),
    "fever": ("体温异常，禁止通行", "Temperature too high: entry refused"),
    "temp_out_of_range": ("体温读数异常，请复测", "Implausible reading: measure again"),
    "no_temperature": ("未测体温，请测温", "No temperature taken: measure first"),
    "no_code": ("未识别健康码，请人工核验", "No readable code: check by hand"),
}


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str

    @property
    def text_zh(self) -> str:
        return REASON_TEXTS[self.reason][0]

    @property
    def text_en(self) -> str:
        return REASON_TEXTS[self.reason][1]


def decide(has_code: bool, reading: Reading | None, fever_threshold_c: float) -> Decision:
    """Apply the gate rules in order of severity: a fever refuses entry whatever the code."""
    if reading is None:
        return Decision("manual", "no_temperature")
    low, high = PLAUSIBLE_BODY_C
    if not low <= reading.celsius <= high:
        return Decision("remeasure", "temp_out_of_range")
    if reading.celsius >= fever_threshold_c:
        return Decision("deny", "fever")
    if not has_code:
        return Decision("manual", "no_code")
    return Decision("admit", "ok")
