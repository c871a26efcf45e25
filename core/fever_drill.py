"""The fever drill's words, shared by the gate (which records them) and the hub (which
reports them): how a first high reading is re-tested, where a confirmed fever went, and
whose checks count as the people present (docs/kiosk.md, "Fever drill")."""

from __future__ import annotations

from typing import Literal

RetestMethod = Literal["infrared", "axillary", "ear"]
"""The drill asks for another method than the gate's infrared where one is at hand (an
axillary mercury thermometer, by a medic)."""

RETEST_METHODS: dict[RetestMethod, tuple[str, str]] = {
    "infrared": ("红外测温", "Infrared"),
    "axillary": ("腋下水银体温计", "Axillary mercury"),
    "ear": ("耳温枪", "Ear thermometer"),
}

Disposition = Literal["observation_point", "fever_clinic", "ambulance_120", "other"]
"""Where a confirmed fever went (the temporary observation point first)."""

DISPOSITIONS: dict[str, tuple[str, str]] = {
    "observation_point": ("已送临时观察点", "Taken to the observation point"),
    "fever_clinic": ("已送发热门诊", "Taken to the fever clinic"),
    "ambulance_120": ("已呼叫 120", "Ambulance (120) called"),
    "other": ("其他（须填写）", "Other (say what)"),
    "left_untested": ("离开未复测", "Left before the re-test"),
}
"""Every disposition a case can close with (the last for a first high reading released)."""

LEFT_UNTESTED = "left_untested"

PRESENT_BEFORE_MS = 10 * 60_000
"""A fever case's people present: those checked at its gate from this long before its
first high reading until its disposition (the gate records them, the hub can list them)."""
