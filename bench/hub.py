"""Hub benchmark: HTTP ingest against the raw insert rate, and dashboard query latency.

For SQLite and PostgreSQL (a throwaway server started here with initdb/pg_ctl):

1. **Ingest.** ``--checks`` checks in signed, gzipped batches of 500 posted one after
   another to `gatecheck hub serve` (its own process), beside the raw rate of inserting
   the same rows into the same ``checks`` table with ``executemany``, 500 per transaction.
   Medians over ``--repeat`` interleaved runs.
2. **Dashboard.** ``--sites`` sites × ``--days`` days of daily counts (10 metrics each),
   then the queries behind the pages, each run ``--runs`` times: the overview (totals
   over every site, then a page of sites with 7 days and report states), one site's
   30-day page, one site's year (CSV export). p50 / p95 ms.
3. **Regions.** A province of ``--region-sites`` sites with ``--region-days`` days of
   rollups (bench/region_scale.py), then the region page's whole read for the province, a
   city and a street — totals by category and by region below, the late list, open
   alerts, quiet gates — beside the baseline it replaces (the province's day summed from
   every site's daily counts). p50 / p95 ms. The scale the hub is built for:
   ``--only regions --region-sites 100000 --region-days 365``.

    .venv/bin/python bench/hub.py [--checks 20000] [--sites 1000] [--days 365] [--runs 50]
        [--region-sites 2000] [--region-days 30] [--only ingest,dashboard,regions]
"""

from __future__ import annotations

import argparse
import gzip
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, delete, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.protocol import INGEST_PATH, BatchIn, CheckColumns, CheckIn, sign_request
from hub import queries
from hub.core.config import HubSettings
from hub.core.db import checks, create_schema, daily_counts, make_engine, organisations, sites
from hub.registry import create_site, enrol_device
from hub.urgency import worklist
from tests.hub_process import free_port, start_hub_process
from tests.postgres import fresh_database, postgres_server

sys.path.insert(0, str(Path(__file__).resolve().parent))
import region_scale

REPO = Path(__file__).resolve().parents[1]
BATCH = 500
PAGE = HubSettings().overview_page_size


def make_checks(n: int, now_ms: int) -> list[CheckIn]:
    rng = random.Random(3)
    return [
        CheckIn(
            seq=i,
            gate="North",
            wall_ms=now_ms - (n - i) * 1000,
            mono_ms=10**9 + i * 1000,
            boot_id="bench",
            verdict="admit" if i % 50 else "deny",
            reason="ok" if i % 50 else "fever",
            temp_c=36.5,
            temp_source="sensor",
            scheme="gc1",
            holder=f"{rng.getrandbits(128):032x}",
        )
        for i in range(1, n + 1)
    ]


def http_ingest(url: str, n: int, n_devices: int) -> float:
    """Checks per second through the real HTTP path, device signing included: ``n_devices``
    devices of one site upload their share at the same time, as a site's gates do."""
    engine = make_engine(url)
    create_schema(engine)
    site = create_site(engine, "Bench", "Asia/Shanghai")
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    bundles = [enrol_device(engine, site.id, f"Gate {i}", hub_url) for i in range(n_devices)]
    engine.dispose()
    share = n // n_devices
    items = make_checks(share, int(time.time() * 1000))
    uploads: list[list[tuple[dict[str, str], bytes]]] = []
    for bundle in bundles:
        bodies = []
        for start in range(0, share, BATCH):
            chunk = items[start : start + BATCH]
            batch = BatchIn(
                device_id=bundle.device_id, log_id=f"{n:032x}", after_seq=start, boot_id="bench",
                sent_wall_ms=int(time.time() * 1000), sent_mono_ms=10**9 + share * 1000,
                backlog=share - start - len(chunk), checks=CheckColumns.pack(chunk),
            )  # fmt: skip
            body = gzip.compress(batch.model_dump_json().encode())
            headers = sign_request(bundle.signing_key_bytes, bundle.device_id, "POST", INGEST_PATH, body)
            bodies.append(({**headers, "Content-Encoding": "gzip"}, body))
        uploads.append(bodies)

    def upload(bodies: list[tuple[dict[str, str], bytes]]) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for headers, body in bodies:
                client.post(INGEST_PATH, content=body, headers=headers).raise_for_status()

    hub = start_hub_process(url, port)
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(n_devices) as pool:
            for done in [pool.submit(upload, bodies) for bodies in uploads]:
                done.result()
        elapsed = time.perf_counter() - started
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait()
    return share * n_devices / elapsed


def raw_insert(url: str, n: int) -> float:
    """Checks per second inserting the same rows straight into the same table."""
    engine = make_engine(url)
    create_schema(engine)
    site = create_site(engine, "Raw", "Asia/Shanghai")
    device = enrol_device(engine, site.id, "North", "http://127.0.0.1:9")
    rows = [
        {
            **c.model_dump(exclude={"flags"}),
            "flags": "",
            "device_id": device.device_id,
            "site_id": site.id,
            "received_ms": c.wall_ms,
            "event_ms": c.wall_ms,
            "time_source": "device",
            "local_date": "2026-11-23",
            "local_hour": 9,
        }
        for c in make_checks(n, int(time.time() * 1000))
    ]
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        with engine.begin() as conn:
            conn.execute(insert(checks), rows[start : start + BATCH])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return n / elapsed


def load_dashboard_data(engine: Engine, n_sites: int, n_days: int) -> list[str]:
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(insert(organisations).values(id="org-bench", name="Bench org", created_at_ms=0))
        conn.execute(
            insert(sites),
            [{"id": f"s{i:05d}", "org_id": "org-bench", "name": f"Site {i:05d}", "timezone": "Asia/Shanghai",
              "report_deadline": "12:00", "pseudonym_key": b"k" * 32, "created_at_ms": 0}
             for i in range(n_sites)],
        )  # fmt: skip
    today = date(2026, 11, 23)
    metrics = (
        "checks",
        "admitted",
        "denied",
        "fevers",
        "holders",
        "devices",
        "gate:North",
        "gate:South",
        "hour:08",
        "hour:17",
    )
    rng = random.Random(5)
    for i in range(n_sites):
        rows = [
            {"site_id": f"s{i:05d}", "local_date": (today - timedelta(days=d)).isoformat(), "metric": m,
             "n": rng.randint(0, 900)}
            for d in range(n_days) for m in metrics
        ]  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(daily_counts), rows)
    return [f"s{i:05d}" for i in range(n_sites)]


def timings(action: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def dashboard(url: str, n_sites: int, n_days: int, runs: int) -> list[tuple[str, float, float]]:
    engine = make_engine(url)
    site_ids = load_dashboard_data(engine, n_sites, n_days)
    today = date(2026, 11, 23)
    one = site_ids[n_sites // 2]
    everyone = queries.list_sites(engine)
    site = next(s for s in everyone if s.id == one)

    def overview() -> object:
        """What the admin's overview reads: every site's place in the worklist (contacts,
        open alerts, yesterday's report), totals over every site, then one page of sites
        (their last 7 days)."""
        now = datetime(today.year, today.month, today.day, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
        work = worklist(engine, everyone, now, 30 * 60_000, every=True)
        queries.overview_totals(engine, None, today)
        shown = work.ordered[:PAGE]
        found = queries.overview_counts(engine, [s.id for s in shown], today - timedelta(days=6), today)
        by_site = {(c.site_id, c.date): c for c in found}
        yesterday = today - timedelta(days=1)
        return queries.day_statuses(
            engine, [(s, yesterday, by_site.get((s.id, yesterday.isoformat()))) for s in shown], now
        )

    def site_page() -> object:
        return queries.daily(engine, [one], today - timedelta(days=29), today), queries.device_health(
            engine, one
        )

    def year_export() -> object:
        found = queries.daily(engine, [one], today - timedelta(days=364), today)
        return queries.day_statuses(engine, [(site, date.fromisoformat(c.date), c) for c in found])

    results = [
        (f"overview: totals + {PAGE} sites", *timings(overview, runs)),
        ("site page: 30 days", *timings(site_page, runs)),
        ("CSV export: 365 days", *timings(year_export, runs)),
    ]
    with engine.begin() as conn:
        conn.execute(delete(daily_counts))
        conn.execute(select(1))
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=50, help="timings of each dashboard query")
    parser.add_argument("--repeat", type=int, default=3, help="ingest runs per database (median kept)")
    parser.add_argument("--devices", type=int, default=4, help="devices uploading at once in the ingest run")
    parser.add_argument("--region-sites", type=int, default=2000, help="sites in the province (100000: full)")
    parser.add_argument("--region-days", type=int, default=30, help="days of region rollups (365: a year)")
    parser.add_argument("--only", default="ingest,dashboard,regions", help="sections to run, comma-separated")
    args = parser.parse_args()
    sections = set(args.only.split(","))
    with (
        tempfile.TemporaryDirectory(prefix="gatecheck-bench-hub-") as tmp,
        postgres_server(free_port()) as admin,
    ):
        if "ingest" in sections:
            ingest_section(args, Path(tmp), admin)
        if "dashboard" in sections:
            dashboard_section(args, Path(tmp), admin)
        if "regions" in sections:
            regions_section(args, Path(tmp), admin)


def ingest_section(args: argparse.Namespace, tmp: Path, admin: str) -> None:
    print(f"Ingest: {args.checks} checks, {args.devices} devices at once, median of {args.repeat} runs")
    print(f"{'database':<12}{'HTTP ingest/s':>15}{'raw executemany/s':>19}{'ratio':>8}")
    for name in ("sqlite", "postgresql"):
        rates: dict[str, list[float]] = {"http": [], "raw": []}
        for run in range(args.repeat):  # interleaved, so both see the same machine load
            for label in ("http", "raw"):

                def measure(url: str, label: str = label) -> float:
                    if label == "http":
                        return http_ingest(url, args.checks, args.devices)
                    return raw_insert(url, args.checks)

                if name == "sqlite":
                    rates[label].append(measure(f"sqlite:///{tmp / f'{label}-{run}.db'}"))
                else:
                    with fresh_database(admin) as url:
                        rates[label].append(measure(url))
        http, raw = statistics.median(rates["http"]), statistics.median(rates["raw"])
        print(f"{name:<12}{http:>15.0f}{raw:>19.0f}{http / raw:>8.0%}", flush=True)


def dashboard_section(args: argparse.Namespace, tmp: Path, admin: str) -> None:
    print(f"\nDashboard queries, {args.sites} sites x {args.days} days, {args.runs} runs: p50 / p95 ms")
    for name in ("sqlite", "postgresql"):
        if name == "sqlite":
            results = dashboard(f"sqlite:///{tmp / 'dash.db'}", args.sites, args.days, args.runs)
        else:
            with fresh_database(admin) as url:
                results = dashboard(url, args.sites, args.days, args.runs)
        for label, p50, p95 in results:
            print(f"  {name:<11}{label:<32}{p50:8.1f}{p95:8.1f}", flush=True)


def regions_section(args: argparse.Namespace, tmp: Path, admin: str) -> None:
    print(
        f"\nRegion pages, {args.region_sites} sites x {args.region_days} days of rollups, {args.runs} runs: "
        "p50 / p95 ms, and p95 against the baseline"
    )
    for name in ("sqlite", "postgresql"):
        started = time.perf_counter()
        if name == "sqlite":
            engine = make_engine(f"sqlite:///{tmp / 'regions.db'}")
            results = region_reads(engine, args)
        else:
            with fresh_database(admin) as url:
                engine = make_engine(url)
                results = region_reads(engine, args)
        print(f"  {name:<11}(loaded and measured in {time.perf_counter() - started:.0f} s)")
        baseline = results[-1][2]
        for label, p50, p95 in results:
            print(f"  {name:<11}{label:<32}{p50:8.1f}{p95:8.1f}{p95 / baseline:8.0%}", flush=True)


def region_reads(engine: Engine, args: argparse.Namespace) -> list[tuple[str, float, float]]:
    ids = region_scale.load(engine, args.region_sites, args.region_days)
    try:
        return [(label, *timings(read, args.runs)) for label, read in region_scale.reads(engine, ids)]
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
