"""The hub's schema is ready to be distributed by site (Citus): every key of the tables a
check's data lands in carries the site id, and every statement the ingest runs on them
names the site — so each upload is a single-shard transaction. Held on the real
databases, so a new table or a new query that breaks the rule fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, inspect

from core.bundle import DeviceBundle
from hub.core.db import PARTITION_NAME
from hub.registry import Site, enrol_device
from hub.retention import purge
from tests.hub_helpers import make_batch, make_check, post

BOTH_DATABASES = True

REFERENCE = {
    "organisations", "sites", "devices", "users", "user_sites", "sessions",
    "issuers", "signer_certs", "revocations", "alembic_version",
    "regions", "region_paths", "categories", "user_regions", "policy_defaults",
    "region_daily", "region_sites",
}  # fmt: skip
"""Tables not written by uploads: small ones written by operators, and the region rollups
(sums across sites, written only by the folding from the per-site ``rollup_pending``) —
replicated to every node when sharded (Citus reference tables). Every other table is
distributed by ``site_id``."""


def distributed(engine: Engine) -> set[str]:
    names = {t for t in inspect(engine).get_table_names() if not PARTITION_NAME.match(t)}
    return names - REFERENCE


def test_every_key_of_a_distributed_table_carries_the_site_id(hub_engine: Engine) -> None:
    inspector = inspect(hub_engine)
    tables = distributed(hub_engine)
    assert {"checks", "alerts", "check_conflicts", "device_logs", "device_status", "daily_counts"} <= tables
    for table in sorted(tables):
        columns = {c["name"] for c in inspector.get_columns(table)}
        assert "site_id" in columns, f"{table} has no site_id: distribute it by site or list it as reference"
        keys = [("primary key", inspector.get_pk_constraint(table)["constrained_columns"])]
        keys += [(u["name"], u["column_names"]) for u in inspector.get_unique_constraints(table)]
        keys += [(i["name"], i["column_names"]) for i in inspector.get_indexes(table) if i["unique"]]
        for name, key in keys:
            assert "site_id" in key, f"{table}: {name} {key} lacks site_id"
        for fk in inspector.get_foreign_keys(table):
            target = fk["referred_table"]
            assert target in REFERENCE or "site_id" in fk["constrained_columns"], f"{table} → {target}"


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        seen.append(" ".join(sql.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def names_its_site(sql: str, table: str) -> bool:
    """Every INSERT in it (a statement may insert into several tables WITH …) lists
    site_id among its columns; a statement inserting nothing filters on site_id."""
    inserts = re.findall(r"INSERT (?:OR \w+ )?INTO \w+ \(([^)]*)\)", sql)
    if inserts:
        return all("site_id" in columns.split(", ") for columns in inserts)
    return re.search(r"\bsite_id\s*(=|IN\b)", sql, re.IGNORECASE) is not None


JOIN = r"JOIN (\w+) (?:AS \w+ )?ON (.*?)(?= WHERE| GROUP| ORDER| LEFT| JOIN|$)"
"""A join's table and its condition, in SQLAlchemy's compiled SQL."""


def touched(sql: str, tables: set[str]) -> set[str]:
    return {t for t in tables if re.search(rf"(FROM|INTO|UPDATE|JOIN) {t}\b", sql)}


def test_each_upload_names_its_site_in_every_statement_on_distributed_tables(
    client: TestClient, hub_engine: Engine, site: Site, device: DeviceBundle
) -> None:
    tables = distributed(hub_engine)
    other = enrol_device(hub_engine, site.id, "South", "http://127.0.0.1:9")
    log = [make_check(i) for i in range(1, 6)] + [make_check(6, verdict="deny", reason="fever", temp_c=38.4)]
    with statements(hub_engine) as seen:
        assert post(client, device, make_batch(device, None, log[5:])).status_code == 200  # urgent first
        assert post(client, device, make_batch(device, 0, log)).json()["acked_seq"] == 6
        altered = [*log[:2], make_check(3, gate="West")]  # seq 3 again, other content
        assert post(client, device, make_batch(device, 0, altered)).json()["conflicts"] == 1
        replaced = make_batch(other, 0, [make_check(1)]).model_copy(update={"log_id": "a" * 32})
        assert post(client, other, make_batch(other, 0, [make_check(1)])).status_code == 200
        assert post(client, other, replaced).status_code == 200  # a second log: log_replaced
    on_tables = [(sql, touched(sql, tables)) for sql in seen]
    assert len([1 for _, hit in on_tables if hit]) > 20
    for sql, hit in on_tables:
        if hit:
            assert names_its_site(sql, next(iter(hit))), sql


def test_joins_between_distributed_tables_are_on_the_site(
    client: TestClient, hub_engine: Engine, site: Site, device: DeviceBundle, hub_database_url: str
) -> None:
    """Reading pages and purging may span sites, but never joins two distributed tables
    except on the site id (a join Citus can push down to each node)."""
    tables = distributed(hub_engine)
    post(
        client, device, make_batch(device, 0, [make_check(1), make_check(2, verdict="deny", reason="fever")])
    )
    pages = ["/", "/api/v1/alerts", "/api/v1/admin/devices"]
    pages += [f"/sites/{site.id}{page}" for page in ("", "/report.csv")]
    pages += [f"/api/v1/sites/{site.id}/{page}" for page in ("devices", "status", "daily")]
    with statements(hub_engine) as seen:
        for path in pages:
            assert client.get(path).status_code == 200, path
        purge(hub_engine, keep_days=7)
    joined = 0
    for sql in seen:
        for table, condition in re.findall(
            r"JOIN (\w+) (?:AS \w+ )?ON (.*?)(?= WHERE| GROUP| ORDER| LEFT| JOIN|$)", sql
        ):
            if table in tables and touched(sql.split(" JOIN ")[0], tables):
                joined += 1
                assert "site_id = " in condition, sql
    assert joined > 0
