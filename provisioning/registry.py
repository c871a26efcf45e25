"""Sites and devices in the hub's database: create a site, enrol a device.

Enrolment makes the device's Ed25519 key pair; the hub keeps only the public half, the
private half leaves in the device bundle and nowhere else.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, insert, select

from edge.policy import Policy
from hub.core.db import devices, organisations, sites
from hub.trust import build_trust_list
from provisioning.bundle import DeviceBundle
from provisioning.errors import ProvisioningError
from sync.protocol import public_key_for


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    timezone: str


def _now_ms() -> int:
    return int(time.time() * 1000)


DEFAULT_ORGANISATION = "Default organisation"
_DEADLINE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def ensure_organisation(engine: Engine, name: str) -> str:
    """The id of the organisation with this name, created if needed."""
    name = name.strip()
    if not name:
        raise ProvisioningError("organisation name must not be empty")
    with engine.begin() as conn:
        found = conn.scalar(select(organisations.c.id).where(organisations.c.name == name))
        if found:
            return str(found)
        org_id = f"org-{secrets.token_hex(5)}"
        conn.execute(insert(organisations).values(id=org_id, name=name, created_at_ms=_now_ms()))
        return org_id


def create_site(
    engine: Engine,
    name: str,
    timezone: str,
    policy: Policy | None = None,
    organisation: str = DEFAULT_ORGANISATION,
    report_deadline: str = "12:00",
) -> Site:
    """Register a site; its timezone decides where its days begin and end, and each day's
    report is due the next day at ``report_deadline`` (local HH:MM)."""
    name = name.strip()
    if not name:
        raise ProvisioningError("site name must not be empty")
    if not _DEADLINE.match(report_deadline):
        raise ProvisioningError(f"report deadline {report_deadline!r} must be HH:MM, e.g. 12:00")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProvisioningError(
            f"unknown timezone {timezone!r}; use an IANA name such as Asia/Shanghai"
        ) from None
    site = Site(f"site-{secrets.token_hex(5)}", name, timezone)
    org_id = ensure_organisation(engine, organisation)
    with engine.begin() as conn:
        conn.execute(
            insert(sites).values(
                id=site.id,
                org_id=org_id,
                report_deadline=report_deadline,
                name=site.name,
                timezone=site.timezone,
                pseudonym_key=secrets.token_bytes(32),
                policy=(policy or Policy()).model_dump_json(),
                created_at_ms=_now_ms(),
            )
        )
    return site


def enrol_device(engine: Engine, site_id: str, gate: str, hub_url: str) -> DeviceBundle:
    """Register a new device at a gate of a site and return its bundle."""
    gate = gate.strip()
    if not gate:
        raise ProvisioningError("gate name must not be empty")
    signing_key = secrets.token_bytes(32)
    device_id = f"dev-{secrets.token_hex(5)}"
    with engine.begin() as conn:
        site = conn.execute(select(sites).where(sites.c.id == site_id)).one_or_none()
        if site is None:
            raise ProvisioningError(f"no site {site_id!r}; list them with 'gatecheck provision site list'")
        conn.execute(
            insert(devices).values(
                id=device_id,
                site_id=site_id,
                gate=gate,
                public_key=public_key_for(signing_key),
                status="active",
                acked_seq=0,
                created_at_ms=_now_ms(),
            )
        )
    return DeviceBundle(
        device_id=device_id,
        site_id=site_id,
        site_name=site.name,
        timezone=site.timezone,
        gate=gate,
        hub_url=hub_url.rstrip("/"),
        signing_key=base64.b64encode(signing_key).decode(),
        pseudonym_key=base64.b64encode(site.pseudonym_key).decode(),
        policy=Policy.model_validate_json(site.policy),
        trust=build_trust_list(engine),
    )


def list_sites(engine: Engine) -> list[Site]:
    with engine.connect() as conn:
        rows = conn.execute(select(sites.c.id, sites.c.name, sites.c.timezone).order_by(sites.c.name))
        return [Site(r.id, r.name, r.timezone) for r in rows]
