"""Sync benchmark: catch-up of a large backlog, over loopback and through a lossy link.

A hub runs in its own process (`gatecheck hub serve`, SQLite); the device's log is filled
with ``--checks`` checks (about 1 % fevers, which take the priority lane); the agent then
drains it, first straight over loopback, then through the fault-injecting proxy
(``--drop`` of requests dropped, ``--latency`` seconds added to every request), each
time into a fresh hub database. Wire bytes are HTTP bytes both ways (request and status
lines, headers, bodies) as the agent sent and received them.

    .venv/bin/python bench/sync.py [--checks 100000] [--drop 0.10] [--latency 0.2]

The last line is ``lost=N duplicated=M`` over all runs.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edge import clock
from edge.store import CheckStore
from hub.core.db import checks, create_schema, daily_counts, make_engine
from hub.registry import create_site, enrol_device
from sync.agent import SyncAgent, SyncSettings
from tests.faultproxy import FaultProxy, Faults
from tests.hub_process import free_port, start_hub_process

REPO = Path(__file__).resolve().parents[1]


def fill_fast(store: CheckStore, device_id: str, n: int) -> None:
    """Bulk-load a realistic backlog in one transaction (setup, not measured)."""
    now = clock.now()
    rows = []
    for i in range(1, n + 1):
        fever = i % 100 == 0
        # Days of checks, one every 3 s, recorded during an earlier boot of the device.
        temp = 38.3 if fever else round(36.2 + (i % 9) / 10, 1)
        holder = hashlib.sha256(b"%d" % (i % 5000)).hexdigest()[:32]
        verdict, reason = ("deny", "fever") if fever else ("admit", "ok")
        wall = now.wall_ms - (n - i) * 3000
        rows.append((
            device_id, "北门 North gate", wall, i * 3000, "earlier-boot",
            verdict, reason, temp, "sensor", "gc1", holder, "zxing", int(fever),
        ))  # fmt: skip
    with store.db.conn:
        store.db.conn.executemany(
            "INSERT INTO checks (device_id, gate, wall_ms, mono_ms, boot_id, verdict, reason, temp_c, "
            "temp_source, scheme, holder, engine, urgent) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


def run(name: str, workdir: Path, n: int, faults: Faults | None, batch_size: int) -> tuple[int, int, str]:
    hub_db = workdir / f"hub-{name}.db"
    engine = make_engine(f"sqlite:///{hub_db}")
    create_schema(engine)
    site = create_site(engine, "Bench site", "Asia/Shanghai")
    port = free_port()
    bundle = enrol_device(engine, site.id, "北门 North gate", f"http://127.0.0.1:{port}")
    store = CheckStore(workdir / f"edge-{name}.db")
    fill_fast(store, bundle.device_id, n)
    hub = start_hub_process(f"sqlite:///{hub_db}", port)
    proxy = FaultProxy(port, faults).start() if faults else None
    try:
        url = proxy.url if proxy else bundle.hub_url
        agent = SyncAgent(
            bundle.model_copy(update={"hub_url": url}), store, SyncSettings(batch_size=batch_size)
        )
        started = time.perf_counter()
        report = agent.push()
        elapsed = time.perf_counter() - started
    finally:
        if proxy:
            proxy.stop()
        hub.send_signal(signal.SIGTERM)
        hub.wait()
    with engine.connect() as conn:
        held = conn.scalar(
            select(func.count()).select_from(checks).where(checks.c.device_id == bundle.device_id)
        )
        counted = (
            conn.scalar(select(func.sum(daily_counts.c.n)).where(daily_counts.c.metric == "checks")) or 0
        )
    lost = n - int(held or 0)
    duplicated = int(counted) - int(held or 0)
    wire = agent.wire.sent + agent.wire.received
    faults_seen = ", ".join(f"{k} {v}" for k, v in sorted(proxy.seen.items())) if proxy else "-"
    line = (
        f"{name:<10}{n:>9}{elapsed:>9.2f}{n / elapsed:>11.0f}{wire / n:>9.1f}{agent.wire.requests:>9}"
        f"{report.urgent:>8}  {faults_seen}"
    )
    return lost, duplicated, line


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--drop", type=float, default=0.10, help="share of requests the lossy link drops")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds added to every request")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-lossy", action="store_true")
    args = parser.parse_args()

    columns = f"{'checks':>9}{'time s':>9}{'checks/s':>11}{'B/check':>9}{'requests':>9}{'urgent':>8}"
    print(f"{'link':<10}{columns}  faults")
    lost = duplicated = 0
    with tempfile.TemporaryDirectory(prefix="gatecheck-bench-sync-") as tmp:
        scenarios: list[tuple[str, Faults | None]] = [("loopback", None)]
        if not args.skip_lossy:
            scenarios.append(("lossy", Faults(drop=args.drop, latency_s=args.latency, seed=args.seed)))
        for name, faults in scenarios:
            run_lost, run_dup, line = run(name, Path(tmp), args.checks, faults, args.batch_size)
            lost += run_lost
            duplicated += run_dup
            print(line, flush=True)
    print(f"lost={lost} duplicated={duplicated}")


if __name__ == "__main__":
    main()
