"""Fleet benchmark: many gates at the morning peak against one PostgreSQL, 1 and 2 workers.

``--devices`` simulated devices (1,000), each with its own key and check log, upload an
uneven morning-peak load: a fifth of them first send a small urgent batch (a fever or a
red code), every device sends its routine checks (20–80), and a tenth are catching up a
backlog (500–2,000 checks in 500-check batches). ``--senders`` connections upload at once
(devices in turn, each device's batches in order, as an agent does), while a manager's
browser session reads the overview page a few times a second. Requests are signed before
the clock starts, so the machine's two cores go to the hub and the database. The sites and
devices are enrolled a moment before the run, but a deployment's were enrolled days before
its morning and autovacuum has analysed them since, so the bench runs ``ANALYZE`` first:
without it PostgreSQL plans the pages' reads for the empty tables it last saw (measured:
the overview's worklist joined 3,000 gates by 3,000 index lookups, 4–14 ms a page).

``--pattern steady`` is the hour after the rush: no backlogs, every device sending what
its gate saw since the last sync round (1–8 checks a request) — the small requests a
latency goal is about; with ``--rate`` it offers a fixed number of requests per second
instead of as many as the hub takes.

The first ``--warmup`` seconds of each run (5) are load like the rest but not measured:
a hub process just started opens its database connections and PostgreSQL prepares its
statements then, and the first requests of 32 new client connections queue behind that
(up to ~0.7 s here) — the cold start is printed on its own line, the table is the steady
state a running hub serves in.

Printed, medians of the runs: checks/s, requests/s, request latency p50/p99, CPU seconds
spent per 1,000 checks by the hub processes, by PostgreSQL and by this process (the fleet's
HTTP clients and the manager's browser: they share the cores), and ``lost``/``duplicated``
from comparing every device's log with the hub; and the overview's p50 and p95 during the
load over every page read measured in the runs (their number in brackets).

    .venv/bin/python bench/fleet.py [--devices 1000] [--senders 32] [--workers 1 2]
                                    [--pattern peak|steady] [--rate 300]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import random
import re
import signal
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.protocol import INGEST_PATH, BatchIn, CheckColumns, CheckIn, sign_request
from hub.auth import create_user
from hub.core.db import checks, create_schema, make_engine
from hub.registry import create_site, enrol_device
from tests.hub_process import connections_by_process, free_port, start_hub_process
from tests.postgres import fresh_database, postgres_server

BATCH = 500
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Device:
    device_id: str
    checks: int
    requests: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    """(headers, body, checks in it) of each upload, in order."""


def workload(n: int, rng: random.Random, pattern: str) -> list[tuple[list[CheckIn], list[CheckIn]]]:
    """Per device: (urgent checks sent first, the whole log in order)."""
    now = int(time.time() * 1000)
    plan = []
    for d in range(n):
        catching_up = pattern == "peak" and rng.random() < 0.1
        size = rng.randint(500, 2000) if catching_up else rng.randint(20, 80)
        urgent_at = {rng.randint(1, size)} if rng.random() < 0.2 else set()
        log = [
            CheckIn(
                seq=i,
                gate=f"Gate {d}",
                wall_ms=now - (size - i) * 2000,
                mono_ms=10**8 + i * 2000,
                boot_id=f"boot-{d}",
                verdict="deny" if i in urgent_at else "admit",
                reason=rng.choice(["fever", "code_red"]) if i in urgent_at else "ok",
                temp_c=38.4 if i in urgent_at else 36.5,
                temp_source="sensor",
                scheme="gc1",
                holder=f"{rng.getrandbits(128):032x}",
            )
            for i in range(1, size + 1)
        ]
        plan.append(([c for c in log if c.seq in urgent_at], log))
    return plan


def signed(
    bundle: object, after: int | None, chunk: list[CheckIn], backlog: int, log_id: str
) -> tuple[dict[str, str], bytes]:
    batch = BatchIn(
        device_id=bundle.device_id, log_id=log_id, after_seq=after, boot_id=chunk[0].boot_id,
        sent_wall_ms=int(time.time() * 1000), sent_mono_ms=10**8 + chunk[-1].seq * 2000,
        backlog=backlog, checks=CheckColumns.pack(chunk),
    )  # fmt: skip
    body = gzip.compress(batch.model_dump_json().encode())
    headers = sign_request(bundle.signing_key_bytes, bundle.device_id, "POST", INGEST_PATH, body)
    return {**headers, "Content-Encoding": "gzip"}, body


def cpu_seconds(roots: list[int] | None, name: str | None = None) -> float:
    """User+system CPU of the process trees under ``roots`` (or of every process called
    ``name``), from /proc."""
    stats: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        stats[int(entry.name)] = (int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / TICK)
    if name is not None:
        return sum(cpu for _, comm, cpu in stats.values() if comm == name)
    wanted, grew = set(roots or []), True
    while grew:
        extra = {pid for pid, (ppid, _, _) in stats.items() if ppid in wanted and pid not in wanted}
        wanted |= extra
        grew = bool(extra)
    return sum(stats[pid][2] for pid in wanted if pid in stats)


class Sender:
    """One kept-alive connection of the fleet, on the standard library's HTTP client: the
    load generator shares the cores with what it measures, and httpx spent ~3× the CPU per
    small request (docs/hub.md, eighth session). A connection the hub closed while it sat
    idle is opened again and the request re-sent — uploads are idempotent, which is what
    the lost/duplicated comparison then checks."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, body=body, headers=headers)
                answer = self.conn.getresponse()
                answer.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                self.conn.close()
                if attempt == 2:
                    raise
                continue
            if answer.status != 200:
                raise RuntimeError(f"upload answered {answer.status}")
            return

    def close(self) -> None:
        self.conn.close()


def overview_reader(
    url: str, password: str, stop: threading.Event, latencies: list[tuple[float, float]]
) -> None:
    with httpx.Client(base_url=url, timeout=30) as browser:
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
        assert token, "no login form"
        form = {"username": "manager", "password": password, "csrf_token": token.group(1)}
        assert browser.post("/login", data=form).status_code in (200, 303)
        while not stop.is_set():
            started = time.perf_counter()
            browser.get("/").raise_for_status()
            latencies.append((started, (time.perf_counter() - started) * 1000))
            stop.wait(0.3)


def cuts(size: int, rng: random.Random, pattern: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each request's slice of a log: 500 at a time at the peak, what a
    sync round finds (1–8 checks) in the steady hour."""
    start = 0
    while start < size:
        end = min(size, start + (BATCH if pattern == "peak" else rng.randint(1, 8)))
        yield start, end
        start = end


def run(
    admin_url: str, n_devices: int, senders: int, workers: int, rate: float, pattern: str, warmup: float
) -> dict[str, float]:
    with fresh_database(admin_url) as url:
        engine = make_engine(url)
        create_schema(engine)
        port = free_port()
        hub_url = f"http://127.0.0.1:{port}"
        sites = [create_site(engine, f"Site {i}", "Asia/Shanghai") for i in range(max(1, n_devices // 20))]
        bundles = [
            enrol_device(engine, sites[i % len(sites)].id, f"Gate {i}", hub_url) for i in range(n_devices)
        ]
        create_user(engine, "manager", "manager password", "admin")
        with engine.begin() as conn:  # a fleet enrolled days ago: autovacuum has analysed it
            conn.exec_driver_sql("ANALYZE")
        rng = random.Random(11)
        devices: list[Device] = []
        for bundle, (urgent, log) in zip(bundles, workload(n_devices, rng, pattern), strict=True):
            device, log_id = Device(bundle.device_id, len(log)), f"{rng.getrandbits(128):032x}"
            if urgent:
                device.requests.append((*signed(bundle, None, urgent, len(log), log_id), len(urgent)))
            for start, end in cuts(len(log), rng, pattern):
                chunk = log[start:end]
                device.requests.append((*signed(bundle, start, chunk, len(log) - end, log_id), len(chunk)))
            devices.append(device)
        timed: list[tuple[float, float, int]] = []  # (started, latency ms, checks) per request
        lock = threading.Lock()
        schedule = {"start": 0.0, "next": 0}

        def upload(queue: Iterator[Device]) -> None:
            sender = Sender(port)
            try:
                while True:
                    with lock:
                        device = next(queue, None)
                    if device is None:
                        return
                    for headers, body, n_checks in device.requests:
                        if rate:  # an offered load of ``rate`` requests/s, not as fast as possible
                            with lock:
                                slot = schedule["next"]
                                schedule["next"] += 1
                            time.sleep(max(0.0, schedule["start"] + slot / rate - time.perf_counter()))
                        started = time.perf_counter()
                        sender.post(INGEST_PATH, body, headers)
                        with lock:
                            timed.append((started, (time.perf_counter() - started) * 1000, n_checks))
            finally:
                sender.close()

        hub = start_hub_process(url, port, workers=workers)
        try:
            overview: list[tuple[float, float]] = []
            stop = threading.Event()
            reader = threading.Thread(
                target=overview_reader, args=(hub_url, "manager password", stop, overview)
            )
            reader.start()
            schedule["start"] = time.perf_counter()
            measured = schedule["start"] + warmup
            cpu_at_start: dict[str, float] = {}

            def measuring() -> None:
                cpu_at_start.update(
                    hub=cpu_seconds([hub.pid]), db=cpu_seconds(None, "postgres"), fleet=time.process_time()
                )
                held = sorted((n for pid, n in connections_by_process(port).items() if pid != os.getpid()))
                print(f"{workers} worker(s), connections each held when measuring began: {held}", flush=True)

            clock = threading.Timer(warmup, measuring)
            clock.start()
            queue = iter(devices)
            with ThreadPoolExecutor(senders) as pool:
                for done in [pool.submit(upload, queue) for _ in range(senders)]:
                    done.result()
            elapsed = time.perf_counter() - measured
            clock.join()
            hub_cpu = cpu_seconds([hub.pid]) - cpu_at_start["hub"]
            db_cpu = cpu_seconds(None, "postgres") - cpu_at_start["db"]
            fleet_cpu = time.process_time() - cpu_at_start["fleet"]
            stop.set()
            reader.join()
        finally:
            hub.send_signal(signal.SIGTERM)
            hub.wait()
        with engine.connect() as conn:  # every device's log against what the hub holds
            held = dict(
                conn.execute(select(checks.c.device_id, func.count()).group_by(checks.c.device_id)).all()
            )
            distinct = select(checks.c.device_id, checks.c.seq).distinct().subquery()
            stored = int(conn.scalar(select(func.count()).select_from(checks)) or 0)
            unique = int(conn.scalar(select(func.count()).select_from(distinct)) or 0)
        lost = sum(max(0, d.checks - held.get(d.device_id, 0)) for d in devices)
        engine.dispose()
    cold = sorted(ms for at, ms, _ in timed if at < measured)
    latencies = sorted(ms for at, ms, _ in timed if at >= measured)
    checks_measured = sum(n for at, _, n in timed if at >= measured)
    pages = sorted(ms for at, ms in overview if at >= measured)
    return {
        "workers": workers, "checks": checks_measured, "seconds": elapsed,
        "checks_s": checks_measured / elapsed,
        "requests_s": len(latencies) / elapsed,
        "p50": statistics.median(latencies), "p99": latencies[int(len(latencies) * 0.99) - 1],
        "pages": pages,
        "hub_cpu_per_1k": hub_cpu / checks_measured * 1000, "db_cpu_per_1k": db_cpu / checks_measured * 1000,
        "fleet_cpu_per_1k": fleet_cpu / checks_measured * 1000,
        "lost": lost, "duplicated": stored - unique,
        "cold_requests": len(cold), "cold_p99": cold[int(len(cold) * 0.99) - 1] if cold else float("nan"),
    }  # fmt: skip


def overview_pooled(pages: list[float]) -> dict[str, float]:
    """The overview's p50/p95 over every page read measured in all runs of one worker count,
    not the median of each run's: a run at the peak measures a few seconds, a dozen reads,
    whose "p95" is its second-slowest read; pooled over the runs it is a percentile."""
    pages = sorted(pages)
    if not pages:
        return {"overview_p50": float("nan"), "overview_p95": float("nan"), "overview_reads": 0}
    p95 = pages[max(0, int(len(pages) * 0.95) - 1)]
    return {"overview_p50": statistics.median(pages), "overview_p95": p95, "overview_reads": len(pages)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=32, help="connections uploading at once")
    parser.add_argument("--rate", type=float, default=0, help="requests/s offered (0: as fast as possible)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per worker count, interleaved (medians)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring")
    parser.add_argument("--pattern", choices=["peak", "steady"], default="peak", help="see above")
    args = parser.parse_args()
    with postgres_server(free_port()) as admin_url:
        runs: dict[int, list[dict[str, float]]] = {w: [] for w in args.workers}
        for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits both
            for w in args.workers:
                runs[w].append(
                    run(admin_url, args.devices, args.senders, w, args.rate, args.pattern, args.warmup)
                )
    results = [
        {k: statistics.median(r[k] for r in runs[w]) for k in runs[w][0] if k != "pages"}
        | overview_pooled([ms for r in runs[w] for ms in r["pages"]])
        for w in args.workers
    ]
    print(
        f"Fleet ({args.pattern}): {args.devices} devices, {args.senders} connections, PostgreSQL, "
        f"{os.cpu_count()} cores,"
    )
    print(
        f"medians of {args.repeat} interleaved runs"
        + (f", {args.rate:.0f} requests/s offered" if args.rate else "")
        + f"; measured after {args.warmup:g} s of warm-up"
    )
    print(
        "workers  checks   secs  checks/s  req/s  p50 ms  p99 ms  overview p50/p95 (reads)"
        "  hub CPU s/1k  db CPU s/1k  fleet CPU s/1k  lost dup"
    )
    for r in results:
        row = [
            f"{r['workers']:>7.0f}", f"{r['checks']:>7.0f}", f"{r['seconds']:>6.1f}",
            f"{r['checks_s']:>9.0f}",
            f"{r['requests_s']:>6.0f}", f"{r['p50']:>7.1f}", f"{r['p99']:>7.1f}",
            f"{r['overview_p50']:>7.0f}/{r['overview_p95']:<4.0f} ms ({r['overview_reads']:>4.0f})",
            f"{r['hub_cpu_per_1k']:>12.3f}", f"{r['db_cpu_per_1k']:>12.3f}",
            f"{r['fleet_cpu_per_1k']:>15.3f}",
            f"{r['lost']:>5.0f}", f"{r['duplicated']:>3.0f}",
        ]  # fmt: skip
        print(" ".join(row))
    for r in results:
        print(
            f"cold start, {r['workers']:.0f} worker(s): the first {r['cold_requests']:.0f} requests "
            f"(warm-up), p99 {r['cold_p99']:.1f} ms"
        )
    if len(results) > 1:
        ratio = results[-1]["checks_s"] / results[0]["checks_s"]
        print(f"{results[-1]['workers']:.0f} workers / {results[0]['workers']:.0f}: {ratio:.2f}x checks/s")


if __name__ == "__main__":
    main()
