"""Decoder benchmark: our cascade against pyzbar, OpenCV and zxing-cpp alone, same run.

For each category — the real photos in ../shared/testdata/qr-photos (one category per
set) and synthetic phone-screen frames (see gatecheck.samples.DEGRADATIONS) — it prints
the read rate and the median / p90 milliseconds per frame of every engine (the cascade
with and without its CNN fallback, so the fallback's cost shows per category), then the
cost of an empty frame, then the photos recoloured as health-code apps draw them (green,
yellow, red modules on white under the same light): read rate against black, and how often
the reported colour is right — and whether a red or yellow code was ever called green.
Everything runs pinned to one core with OpenCV single-threaded; each
frame is timed ``--runs`` times and the median kept.

    .venv/bin/python bench/decode.py [--photos DIR] [--per-category 40] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edge.decode import decode
from gatecheck.samples import APP_COLOURS, DEGRADATIONS, degraded_frame, empty_frame, random_payload, recolour

Engine = Callable[[np.ndarray], list[tuple[bytes, str]]]
DEFAULT_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "qr-photos"


def cascade(image: np.ndarray) -> list[tuple[bytes, str]]:
    return [(c.payload, c.text) for c in decode(image, still=True)]


def cascade_without_cnn(image: np.ndarray) -> list[tuple[bytes, str]]:
    return [(c.payload, c.text) for c in decode(image, still=True, cnn=False)]


def cascade_stream(image: np.ndarray) -> list[tuple[bytes, str]]:
    return [(c.payload, c.text) for c in decode(image, still=False)]


def pyzbar_alone(image: np.ndarray) -> list[tuple[bytes, str]]:
    found = pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return [(r.data, r.data.decode("utf-8", "replace")) for r in found]


_DETECTOR = cv2.QRCodeDetector()


def opencv_alone(image: np.ndarray) -> list[tuple[bytes, str]]:
    try:
        ok, texts, _, _ = _DETECTOR.detectAndDecodeMulti(image)
    except (cv2.error, UnicodeDecodeError):
        return []
    return [(t.encode(), t) for t in texts if t] if ok else []


def zxing_alone(image: np.ndarray) -> list[tuple[bytes, str]]:
    return [(b.bytes, b.text) for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


ENGINES: dict[str, Engine] = {
    "cascade": cascade,
    "cascade -cnn": cascade_without_cnn,
    "pyzbar": pyzbar_alone,
    "opencv": opencv_alone,
    "zxing-cpp": zxing_alone,
}


@dataclass
class Sample:
    image: np.ndarray
    expected_bytes: bytes | None
    expected_text: str | None


@dataclass
class Score:
    read: int = 0
    total: int = 0
    ms: list[float] = field(default_factory=list)

    def cell(self) -> str:
        rate = f"{100 * self.read / self.total:5.1f}%" if self.total else "   -  "
        med = statistics.median(self.ms)
        p90 = sorted(self.ms)[int(0.9 * (len(self.ms) - 1))]
        return f"{rate} {med:6.2f} {p90:6.2f}"


def correct(found: list[tuple[bytes, str]], sample: Sample) -> bool:
    norm = lambda s: s.replace("\r\n", "\n")  # noqa: E731 - the photo texts store \n
    return any(
        data == sample.expected_bytes
        or (sample.expected_text is not None and norm(text) == norm(sample.expected_text))
        for data, text in found
    )


def measure(engine: Engine, samples: list[Sample], runs: int) -> Score:
    score = Score()
    for sample in samples:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            found = engine(sample.image)
            times.append((time.perf_counter() - start) * 1000)
        score.ms.append(statistics.median(times))
        score.total += 1
        score.read += correct(found, sample)
    return score


def photo_sets(root: Path) -> dict[str, list[Sample]]:
    sets: dict[str, list[Sample]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        samples = []
        for image_path in sorted(folder.iterdir()):
            if image_path.suffix.lower() not in {".png", ".jpg", ".jpeg"}:
                continue
            image = cv2.imread(str(image_path), cv2.IMREAD_ANYCOLOR | cv2.IMREAD_IGNORE_ORIENTATION)
            text = image_path.with_suffix(".txt").read_text(encoding="utf-8")
            samples.append(Sample(image, None, text))
        sets[f"photos/{folder.name}"] = samples
    return sets


def synthetic_sets(per_category: int, seed: int) -> dict[str, list[Sample]]:
    rng = np.random.default_rng(seed)
    sets = {}
    for category in DEGRADATIONS:
        samples = []
        for _ in range(per_category):
            payload = random_payload(rng)
            # Credit an engine whose text is right even if it transcoded the bytes (zbar does).
            text = payload.decode("utf-8") if payload.isascii() else payload.decode("gb18030")
            samples.append(Sample(degraded_frame(payload, category, rng), payload, text))
        sets[f"synthetic/{category}"] = samples
    return sets


def colours(photos: dict[str, list[Sample]]) -> None:
    """Read rate of recoloured photos against black, colour right, red/yellow as green."""
    print("\nColoured codes (photos recoloured as the apps draw them): read / colour right")
    print(f"{'category':<24}{'black':>6}" + "".join(f"{c:>16}" for c in APP_COLOURS) + "  red/yellow→green")
    for category, samples in photos.items():
        black = sum(correct(cascade(s.image), s) for s in samples)
        cells, dangerous = [], 0
        for colour in APP_COLOURS:
            read = right = 0
            for sample in samples:
                codes = decode(recolour(sample.image, colour), still=True)
                match = [c for c in codes if correct([(c.payload, c.text)], sample)]
                read += bool(match)
                right += bool(match) and match[0].colour == colour
                dangerous += bool(match) and colour != "green" and match[0].colour == "green"
            cells.append(f"{read:>7} / {right:<6}")
        print(f"{category:<24}{black:>6}" + "".join(f"{c:>16}" for c in cells) + f"  {dangerous:>5}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="folder of sets of N.png + N.txt")
    parser.add_argument("--per-category", type=int, default=40, help="synthetic frames per category")
    parser.add_argument("--runs", type=int, default=5, help="timings per frame (median kept)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    categories = synthetic_sets(args.per_category, args.seed)
    if args.photos.is_dir():
        categories = photo_sets(args.photos) | categories
    else:
        print(f"(no photos at {args.photos}: synthetic frames only)")

    header = f"{'category':<24}{'n':>4}  " + "".join(
        f"{name + ': read  med ms  p90':<33}" for name in ENGINES
    )
    print(header)
    print("-" * len(header))
    totals = {name: Score() for name in ENGINES}
    for category, samples in categories.items():
        cells = []
        for name, engine in ENGINES.items():
            score = measure(engine, samples, args.runs)
            totals[name].read += score.read
            totals[name].total += score.total
            totals[name].ms += score.ms
            cells.append(f"{score.cell():<33}")
        print(f"{category:<24}{len(samples):>4}  " + "".join(cells))
    print("-" * len(header))
    print(f"{'all':<24}{totals['cascade'].total:>4}  " + "".join(f"{t.cell():<33}" for t in totals.values()))

    rng = np.random.default_rng(args.seed + 1)
    empties = [Sample(empty_frame(rng), None, None) for _ in range(args.per_category)]
    print("\nEmpty 640x480 frames (no code): median / p90 ms")
    for name, engine in {**ENGINES, "cascade (stream mode)": cascade_stream}.items():
        score = measure(engine, empties, args.runs)
        p90 = sorted(score.ms)[int(0.9 * (len(score.ms) - 1))]
        print(f"  {name:<24}{statistics.median(score.ms):7.2f} {p90:7.2f}")
    photos = {c: ss for c, ss in categories.items() if c.startswith("photos/")}
    if photos:
        colours(photos)
    frames = [s for c, ss in categories.items() if c.startswith("synthetic/") and "huge" not in c for s in ss]
    medians = {name: statistics.median(measure(e, frames, args.runs).ms) for name, e in ENGINES.items()}
    print("\n640x480 frames with a code, median ms: " + ", ".join(f"{k} {v:.2f}" for k, v in medians.items()))
    print(f"cascade vs pyzbar alone: {medians['pyzbar'] / medians['cascade']:.1f}x faster")


if __name__ == "__main__":
    main()
