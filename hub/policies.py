"""Sites' gate rules over time: every version kept (who, when, what, why), a change
validated before it is stored and possibly set ahead of the day it applies from. The
policy in force at a moment is the newest version whose effective time has come; the
downlink sends it, and the next one when it is already decided (docs/policy.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, select

from core.policy import Policy
from hub.core.db import policy_versions, sites
from hub.records import PolicyChange, PolicyVersionRecord, RegistryError, UnknownRecord


@dataclass(frozen=True)
class InForce:
    version: int
    policy: Policy
    next: PolicyVersionRecord | None
    """The version already set to apply later (the gates get it ahead), if any."""


def first_version(site_id: str, policy: Policy, created_ms: int) -> dict[str, Any]:
    """Version 1 of a new site's rules (stored with the site; author "-": no person)."""
    return {
        "site_id": site_id, "version": 1, "policy": policy.model_dump_json(), "effective_from_ms": created_ms,
        "author": "-", "reason": "site created", "created_ms": created_ms,
    }  # fmt: skip


def _record(row: Any) -> PolicyVersionRecord:
    values = dict(row._mapping)
    return PolicyVersionRecord(**(values | {"policy": Policy.model_validate_json(values["policy"])}))


def in_force(conn: Connection, site_id: str, now_ms: int) -> InForce:
    """The version applying at ``now_ms`` and the next one set ahead (two small reads)."""
    mine = policy_versions.c.site_id == site_id
    current = conn.execute(
        select(policy_versions)
        .where(mine, policy_versions.c.effective_from_ms <= now_ms)
        .order_by(policy_versions.c.version.desc())
        .limit(1)
    ).one_or_none()
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


def policy_in_force_sql(now_ms: int) -> Any:
    """A correlated subquery: the policy JSON in force for ``sites.c.id`` (for reads that
    need it along with other site columns in one statement)."""
    return (
        select(policy_versions.c.policy)
        .where(policy_versions.c.site_id == sites.c.id, policy_versions.c.effective_from_ms <= now_ms)
        .order_by(policy_versions.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )


def set_policy(
    engine: Engine, site_id: str, change: PolicyChange, author: str, now: datetime | None = None
) -> PolicyVersionRecord:
    """Store a new version: the newest version with ``change.changes`` applied, validated
    whole; it applies from ``change.effective_from`` (now when absent; never in the past)."""
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    effective_ms = int(change.effective_from.timestamp() * 1000) if change.effective_from else now_ms
    if effective_ms < now_ms - 60_000:
        raise RegistryError("a rule change cannot apply from the past: give a time from now on")
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
        try:
            merged = Policy.model_validate(json.loads(newest.policy) | change.changes)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}" for e in exc.errors()
            )
            raise RegistryError(f"invalid rules: {problems}") from exc
        row = {
            "site_id": site_id, "version": newest.version + 1, "policy": merged.model_dump_json(),
            "effective_from_ms": effective_ms, "author": author, "reason": change.reason,
            "created_ms": now_ms,
        }  # fmt: skip
        conn.execute(policy_versions.insert(), [row])
    return PolicyVersionRecord(**(row | {"policy": merged}))


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
