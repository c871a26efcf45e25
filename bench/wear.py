"""SD-card wear: bytes written to storage per check on the device.

Appends ``--checks`` checks one transaction each (every check is fsynced before its
verdict shows), with a realistic mix — 5 % first high readings, 2 % urgent checks — and a
sync round every 100 checks (urgent marked sent, acknowledgement moved), into a fresh file
under ``--dir`` (put it on the disk you care about; tmpfs reports no device writes).
Measured from /proc/self/io, medians over ``--repeat`` runs:

* **SQLite bytes** — what SQLite hands the kernel: WAL frames, checkpoints into the
  database file, index pages (``wchar``). The goal is ≤ 4 KB per check.
* **device bytes** — what the kernel sends the block device (``write_bytes``). The page
  cache writes whole 4 KiB pages, and each check's fsync flushes at least one, so
  durable-per-check logging cannot go below ~4 KiB here whatever SQLite writes.

Baseline in the same run: the same rows through sqlite-utils on SQLite's defaults
(rollback journal, 4 KiB pages, one plain table, no indexes).

    .venv/bin/python bench/wear.py [--checks 2000] [--repeat 3] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlite_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edge.store import CheckStore, NewCheck


def io_counters() -> tuple[int, int]:
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["wchar"]), int(fields["write_bytes"])


def checks(n: int) -> Iterator[NewCheck]:
    rng = random.Random(7)
    for i in range(n):
        high, urgent = rng.random() < 0.05, rng.random() < 0.02
        yield NewCheck(
            device_id="dev-0123456789", gate="North gate", wall_ms=1_800_000_000_000 + i * 3000,
            mono_ms=i * 3000, boot_id="7f0c3c2e-5f1e-4a57-9d0e-1f7d2c9a8b6e",
            verdict="deny" if urgent else "remeasure" if high else "admit",
            reason="fever" if urgent else "temp_high" if high else "ok",
            temp_c=38.2 if urgent or high else 36.5, temp_source="sensor", scheme="gc1",
            holder=f"{rng.getrandbits(128):032x}", engine="pyzbar", urgent=urgent,
        )  # fmt: skip


def ours(path: Path, n: int) -> None:
    store = CheckStore(path)
    for check in checks(n):
        seq = store.append(check)
        if seq % 100 == 0:  # a sync round: urgent ones out first, then the acknowledgement
            store.mark_urgent_sent([c.seq for c in store.urgent_unsent(100)])
            store.set_acked_seq(seq)
    store.close()


def baseline(path: Path, n: int) -> None:
    db = sqlite_utils.Database(path)
    table = db["checks"]
    for check in checks(n):
        with db.conn:
            table.insert(check.model_dump() | {"flags": ",".join(check.flags)})  # type: ignore[union-attr]
    db.close()


def per_check(write: Callable[[Path, int], None], folder: Path, n: int) -> tuple[float, float, float]:
    path = Path(tempfile.mkdtemp(dir=folder)) / "edge.db"
    before = io_counters()
    write(path, n)
    after = io_counters()
    return (after[0] - before[0]) / n, (after[1] - before[1]) / n, path.stat().st_size / n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp"), help="where the files go")
    args = parser.parse_args()
    runs: dict[str, list[tuple[float, float, float]]] = {"baseline": [], "gatecheck": []}
    for _ in range(args.repeat):  # interleaved, so both see the same machine
        runs["baseline"].append(per_check(baseline, args.dir, args.checks))
        runs["gatecheck"].append(per_check(ours, args.dir, args.checks))
    print(
        f"Bytes written per check: {args.checks} checks, each its own fsynced transaction, "
        f"median of {args.repeat}"
    )
    print(f"{'store':<44}{'SQLite bytes':>14}{'device bytes':>14}{'file bytes':>12}")
    labels = {
        "baseline": "baseline: sqlite-utils, SQLite defaults",
        "gatecheck": "gatecheck CheckStore (WAL, 1 KiB pages)",
    }
    medians = {k: [statistics.median(r[i] for r in v) for i in range(3)] for k, v in runs.items()}
    for key, (wchar, device, size) in medians.items():
        print(f"{labels[key]:<44}{wchar:>14,.0f}{device:>14,.0f}{size:>12,.0f}")
    ratio = medians["gatecheck"][0] / medians["baseline"][0]
    verdict = "met" if medians["gatecheck"][0] <= 4096 else "NOT met"
    print(f"SQLite bytes: gatecheck / baseline = {ratio:.2f}; goal ≤ 4 KB per check: {verdict}")


if __name__ == "__main__":
    main()
