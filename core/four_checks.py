"""The sites' "four checks" (四件套: scan the health code, look at the itinerary card, take
the temperature, check the mask — 002:995, 002:1205) and how each was done.

Inspections found "codes missed or not scanned, temperatures not measured" (001:30), so
every check says, part by part, what was done. The camera cannot see the itinerary card or
the mask: the guard says what they saw (``edge scan --itinerary/--mask``) and it travels
with the check as flags (``itinerary_green``, ``mask_given``) — no new wire column, and a
hub that predates them stores them as any flag. The code and the temperature are read
from the check itself. A check that says nothing of a part — from a gate older
than this — is *not recorded*, never *passed*.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Part = Literal["code", "itinerary", "temperature", "mask"]
PARTS: tuple[Part, ...] = ("code", "itinerary", "temperature", "mask")

Category = Literal["resident", "staff", "student", "teacher", "visitor", "courier", "workman", "returnee"]
"""Who is entering (002:21, 000:581, 001:26): set by the guard or a device default."""
CATEGORIES: dict[str, tuple[str, str]] = {
    "resident": ("居民", "Resident"),
    "staff": ("工作人员", "Staff"),
    "student": ("学生", "Student"),
    "teacher": ("教师", "Teacher"),
    "visitor": ("访客", "Visitor"),
    "courier": ("快递外卖", "Courier"),
    "workman": ("施工人员", "Workman"),
    "returnee": ("返乡人员", "Returnee"),
}

Symptom = Literal["cough", "fatigue", "fever_14d", "contact"]
"""The questions asked of visitors, returnees and anyone the guard asks (the list is site
policy): any "yes" refuses entry and is urgent."""
SYMPTOMS: dict[str, tuple[str, str]] = {
    "cough": ("咳嗽", "Cough"),
    "fatigue": ("乏力", "Fatigue"),
    "fever_14d": ("14天内发热", "Fever in the last 14 days"),
    "contact": ("接触过病例", "Contact with a case"),
}

Itinerary = Literal["green", "star", "none"]
Mask = Literal["worn", "none", "given"]

ITINERARY: dict[str, tuple[str, str]] = {
    "green": ("行程卡绿色", "Itinerary card green"),
    "star": ("行程卡带星号", "Itinerary card with a star"),
    "none": ("未出示行程卡", "No itinerary card shown"),
}
MASK: dict[str, tuple[str, str]] = {
    "worn": ("已佩戴口罩", "Mask worn"),
    "none": ("未佩戴口罩", "No mask"),
    "given": ("现场发放口罩", "Mask handed out"),
}

DONE: dict[Part, frozenset[str]] = {
    "code": frozenset({"verified"}),
    "itinerary": frozenset({"green", "star"}),
    "temperature": frozenset({"sensor"}),
    "mask": frozenset({"worn", "given"}),
}
"""How each part counts as done properly: a code verified by the gate (not a colour a
guard confirmed, not an ID alone), a card shown, a reading from the sensor (not typed),
a mask on the face (one handed out at the gate counts)."""

VERIFIED_SCHEMES = frozenset({"gc1", "hc1"})


@dataclass(frozen=True)
class Looked:
    """What the guard saw of the two parts the camera cannot (None: not looked at)."""

    itinerary: Itinerary | None = None
    mask: Mask | None = None
    category: Category | None = None
    """Who the person is (recorded as ``person_<category>``; per-category rules apply)."""
    symptoms: tuple[Symptom, ...] | None = None
    """The questions answered "yes" (an empty tuple: asked, all "no"; None: not asked)."""


NOT_LOOKED = Looked()
"""Neither looked at: a camera alone, or a gate older than the four checks."""


VEHICLE_ENTRY = "vehicle_entry"
"""The flag on the first occupant's check of a vehicle entry: what the hub counts."""


def vehicle_flag(plate: str, entered_ms: int) -> str:
    """The flag grouping the checks of one vehicle entry (002:21, 002:595): a hash of the
    plate and the moment it came in, so the plate itself stays on the gate."""
    entry = hashlib.sha256(f"{plate.strip().upper()}|{entered_ms}".encode()).hexdigest()[:12]
    return f"vehicle_{entry}"


VEHICLE_WINDOW_MS = 10 * 60_000
"""Occupants of the same plate checked within this of its entry belong to that entry."""


def flag_of(part: Literal["itinerary", "mask", "person", "symptom"], outcome: str) -> str:
    """The flag a part's outcome travels as: ``itinerary_green``, ``mask_given`` (flags are
    lower-case words: core.protocol)."""
    return f"{part}_{outcome}"


def _flagged(flags: Iterable[str], part: str) -> str | None:
    prefix = f"{part}_"
    return next((f[len(prefix) :] for f in flags if f.startswith(prefix)), None)


def how_done(check: Mapping[str, object]) -> dict[Part, str]:
    """How each part of one check was done, from what the check records: ``reason``,
    ``scheme``, ``temp_source`` and ``flags`` (a list, or the hub's comma-joined text)."""
    flags = _flag_list(check.get("flags"))
    reason, scheme = check.get("reason"), check.get("scheme")
    if reason == "id_checked":
        code = "id_only"
    elif reason in ("override", "visitor") or "override" in flags:
        code = "guard"
    elif scheme in VERIFIED_SCHEMES:
        code = "verified"
    elif scheme:
        code = "unverified"
    else:
        code = "none"
    source = check.get("temp_source")
    return {
        "code": code,
        "itinerary": _flagged(flags, "itinerary") or "not_recorded",
        "temperature": "typed" if source == "manual" else "sensor" if source == "sensor" else "none",
        "mask": _flagged(flags, "mask") or "not_recorded",
    }


def _flag_list(raw: object) -> list[str]:
    """A check's flags: a list on the gate, comma-joined text at the hub."""
    if not raw:
        return []
    return raw.split(",") if isinstance(raw, str) else list(raw)  # type: ignore[call-overload]


def category_of(flags: object) -> str | None:
    """The person's category a check records (None: not said)."""
    return _flagged(_flag_list(flags), "person")


def missing_parts(check: Mapping[str, object]) -> list[Part]:
    """The parts of a check not done properly (see ``DONE``)."""
    done = how_done(check)
    return [part for part in PARTS if done[part] not in DONE[part]]
