"""Shapes of the hub's JSON API for people and dashboards (device uploads: sync.protocol)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SitePublic(BaseModel):
    id: str
    name: str
    timezone: str
    report_deadline: str = Field("12:00", description="Each day's report is due the next day at this time.")


class DayCounts(BaseModel):
    """One site's numbers for one local day. Absent days are missing data, not zeros."""

    site_id: str
    date: str = Field(description="Local date in the site's timezone, YYYY-MM-DD.")
    checks: int = 0
    admitted: int = 0
    denied: int = 0
    remeasure: int = 0
    manual: int = 0
    fevers: int = 0
    code_red: int = 0
    refused: int = 0
    overrides: int = 0
    visitors: int = 0
    holders: int = Field(0, description="Unique people (by pseudonym).")
    devices: int = Field(0, description="Devices that reported checks that day.")
    temp_manual: int = Field(0, description="Checks whose temperature a guard typed in.")
    handovers: int = Field(0, description="Couriers' contactless hand-overs (they do not enter).")
    exits: int = Field(0, description="People recorded leaving (an exit gate, or a guard's tap).")
    vehicles: int = Field(0, description="Vehicle entries; their occupants are checked one by one.")
    by_category: dict[str, int] = Field(
        default_factory=dict, description="Checks per kind of person, where the gate recorded it."
    )
    complete: int = Field(
        0, description="Admissions with all four checks done properly (core.four_checks.DONE)."
    )
    incomplete_by_part: dict[str, int] = Field(
        default_factory=dict,
        description="Admissions with this part missing or hand-made: code, itinerary, temperature, mask.",
    )
    denied_by_reason: dict[str, int] = Field(default_factory=dict)
    by_gate: dict[str, int] = Field(default_factory=dict, description="Checks per entrance.")
    by_hour: dict[str, int] = Field(default_factory=dict, description="Checks per local hour (00-23).")

    @property
    def typed_share(self) -> float:
        return self.temp_manual / self.checks if self.checks else 0.0

    @property
    def incidents(self) -> int:
        return self.fevers + self.code_red + self.refused

    @property
    def complete_share(self) -> float | None:
        """Complete checks % of the day's admissions (None: nobody admitted)."""
        return self.complete / self.admitted if self.admitted else None


DayState = Literal["zero_report", "reported", "waiting", "late", "no_devices", "not_begun"]


class DayStatus(BaseModel):
    """Whether a site-day's report is complete, and what it says."""

    site_id: str
    date: str
    state: DayState = Field(
        description="zero_report: complete and all clear; reported: complete with incidents; "
        "waiting: devices have not synced past the day yet (named); late: still waiting after "
        "the deadline; no_devices: nothing enrolled; not_begun: the day has not ended."
    )
    waiting_for: list[str] = Field(default_factory=list, description="Gates whose devices are behind.")
    deadline: str = Field(description="When the report is due (site-local ISO time).")


class DeviceHealth(BaseModel):
    id: str
    gate: str
    status: str
    last_seen_ms: int | None
    synced_until_ms: int | None
    backlog: int | None
    clock_skew_ms: int | None
    software: str | None
    trust_version: int | None
    trust_age_hours: float | None
    policy_version: int | None = Field(None, description="Version of the site's rules the device applies.")


class FeverCase(BaseModel):
    """A confirmed fever followed through, as its gate recorded it: the first high reading,
    the re-test (how), the disposition, and the people checked at the gate around it."""

    site_id: str
    device_id: str
    gate: str
    seq: int
    temp_c: float | None
    event_ms: int
    retest_method: str | None
    """infrared, axillary or ear (None: a re-test by the camera, or an older device)."""
    first_seq: int | None
    first_temp_c: float | None
    first_event_ms: int | None
    disposition: str | None
    """observation_point, fever_clinic, ambulance_120, other (None: not yet recorded)."""
    disposition_ms: int | None
    present: list[str]
    """Pseudonyms of the others checked at the gate, from ten minutes before the first
    reading to the disposition (or now)."""


class Alert(BaseModel):
    id: int
    site_id: str
    gate: str
    reason: str
    temp_c: float | None
    event_ms: int
    received_ms: int
    acked_by: str | None
    acked_at_ms: int | None = None
    action: str | None = Field(None, description="What was done (hub.alerts.ACTIONS).")
    note: str | None = None
    escalated_ms: int | None = Field(
        None, description="When it passed its reporting deadline unacknowledged."
    )
    overridden: bool = Field(False, description="A guard later admitted the person by override.")
    gate_disposition: str | None = Field(
        None, description="Where the gate sent a confirmed fever (core.fever_drill.DISPOSITIONS)."
    )
