"""Rules set above a site: defaults for every site of an organisation or below a region.

A site's rules are its levels' defaults applied top down — organisation, then each region
from the top one down to the site's own — and then the fields the site set itself. A
level may *lock* fields: no level below and no site may change them (a city's threshold
that every venue must apply). A change at a level is versioned like a site's (who, when,
from when, why) and becomes, in the same transaction, a new version of every site below
whose rules it changes — so the gates get it by the downlink they already have, each
check still names the site version it was decided under, and one change reaches all 779
venues of a city. A change that would make any site's rules invalid changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select

from core.policy import Policy
from hub.core.db import organisations, policy_defaults, policy_versions, region_paths, regions, sites
from hub.policies import Level, append_version, check_change, levels_above, resolve
from hub.records import DefaultsChange, DefaultsRecord, LevelKind, UnknownRecord


def _scope(conn: Connection, kind: LevelKind, scope_id: str) -> str:
    table = organisations if kind == "org" else regions
    if conn.scalar(select(table.c.id).where(table.c.id == scope_id)) is None:
        raise UnknownRecord(f"no {'organisation' if kind == 'org' else 'region'} {scope_id}")
    return f"{kind}:{scope_id}"


def _sites_below(conn: Connection, kind: LevelKind, scope_id: str) -> list[str]:
    if kind == "org":
        return list(conn.scalars(select(sites.c.id).where(sites.c.org_id == scope_id).order_by(sites.c.id)))
    return list(
        conn.scalars(
            select(sites.c.id)
            .join(region_paths, region_paths.c.region_id == sites.c.region_id)
            .where(region_paths.c.ancestor_id == scope_id)
            .order_by(sites.c.id)
        )
    )


def _newest_site_versions(conn: Connection, site_ids: Sequence[str]) -> dict[str, Any]:
    """Each site's newest version row (locked: a site change waits for this one)."""
    found: dict[str, Any] = {}
    for start in range(0, len(site_ids), 500):
        chunk = list(site_ids[start : start + 500])
        newest = (
            select(policy_versions.c.site_id, func.max(policy_versions.c.version).label("version"))
            .where(policy_versions.c.site_id.in_(chunk))
            .group_by(policy_versions.c.site_id)
            .subquery()
        )
        rows = conn.execute(
            select(policy_versions)
            .join(
                newest,
                and_(
                    newest.c.site_id == policy_versions.c.site_id,
                    newest.c.version == policy_versions.c.version,
                ),
            )
            .with_for_update(of=policy_versions)
        )
        found.update({r.site_id: r for r in rows})
    return found


def set_defaults(
    engine: Engine,
    kind: LevelKind,
    scope_id: str,
    change: DefaultsChange,
    author: str,
    now: datetime | None = None,
) -> DefaultsRecord:
    """Store a new version of a level's defaults and pass it on to every site below."""
    named = [*change.changes, *change.inherit, *change.lock, *change.unlock]
    now_ms, effective_ms = check_change(change.effective_from, named, now)
    with engine.begin() as conn:
        scope = _scope(conn, kind, scope_id)
        newest = conn.execute(
            select(policy_defaults)
            .where(policy_defaults.c.scope == scope)
            .order_by(policy_defaults.c.version.desc())
            .limit(1)
            .with_for_update()
        ).one_or_none()
        fields = json.loads(newest.fields) if newest else {}
        fields = {k: v for k, v in (fields | change.changes).items() if k not in change.inherit}
        held = set(json.loads(newest.locked)) if newest else set()
        locked = sorted((held | set(change.lock)) - set(change.unlock))
        resolve([Level(scope, fields, frozenset(locked))], {}, label=scope)  # the level alone is valid
        record = {
            "scope": scope, "version": (newest.version if newest else 0) + 1, "fields": json.dumps(fields),
            "locked": json.dumps(locked), "effective_from_ms": effective_ms, "author": author,
            "reason": change.reason, "created_ms": now_ms,
        }  # fmt: skip
        conn.execute(policy_defaults.insert(), [record])
        changed = 0
        below = _sites_below(conn, kind, scope_id)
        current = _newest_site_versions(conn, below)
        levels_of: dict[str, list[Level]] = {}
        for site_id in below:
            row = current[site_id]
            levels = levels_above(conn, site_id, levels_of)
            overrides = json.loads(row.overrides)
            policy = resolve(levels, overrides, label=f"site {site_id}")
            if policy != Policy.model_validate_json(row.policy):
                append_version(conn, site_id, row.version + 1, policy, overrides, effective_ms, author,
                               f"{scope}: {change.reason}", now_ms)  # fmt: skip
                changed += 1
    return DefaultsRecord(**(record | {"fields": fields, "locked": locked}), sites_changed=changed)


def defaults_history(engine: Engine, kind: LevelKind, scope_id: str) -> list[DefaultsRecord]:
    """Every version of a level's defaults, newest first."""
    with engine.connect() as conn:
        scope = _scope(conn, kind, scope_id)
        rows = conn.execute(
            select(policy_defaults)
            .where(policy_defaults.c.scope == scope)
            .order_by(policy_defaults.c.version.desc())
        ).all()
    return [
        DefaultsRecord(
            **(dict(r._mapping) | {"fields": json.loads(r.fields), "locked": json.loads(r.locked)})
        )
        for r in rows
    ]
