"""Sites' gate rules over time: every version kept (who, when, what, why), a change
validated before it is stored and possibly set ahead of the day it applies from. The
policy in force at a moment is the newest version whose effective time has come; the
downlink sends it, and the next one when it is already decided (docs/policy.md).

A site's rules are resolved from the levels above it (organisation, then its regions top
down: hub/policy_levels.py) and the fields the site set itself (its *overrides*), each
version storing both the whole result and those overrides."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import BindParameter, Connection, Engine, select

from core.policy import Policy
from hub.core.db import policy_defaults, policy_versions, region_paths, sites
from hub.records import PolicyChange, PolicyVersionRecord, RegistryError, UnknownRecord


@dataclass(frozen=True)
class InForce:
    version: int
    policy: Policy
    next: PolicyVersionRecord | None
    """The version already set to apply later (the gates get it ahead), if any."""


@dataclass(frozen=True)
class Level:
    """Defaults set above a site: an organisation's or a region's newest version."""

    scope: str
    """``org:<id>`` or ``region:<id>``."""
    fields: dict[str, Any]
    locked: frozenset[str]
    """Fields no level below and no site may change."""


def check_change(
    effective_from: datetime | None, named: Iterable[str], now: datetime | None
) -> tuple[int, int]:
    """(now, from when) of a change of rules, in ms — refused when it would apply from the
    past, names no rule, or names a rule that does not exist."""
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    effective_ms = int(effective_from.timestamp() * 1000) if effective_from else now_ms
    if effective_ms < now_ms - 60_000:
        raise RegistryError("a rule change cannot apply from the past: give a time from now on")
    wanted = list(named)
    if not wanted:
        raise RegistryError("nothing to change: give a rule to set, inherit, lock or unlock")
    if unknown := sorted(set(wanted) - set(Policy.model_fields)):
        raise RegistryError(f"no such rule: {', '.join(unknown)} (see docs/policy.md)")
    return now_ms, effective_ms


def own_fields(policy: Policy) -> dict[str, Any]:
    """A whole policy's fields that differ from the built-in defaults: what a site given
    whole rules (``site create --policy``) sets itself."""
    defaults = Policy().model_dump(mode="json")
    return {k: v for k, v in policy.model_dump(mode="json").items() if defaults[k] != v}


def levels_above(conn: Connection, site_id: str, cache: dict[str, list[Level]] | None = None) -> list[Level]:
    """The levels whose defaults a site inherits, top first: its organisation, then each
    region from the top one down to its own. ``cache``: sites with the same organisation
    and region share their levels (a change passed on to a city's sites reads them once
    per region)."""
    org_id, region_id = conn.execute(
        select(sites.c.org_id, sites.c.region_id).where(sites.c.id == site_id)
    ).one()
    key = f"{org_id}/{region_id}"
    if cache is not None and key in cache:
        return cache[key]
    scopes = [f"org:{org_id}"]
    if region_id is not None:
        above = select(region_paths.c.ancestor_id).where(region_paths.c.region_id == region_id)
        scopes += [f"region:{r}" for r in conn.scalars(above.order_by(region_paths.c.depth.desc()))]
    newest: dict[str, Any] = {}
    for row in conn.execute(select(policy_defaults).where(policy_defaults.c.scope.in_(scopes))):
        if row.scope not in newest or row.version > newest[row.scope].version:
            newest[row.scope] = row
    levels = [
        Level(s, json.loads(newest[s].fields), frozenset(json.loads(newest[s].locked)))
        for s in scopes
        if s in newest
    ]
    if cache is not None:
        cache[key] = levels
    return levels


def locked_by(levels: Iterable[Level]) -> dict[str, str]:
    """Each locked field and the (highest) level that locked it."""
    found: dict[str, str] = {}
    for level in levels:
        for name in level.locked:
            found.setdefault(name, level.scope)
    return found


def resolve(levels: Iterable[Level], overrides: Mapping[str, Any], label: str = "") -> Policy:
    """The rules from the levels' defaults, top down, then the site's own fields — except
    where a level above locked a field. Invalid → RegistryError naming the fields."""
    merged: dict[str, Any] = {}
    locked: set[str] = set()
    for level in levels:
        merged |= {k: v for k, v in level.fields.items() if k not in locked}
        locked |= level.locked
    merged |= {k: v for k, v in overrides.items() if k not in locked}
    try:
        return Policy.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}" for e in exc.errors())
        raise RegistryError(f"invalid rules{' for ' + label if label else ''}: {problems}") from exc


def first_version(
    site_id: str, policy: Policy, created_ms: int, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Version 1 of a new site's rules (stored with the site; author "-": no person)."""
    own = own_fields(policy) if overrides is None else dict(overrides)
    return {
        "site_id": site_id, "version": 1, "policy": policy.model_dump_json(), "effective_from_ms": created_ms,
        "author": "-", "reason": "site created", "created_ms": created_ms, "overrides": json.dumps(own),
    }  # fmt: skip


def append_version(
    conn: Connection,
    site_id: str,
    version: int,
    policy: Policy,
    overrides: Mapping[str, Any],
    effective_ms: int,
    author: str,
    reason: str,
    now_ms: int,
) -> PolicyVersionRecord:
    """Store the next version of a site's rules (the caller holds the newest one locked)."""
    row = {
        "site_id": site_id, "version": version, "policy": policy.model_dump_json(),
        "effective_from_ms": effective_ms, "author": author, "reason": reason[:200], "created_ms": now_ms,
        "overrides": json.dumps(dict(overrides)),
    }  # fmt: skip
    conn.execute(policy_versions.insert(), [row])
    return PolicyVersionRecord(**(row | {"policy": policy, "overrides": dict(overrides)}))


def _record(row: Any) -> PolicyVersionRecord:
    values = dict(row._mapping)
    return PolicyVersionRecord(
        **(
            values
            | {
                "policy": Policy.model_validate_json(values["policy"]),
                "overrides": json.loads(values["overrides"]),
            }
        )
    )


def _applying(site_id: Any, now_ms: int | BindParameter[int], *columns: Any) -> Any:
    """Which version applies at ``now_ms``: the newest one whose effective time has come
    (the one statement of that rule; ``site_id`` a value or a correlated column)."""
    return (
        select(*columns)
        .where(policy_versions.c.site_id == site_id, policy_versions.c.effective_from_ms <= now_ms)
        .order_by(policy_versions.c.version.desc())
        .limit(1)
    )


def in_force(conn: Connection, site_id: str, now_ms: int) -> InForce:
    """The version applying at ``now_ms`` and the next one set ahead (two small reads)."""
    mine = policy_versions.c.site_id == site_id
    current = conn.execute(_applying(site_id, now_ms, policy_versions)).one_or_none()
    if current is None:
        raise UnknownRecord(f"site {site_id} has no gate rules")
    upcoming = conn.execute(
        select(policy_versions)
        .where(
            mine, policy_versions.c.effective_from_ms > now_ms, policy_versions.c.version > current.version
        )
        .order_by(policy_versions.c.effective_from_ms, policy_versions.c.version.desc())
        .limit(1)
    ).one_or_none()
    return InForce(current.version, Policy.model_validate_json(current.policy),
                   _record(upcoming) if upcoming else None)  # fmt: skip


def policy_in_force_sql(now_ms: int | BindParameter[int]) -> Any:
    """A correlated subquery: the policy JSON in force for ``sites.c.id`` (for reads that
    need it along with other site columns in one statement; ``now_ms`` may be a parameter
    of a statement built once)."""
    return _applying(sites.c.id, now_ms, policy_versions.c.policy).scalar_subquery()


def set_policy(
    engine: Engine, site_id: str, change: PolicyChange, author: str, now: datetime | None = None
) -> PolicyVersionRecord:
    """Store a new version: the site's own fields with ``change.changes`` set and
    ``change.inherit`` returned to the levels above, resolved and validated whole; it
    applies from ``change.effective_from`` (now when absent; never in the past). A field a
    level above locked cannot be changed here."""
    now_ms, effective_ms = check_change(change.effective_from, [*change.changes, *change.inherit], now)
    with engine.begin() as conn:
        newest = conn.execute(
            select(policy_versions)
            .where(policy_versions.c.site_id == site_id)
            .order_by(policy_versions.c.version.desc())
            .limit(1)
            .with_for_update()
        ).one_or_none()
        if newest is None:
            raise UnknownRecord(f"no site {site_id}")
        levels = levels_above(conn, site_id)
        locks = locked_by(levels)
        if blocked := sorted(k for k in [*change.changes, *change.inherit] if k in locks):
            raise RegistryError(
                "; ".join(
                    f"{k} is set for every site by {locks[k]} and cannot be changed at one site"
                    for k in blocked
                )
            )
        own = json.loads(newest.overrides) | change.changes
        overrides = {k: v for k, v in own.items() if k not in change.inherit}
        policy = resolve(levels, overrides)
        return append_version(
            conn, site_id, newest.version + 1, policy, overrides, effective_ms, author, change.reason, now_ms
        )


def history(engine: Engine, site_id: str) -> list[PolicyVersionRecord]:
    """Every version of a site's rules, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(policy_versions)
            .where(policy_versions.c.site_id == site_id)
            .order_by(policy_versions.c.version.desc())
        ).all()
    if not rows:
        raise UnknownRecord(f"no site {site_id}")
    return [_record(r) for r in rows]
