"""The registry's records and requests — what the hub's admin API takes and gives, and
what ``gatecheck provision`` sends, whether through that API or on the hub's machine —
and the errors the registry raises."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.policy import Policy
from core.protocol import GATE_MAX
from core.text import Line

DEFAULT_ORGANISATION = "Default organisation"


class RegistryError(Exception):
    """A site, device or issuer request that cannot be carried out (the message says why)."""


class UnknownRecord(RegistryError):
    """The site or device named does not exist."""


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(min_length=1, max_length=128)


class OrganisationRecord(BaseModel):
    id: str
    name: str
    sites: int = 0


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(min_length=1, max_length=128)
    timezone: Line = Field(max_length=64, description="IANA timezone, e.g. Asia/Shanghai.")
    organisation: Line = Field(DEFAULT_ORGANISATION, min_length=1, max_length=128)
    report_deadline: Line = Field(
        "12:00", max_length=5, description="Daily report due the next day at HH:MM."
    )
    policy: Policy | None = None
    region_id: Line | None = Field(None, max_length=32, description="The region it is in (region list).")
    category_id: Line | None = Field(None, max_length=32, description="Its kind of venue (category list).")


class RegionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(min_length=1, max_length=100, description="e.g. 某市, 某区, 某街道, 某社区.")
    parent_id: Line | None = Field(None, max_length=32, description="The region it is part of (none: a top).")


class RegionRecord(BaseModel):
    id: str
    name: str
    parent_id: str | None
    depth: int = Field(description="0 for a top region, 1 below it, …")
    sites: int = Field(0, description="Sites in it and every region below.")


class CategorySet(BaseModel):
    """A kind of venue, added or renamed."""

    model_config = ConfigDict(extra="forbid")

    name_zh: Line = Field(min_length=1, max_length=50)
    name_en: Line = Field(min_length=1, max_length=80)


class CategoryRecord(BaseModel):
    id: str
    name_zh: str
    name_en: str
    position: int


class SitePlacement(BaseModel):
    """Where a site belongs: its region and its kind of venue (None: none)."""

    model_config = ConfigDict(extra="forbid")

    region_id: Line | None = Field(None, max_length=32)
    category_id: Line | None = Field(None, max_length=32)


class PolicyChange(BaseModel):
    """A change of a site's gate rules: the fields that change, from when, and why."""

    model_config = ConfigDict(extra="forbid")

    changes: dict[str, Any] = Field(
        default_factory=dict, description="Policy fields and their new values (docs/policy.md)."
    )
    inherit: list[str] = Field(
        default_factory=list,
        description="Fields the site stops setting itself: the region's or organisation's apply.",
    )
    effective_from: AwareDatetime | None = Field(None, description="When it applies (default: now).")
    reason: Line = Field(min_length=2, max_length=200, description="Why the rules change.")


def typed_value(text: str) -> Any:
    """A rule's value as a person types it: JSON where it parses (37.0, true, ["green"]),
    else the text itself (manual, deny …)."""
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()


LevelKind = Literal["org", "region"]
"""Where defaults are set: an organisation or a region."""


class DefaultsChange(BaseModel):
    """A change of the defaults at an organisation or a region."""

    model_config = ConfigDict(extra="forbid")

    changes: dict[str, Any] = Field(default_factory=dict, description="Fields and their new defaults.")
    inherit: list[str] = Field(default_factory=list, description="Fields this level stops setting.")
    lock: list[str] = Field(default_factory=list, description="Fields no level below may change.")
    unlock: list[str] = Field(default_factory=list, description="Fields levels below may change again.")
    effective_from: AwareDatetime | None = Field(None, description="When it applies (default: now).")
    reason: Line = Field(min_length=2, max_length=200, description="Why the defaults change.")


class DefaultsRecord(BaseModel):
    scope: str
    version: int
    fields: dict[str, Any]
    locked: list[str]
    effective_from_ms: int
    author: str
    reason: str
    created_ms: int
    sites_changed: int = Field(0, description="Sites below that got a new version of their rules.")


class PolicyVersionRecord(BaseModel):
    site_id: str
    version: int
    policy: Policy
    overrides: dict[str, Any] = Field(default_factory=dict, description="The fields the site set itself.")
    effective_from_ms: int
    author: str
    reason: str
    created_ms: int


class SiteRecord(BaseModel):
    id: str
    name: str
    timezone: str
    region_id: str | None = None
    category_id: str | None = None


class DeviceEnrol(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: Line = Field(max_length=32)
    gate: Line = Field(min_length=1, max_length=GATE_MAX)
    hub_url: Line = Field(min_length=1, max_length=255, description="URL the device will sync to.")


class DeviceRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hub_url: Line | None = Field(
        None, max_length=255, description="A new hub URL for the bundle, if it moved."
    )


class DeviceRecord(BaseModel):
    """A device as the hub knows it."""

    id: str
    site_id: str
    site_name: str
    gate: str
    status: str = Field(description="active or revoked.")
    created_at_ms: int
    key_rotated_ms: int | None = None
    revoked_ms: int | None = None
    last_seen_ms: int | None = None
    acked_seq: int = 0
    """How far the hub holds the device's newest check log."""
    backlog: int | None = None
    software: str | None = None
