"""Organisations, sites and devices in the hub's database: the hub owns these tables and
all SQL touching them; its admin API and ``gatecheck provision`` on the hub's machine both
go through here (``DatabaseRegistry``).

Enrolment makes the device's Ed25519 key pair; the hub keeps only the public half, the
private half leaves in the device bundle and nowhere else.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, and_, func, insert, select, update

from core.bundle import DeviceBundle
from core.policy import Policy, PolicyNext
from core.protocol import DeviceConfig, public_key_for
from hub import regions, rollups, site_sync
from hub.core.db import (
    device_logs,
    device_status,
    devices,
    devices_with_status,
    organisations,
    policy_versions,
    sites,
)
from hub.policies import first_version, in_force, levels_above, locked_by, own_fields, resolve, set_policy
from hub.policies import history as policy_history
from hub.policy_levels import defaults_history, set_defaults
from hub.records import (
    DEFAULT_ORGANISATION,
    CategoryRecord,
    CategorySet,
    DefaultsChange,
    DefaultsRecord,
    DeviceEnrol,
    DeviceRecord,
    LevelKind,
    OrganisationRecord,
    PolicyChange,
    PolicyVersionRecord,
    RegionCreate,
    RegionRecord,
    RegistryError,
    SiteCreate,
    SitePlacement,
    SiteRecord,
    UnknownRecord,
)
from hub.regions import check_placement
from hub.trust import build_trust_list

Site = SiteRecord
"""A site as the registry returns it."""


def _now_ms() -> int:
    return int(time.time() * 1000)


_DEADLINE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def ensure_organisation(engine: Engine, name: str) -> str:
    """The id of the organisation with this name, created if needed."""
    name = name.strip()
    if not name:
        raise RegistryError("organisation name must not be empty")
    with engine.begin() as conn:
        found = conn.scalar(select(organisations.c.id).where(organisations.c.name == name))
        if found:
            return str(found)
        org_id = f"org-{secrets.token_hex(5)}"
        conn.execute(insert(organisations).values(id=org_id, name=name, created_at_ms=_now_ms()))
        return org_id


def list_organisations(engine: Engine) -> list[OrganisationRecord]:
    """Organisations with how many sites each has."""
    query = (
        select(organisations.c.id, organisations.c.name, func.count(sites.c.id).label("sites"))
        .outerjoin(sites, sites.c.org_id == organisations.c.id)
        .group_by(organisations.c.id, organisations.c.name)
        .order_by(organisations.c.name)
    )
    with engine.connect() as conn:
        return [OrganisationRecord.model_validate(dict(r._mapping)) for r in conn.execute(query)]


def create_site(
    engine: Engine,
    name: str,
    timezone: str,
    policy: Policy | None = None,
    organisation: str = DEFAULT_ORGANISATION,
    report_deadline: str = "12:00",
    region_id: str | None = None,
    category_id: str | None = None,
) -> Site:
    """Register a site; its timezone decides where its days begin and end, and each day's
    report is due the next day at ``report_deadline`` (local HH:MM)."""
    name = name.strip()
    if not name:
        raise RegistryError("site name must not be empty")
    if not _DEADLINE.match(report_deadline):
        raise RegistryError(f"report deadline {report_deadline!r} must be HH:MM, e.g. 12:00")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RegistryError(
            f"unknown timezone {timezone!r}; use an IANA name such as Asia/Shanghai"
        ) from None
    site = Site(
        id=f"site-{secrets.token_hex(5)}", name=name, timezone=timezone, region_id=region_id,
        category_id=category_id,
    )  # fmt: skip
    org_id = ensure_organisation(engine, organisation)
    now_ms = _now_ms()
    with engine.begin() as conn:
        check_placement(conn, region_id, category_id)
        conn.execute(
            insert(sites).values(
                id=site.id,
                org_id=org_id,
                report_deadline=report_deadline,
                name=site.name,
                timezone=site.timezone,
                pseudonym_key=secrets.token_bytes(32),
                created_at_ms=now_ms,
                region_id=region_id,
                category_id=category_id,
            )
        )
        # Its rules: what its organisation and regions set, and what it was given itself.
        levels = levels_above(conn, site.id)
        overrides = own_fields(policy) if policy else {}
        locks = locked_by(levels)
        if blocked := sorted(k for k in overrides if k in locks):
            raise RegistryError(
                f"{', '.join(blocked)}: set for every site by {locks[blocked[0]]}; leave it out"
            )
        rules = resolve(levels, overrides)
        conn.execute(insert(policy_versions), [first_version(site.id, rules, now_ms, overrides)])
        site_sync.add_site(conn, site.id, region_id)
        rollups.count_site(conn, rollups.placement_of(conn, site.id), +1)
    return site


def enrol_device(engine: Engine, site_id: str, gate: str, hub_url: str) -> DeviceBundle:
    """Register a new device at a gate of a site and return its bundle."""
    gate = gate.strip()
    if not gate:
        raise RegistryError("gate name must not be empty")
    signing_key = secrets.token_bytes(32)
    device_id = f"dev-{secrets.token_hex(5)}"
    with engine.begin() as conn:
        if conn.scalar(select(sites.c.id).where(sites.c.id == site_id)) is None:
            raise UnknownRecord(f"no site {site_id!r}; list them with 'gatecheck provision site list'")
        conn.execute(
            insert(devices).values(
                id=device_id,
                site_id=site_id,
                gate=gate,
                hub_url=hub_url.rstrip("/"),
                public_key=public_key_for(signing_key),
                status="active",
                created_at_ms=_now_ms(),
            )
        )
        site_sync.refresh(conn, site_id)  # the new gate owes its reports from now on
    return _bundle(engine, device_id, signing_key)


def rotate_device(engine: Engine, device_id: str, hub_url: str | None = None) -> DeviceBundle:
    """Give a device a new key pair and return its new bundle. The old key is refused from
    this moment: until the new bundle is loaded (``gatecheck edge init``) the device keeps
    its checks and retries, so nothing is lost — see docs/deploy.md."""
    signing_key = secrets.token_bytes(32)
    changes: dict[str, object] = {"public_key": public_key_for(signing_key), "key_rotated_ms": _now_ms()}
    if hub_url:
        changes["hub_url"] = hub_url.rstrip("/")
    with engine.begin() as conn:
        status = conn.scalar(select(devices.c.status).where(devices.c.id == device_id))
        if status is None:
            raise UnknownRecord(f"no device {device_id!r}; list them with 'gatecheck provision device list'")
        if status != "active":
            raise RegistryError(f"device {device_id} is {status}; enrol a new device instead")
        conn.execute(update(devices).where(devices.c.id == device_id).values(**changes))
    return _bundle(engine, device_id, signing_key)


def revoke_device(engine: Engine, device_id: str) -> DeviceRecord:
    """Refuse the device from now on (a stolen or retired board). Its checks already at the
    hub stay; it no longer counts toward a site-day's completeness. Revoking twice is a
    no-op."""
    with engine.begin() as conn:
        conn.execute(
            update(devices)
            .where(and_(devices.c.id == device_id, devices.c.status != "revoked"))
            .values(status="revoked", revoked_ms=_now_ms())
        )
        site_id = conn.scalar(select(devices.c.site_id).where(devices.c.id == device_id))
        if site_id is not None:
            site_sync.refresh(conn, site_id)  # its site no longer waits for it
    found = list_devices(engine, device_id=device_id)
    if not found:
        raise UnknownRecord(f"no device {device_id!r}; list them with 'gatecheck provision device list'")
    return found[0]


def _bundle(engine: Engine, device_id: str, signing_key: bytes) -> DeviceBundle:
    with engine.connect() as conn:
        row = conn.execute(
            select(devices.c.gate, devices.c.hub_url, sites)
            .join(sites, sites.c.id == devices.c.site_id)
            .where(devices.c.id == device_id)
        ).one()
        rules = in_force(conn, row.id, _now_ms())
    if not row.hub_url:
        raise RegistryError(f"device {device_id} has no hub URL on record; pass --hub-url")
    return DeviceBundle(
        device_id=device_id,
        site_id=row.id,
        site_name=row.name,
        timezone=row.timezone,
        gate=row.gate,
        hub_url=row.hub_url,
        signing_key=base64.b64encode(signing_key).decode(),
        pseudonym_key=base64.b64encode(row.pseudonym_key).decode(),
        policy=rules.policy,
        policy_version=rules.version,
        trust=build_trust_list(engine),
    )


_LATEST_ACK = func.coalesce(
    select(device_logs.c.acked_seq)
    .where(and_(device_logs.c.site_id == devices.c.site_id, device_logs.c.device_id == devices.c.id))
    .order_by(device_logs.c.log_no.desc())
    .limit(1)
    .scalar_subquery(),
    0,
).label("acked_seq")
"""How far the hub holds the device's newest check log."""


def device_config(engine: Engine, device_id: str) -> DeviceConfig | None:
    """What the downlink tells a device: who it is, its site's rules, whom to trust."""
    with engine.connect() as conn:
        row = conn.execute(
            select(devices.c.id, devices.c.gate, devices.c.status, sites.c.id.label("site_id"),
                   sites.c.name, sites.c.timezone)
            .join(sites, sites.c.id == devices.c.site_id)
            .where(devices.c.id == device_id)
        ).one_or_none()  # fmt: skip
        if row is None:
            return None
        rules = in_force(conn, row.site_id, _now_ms())
    return DeviceConfig(
        device_id=row.id,
        site_id=row.site_id,
        site_name=row.name,
        timezone=row.timezone,
        gate=row.gate,
        status=row.status,
        policy=rules.policy,
        policy_version=rules.version,
        next_policy=PolicyNext(
            version=rules.next.version,
            policy=rules.next.policy,
            effective_from_ms=rules.next.effective_from_ms,
        )
        if rules.next
        else None,
        trust=build_trust_list(engine, delivered=False),
    )


def list_devices(
    engine: Engine, site_id: str | None = None, device_id: str | None = None
) -> list[DeviceRecord]:
    """Devices with their state as the hub last saw it, by site and gate."""
    query = (
        select(
            devices.c.id,
            devices.c.site_id,
            sites.c.name.label("site_name"),
            devices.c.gate,
            devices.c.status,
            devices.c.created_at_ms,
            devices.c.key_rotated_ms,
            devices.c.revoked_ms,
            device_status.c.last_seen_ms,
            _LATEST_ACK,
            device_status.c.backlog,
            device_status.c.software,
        )
        .select_from(devices_with_status)
        .join(sites, sites.c.id == devices.c.site_id)
        .order_by(sites.c.name, devices.c.gate, devices.c.id)
    )
    if site_id is not None:
        query = query.where(devices.c.site_id == site_id)
    if device_id is not None:
        query = query.where(devices.c.id == device_id)
    with engine.connect() as conn:
        return [DeviceRecord.model_validate(dict(r._mapping)) for r in conn.execute(query)]


def list_sites(engine: Engine) -> list[Site]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                sites.c.id, sites.c.name, sites.c.timezone, sites.c.region_id, sites.c.category_id
            ).order_by(sites.c.name)
        )
        return [Site.model_validate(dict(r._mapping)) for r in rows]


class DatabaseRegistry:
    """Straight into the hub's database (SQLite file or PostgreSQL URL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_organisation(self, name: str) -> OrganisationRecord:
        org_id = ensure_organisation(self.engine, name)
        return next(o for o in list_organisations(self.engine) if o.id == org_id)

    def list_organisations(self) -> list[OrganisationRecord]:
        return list_organisations(self.engine)

    def create_site(self, request: SiteCreate) -> SiteRecord:
        return create_site(
            self.engine,
            request.name,
            request.timezone,
            request.policy,
            request.organisation,
            request.report_deadline,
            request.region_id,
            request.category_id,
        )

    def set_defaults(
        self, kind: LevelKind, scope_id: str, change: DefaultsChange, author: str
    ) -> DefaultsRecord:
        return set_defaults(self.engine, kind, scope_id, change, author)

    def defaults_history(self, kind: LevelKind, scope_id: str) -> list[DefaultsRecord]:
        return defaults_history(self.engine, kind, scope_id)

    def create_region(self, request: RegionCreate) -> RegionRecord:
        return regions.create_region(self.engine, request.name, request.parent_id)

    def list_regions(self) -> list[RegionRecord]:
        return regions.list_regions(self.engine)

    def set_category(self, category_id: str, request: CategorySet) -> CategoryRecord:
        return regions.set_category(self.engine, category_id, request.name_zh, request.name_en)

    def list_categories(self) -> list[CategoryRecord]:
        return regions.list_categories(self.engine)

    def place_site(self, site_id: str, request: SitePlacement) -> SiteRecord:
        regions.place_site(self.engine, site_id, request.region_id, request.category_id)
        return next(s for s in list_sites(self.engine) if s.id == site_id)

    def set_policy(self, site_id: str, change: PolicyChange, author: str) -> PolicyVersionRecord:
        return set_policy(self.engine, site_id, change, author)

    def policy_history(self, site_id: str) -> list[PolicyVersionRecord]:
        return policy_history(self.engine, site_id)

    def list_sites(self) -> list[SiteRecord]:
        return list_sites(self.engine)

    def enrol_device(self, request: DeviceEnrol) -> DeviceBundle:
        return enrol_device(self.engine, request.site_id, request.gate, request.hub_url)

    def rotate_device(self, device_id: str, hub_url: str | None) -> DeviceBundle:
        return rotate_device(self.engine, device_id, hub_url)

    def revoke_device(self, device_id: str) -> DeviceRecord:
        return revoke_device(self.engine, device_id)

    def list_devices(self, site_id: str | None) -> list[DeviceRecord]:
        return list_devices(self.engine, site_id=site_id)
