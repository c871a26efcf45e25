"""How far each site's daily report is complete, kept as the gates upload.

A site-day is complete when every active gate has sent everything up to the day's end
(hub.queries' day states say the same per site). For the view from above, which sites are
late must be an index lookup, not a pass over a province's gates: ``site_sync`` holds each
site's ``due_ms`` — the deadline of its first local day not yet complete — so the sites
late now are those with ``due_ms`` passed. It changes only when a gate finishes a day, so
an upload costs one small read on the common path: a site already complete into today
cannot move its deadline further.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from hub.core.db import device_status, devices, site_sync, sites


def local_day(ms: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ms / 1000, tz).date()


def first_due_ms(complete_until_ms: int, tz: ZoneInfo, deadline: str) -> int:
    """The deadline of the first day not complete: the day ``complete_until_ms`` falls in
    has not been sent to its end, and its report is due the next day at ``deadline``."""
    hour, minute = (int(part) for part in deadline.split(":"))
    day = local_day(complete_until_ms, tz) + timedelta(days=1)
    return int(datetime.combine(day, time(hour, minute), tzinfo=tz).timestamp() * 1000)


def add_site(conn: Connection, site_id: str, region_id: str | None) -> None:
    """A new site: no gate yet, so nothing owed. Its region is kept here too, so the sites
    late in a region are found from this table alone."""
    conn.execute(
        insert(site_sync).values(site_id=site_id, complete_until_ms=None, due_ms=None, region_id=region_id)
    )


def refresh(conn: Connection, site_id: str) -> None:
    """Recount the site's completeness from its active gates (after enrolment, revocation).
    A gate owes everything since it was enrolled and has sent all up to its
    ``synced_until_ms``."""
    owed = func.min(func.coalesce(device_status.c.synced_until_ms, devices.c.created_at_ms))
    until = conn.scalar(
        select(owed)
        .select_from(
            devices.outerjoin(
                device_status,
                and_(device_status.c.site_id == devices.c.site_id, device_status.c.device_id == devices.c.id),
            )
        )
        .where(devices.c.site_id == site_id, devices.c.status == "active")
    )
    due = None
    if until is not None:
        timezone, deadline = conn.execute(
            select(sites.c.timezone, sites.c.report_deadline).where(sites.c.id == site_id)
        ).one()
        due = first_due_ms(int(until), ZoneInfo(timezone), deadline)
    conn.execute(
        update(site_sync).where(site_sync.c.site_id == site_id).values(complete_until_ms=until, due_ms=due)
    )


def gate_caught_up(conn: Connection, site_id: str, timezone: str, now_ms: int) -> None:
    """A gate of the site has sent everything up to ``now_ms`` (in the upload's
    transaction). The common case — the site complete into today already, so nothing this
    gate sent can move its first incomplete day — is a plain read, and the site's gates do
    not queue on one row. Otherwise the site's row is locked first, so two gates finishing
    at once recount one after the other and the second sees the first's progress."""
    tz = ZoneInfo(timezone)
    for locked in (_UNTIL, _UNTIL_LOCKED):
        held = conn.execute(locked, {"site": site_id}).one_or_none()
        if held is not None and held[0] is not None and local_day(held[0], tz) == local_day(now_ms, tz):
            return
    refresh(conn, site_id)


_UNTIL = select(site_sync.c.complete_until_ms).where(site_sync.c.site_id == bindparam("site"))
_UNTIL_LOCKED = _UNTIL.with_for_update()
