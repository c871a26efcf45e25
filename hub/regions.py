"""The region tree, the kinds of venue, and where each site belongs.

Regions nest to any depth (city → district → street/town → community); ``region_paths``
holds every (ancestor, region) pair so "all sites below this region" is one join. A
region never moves: reorganised districts are new regions and sites are placed again
(``place_site``), their history moving with them (hub/rollups.py). Categories are the
eight of the source plans until someone edits them.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, func, insert, select, update

from hub import rollups
from hub.core.db import categories, region_paths, regions, sites
from hub.records import CategoryRecord, RegionRecord, RegistryError, UnknownRecord

_CATEGORY_ID = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


def create_region(engine: Engine, name: str, parent_id: str | None = None) -> RegionRecord:
    """A new region under ``parent_id`` (None: a top region, such as a city)."""
    name = name.strip()
    if not name:
        raise RegistryError("region name must not be empty")
    region_id = f"reg-{secrets.token_hex(5)}"
    with engine.begin() as conn:
        above: list[tuple[str, int]] = []
        if parent_id is not None:
            above = [
                (r.ancestor_id, r.depth)
                for r in conn.execute(
                    select(region_paths.c.ancestor_id, region_paths.c.depth).where(
                        region_paths.c.region_id == parent_id
                    )
                )
            ]
            if not above:
                raise UnknownRecord(f"no region {parent_id}")
        taken = regions.c.parent_id.is_(None) if parent_id is None else regions.c.parent_id == parent_id
        if conn.scalar(select(regions.c.id).where(taken, regions.c.name == name)):
            raise RegistryError(f"there is already a region named {name!r} there")
        conn.execute(
            insert(regions).values(
                id=region_id, parent_id=parent_id, name=name, created_ms=int(time.time() * 1000)
            )
        )
        paths = [{"ancestor_id": region_id, "region_id": region_id, "depth": 0}]
        paths += [{"ancestor_id": a, "region_id": region_id, "depth": d + 1} for a, d in above]
        conn.execute(insert(region_paths), paths)
    return RegionRecord(id=region_id, name=name, parent_id=parent_id, depth=len(above))


def list_regions(engine: Engine) -> list[RegionRecord]:
    """Every region, each after its parent (a tree read top down), with its sites below."""
    below = (
        select(region_paths.c.ancestor_id, func.count(sites.c.id).label("sites"))
        .join(sites, sites.c.region_id == region_paths.c.region_id)
        .group_by(region_paths.c.ancestor_id)
        .subquery()
    )
    depth = (
        select(region_paths.c.region_id, func.max(region_paths.c.depth).label("depth"))
        .group_by(region_paths.c.region_id)
        .subquery()
    )
    query = (
        select(regions.c.id, regions.c.name, regions.c.parent_id, depth.c.depth,
               func.coalesce(below.c.sites, 0).label("sites"))
        .join(depth, depth.c.region_id == regions.c.id)
        .outerjoin(below, below.c.ancestor_id == regions.c.id)
    )  # fmt: skip
    with engine.connect() as conn:
        found = [RegionRecord.model_validate(dict(r._mapping)) for r in conn.execute(query)]
    children: dict[str | None, list[RegionRecord]] = {}
    for r in sorted(found, key=lambda r: r.name):
        children.setdefault(r.parent_id, []).append(r)
    ordered: list[RegionRecord] = []

    def walk(parent: str | None) -> None:
        for child in children.get(parent, []):
            ordered.append(child)
            walk(child.id)

    walk(None)
    return ordered


def path(conn: Connection, region_id: str) -> list[tuple[str, str]]:
    """(id, name) from the top region down to ``region_id`` (empty: no such region)."""
    rows = conn.execute(
        select(regions.c.id, regions.c.name)
        .join(region_paths, region_paths.c.ancestor_id == regions.c.id)
        .where(region_paths.c.region_id == region_id)
        .order_by(region_paths.c.depth.desc())
    )
    return [(r.id, r.name) for r in rows]


def within(conn: Connection, region_id: str, tops: Iterable[str]) -> bool:
    """Whether ``region_id`` is one of ``tops`` or below one of them."""
    wanted = list(tops)
    if not wanted:
        return False
    return (
        conn.scalar(
            select(region_paths.c.ancestor_id)
            .where(region_paths.c.region_id == region_id, region_paths.c.ancestor_id.in_(wanted))
            .limit(1)
        )
        is not None
    )


def sites_below(conn: Connection, tops: Iterable[str]) -> frozenset[str]:
    """Every site in these regions or below them."""
    wanted = list(tops)
    if not wanted:
        return frozenset()
    return frozenset(
        conn.scalars(
            select(sites.c.id)
            .join(region_paths, region_paths.c.region_id == sites.c.region_id)
            .where(region_paths.c.ancestor_id.in_(wanted))
        )
    )


def list_categories(engine: Engine) -> list[CategoryRecord]:
    with engine.connect() as conn:
        rows = conn.execute(select(categories).order_by(categories.c.position, categories.c.id))
        return [CategoryRecord.model_validate(dict(r._mapping)) for r in rows]


def set_category(engine: Engine, category_id: str, name_zh: str, name_en: str) -> CategoryRecord:
    """Add a kind of venue, or rename one (its id, which the counts are filed under, stays)."""
    if not _CATEGORY_ID.match(category_id):
        raise RegistryError("a category id is 2–32 lower-case letters, digits or _, starting with a letter")
    with engine.begin() as conn:
        position = conn.scalar(select(categories.c.position).where(categories.c.id == category_id))
        if position is None:
            position = int(conn.scalar(select(func.coalesce(func.max(categories.c.position), 0))) or 0) + 1
            conn.execute(insert(categories).values(id=category_id, name_zh=name_zh, name_en=name_en,
                                                   position=position))  # fmt: skip
        else:
            conn.execute(
                update(categories)
                .where(categories.c.id == category_id)
                .values(name_zh=name_zh, name_en=name_en)
            )
    return CategoryRecord(id=category_id, name_zh=name_zh, name_en=name_en, position=position)


def check_placement(conn: Connection, region_id: str | None, category_id: str | None) -> None:
    """Refuse a region or category that does not exist."""
    if region_id is not None and conn.scalar(select(regions.c.id).where(regions.c.id == region_id)) is None:
        raise UnknownRecord(f"no region {region_id}; list them with 'gatecheck provision region list'")
    if category_id is not None and (
        conn.scalar(select(categories.c.id).where(categories.c.id == category_id)) is None
    ):
        raise UnknownRecord(f"no category {category_id}; list them with 'gatecheck provision category list'")


def place_site(engine: Engine, site_id: str, region_id: str | None, category_id: str | None) -> None:
    """Put a site in a region and a category; its counts so far move with it."""
    with engine.begin() as conn:
        if conn.scalar(select(sites.c.id).where(sites.c.id == site_id)) is None:
            raise UnknownRecord(f"no site {site_id}")
        check_placement(conn, region_id, category_id)
        rollups.place(conn, site_id, region_id, category_id)
