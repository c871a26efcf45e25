"""What the kiosk's JSON routes answer — response models, like the hub's."""

from __future__ import annotations

from pydantic import BaseModel

from core.policy import Colour, Verdict
from core.protocol import TempSource
from edge.tables.guards import ShiftCounts


class ShownCheck(BaseModel):
    """What the page shows for a check, and which follow-up actions apply to it."""

    seq: int
    verdict: Verdict
    reason: str
    text_zh: str
    text_en: str
    temp_c: float | None
    temp_source: TempSource
    name: str | None
    """Masked (张*), never the full name."""
    flags: list[str]
    guard_id: str | None
    refers_to: int | None
    recorded_ms: int
    hold: bool
    """A fever case (first high reading, confirmed fever): the lane is held until a guard acts."""
    actions: list[str]
    camera_colour: Colour | None = None
    """The colour the camera read off the code: pre-selected when the guard confirms one."""


class GuardOnDuty(BaseModel):
    id: str
    name: str


class ShiftReport(BaseModel):
    """The handover: the shift's checks by verdict, and the visitors still inside."""

    guard: str
    name: str | None = None
    started_ms: int
    ended_ms: int | None = None
    counts: ShiftCounts


class Health(BaseModel):
    camera_alive: bool
    page_alive: bool
