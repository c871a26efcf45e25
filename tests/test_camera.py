"""Camera sources and the camera loop, on real video files and image folders."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from core.bundle import DeviceBundle
from edge.camera import LatestFrame, Roi, open_stream
from edge.frames import FrameError
from gatecheck.cli import main
from gatecheck.samples import render_frame, write_png
from tests.conftest import data_set


def write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def numbered(n: int) -> list[np.ndarray]:
    """Frames that carry their own index, readable after JPEG compression."""
    frames = []
    for i in range(n):
        frame = np.zeros((480, 640), np.uint8)
        frame[:, : 4 * (i + 1) % 640 or 1] = 255
        frames.append(frame)
    return frames


def test_file_sources_are_read_frame_by_frame(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", numbered(30))
    names = [f.name for f in open_stream(str(video))]
    assert names == [f"{video}#{i}" for i in range(30)]


def test_live_sources_drop_stale_frames_for_a_slow_consumer(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", numbered(150))
    grabber = LatestFrame(cv2.VideoCapture(str(video)), "live")
    seen = []
    for frame in grabber:
        seen.append(int(frame.name.split("#")[1]))
        time.sleep(0.02)  # decoding is slower than the camera
    assert grabber.grabbed == 150
    assert grabber.dropped > 0 and len(seen) < 150
    assert seen == sorted(seen) and seen[-1] >= 140  # always the newest, up to the end


def test_region_of_interest_crops_before_decoding(tmp_path: Path) -> None:
    frame = np.full((480, 640), 90, np.uint8)
    frame[40:440, 330:630] = cv2.resize(render_frame("RIGHT", size=(300, 400), module_px=8), (300, 400))
    video = write_video(tmp_path / "v.avi", [frame] * 3)
    (first, *_) = list(open_stream(str(video), Roi(0, 0, 320, 480)))
    assert first.image.shape == (480, 320)
    from edge.decode import decode

    assert decode(first.image) == []
    (whole, *_) = list(open_stream(str(video), Roi(320, 0, 320, 480)))
    assert [c.text for c in decode(whole.image)] == ["RIGHT"]


def test_bad_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FrameError, match="not a camera index"):
        open_stream(str(tmp_path / "notes.txt"))
    with pytest.raises(FrameError, match="cannot open video source"):
        open_stream(str(tmp_path / "missing.avi"))
    for bad in ["1,2,3", "a,b,c,d", "0,0,0,10", "-1,0,5,5"]:
        with pytest.raises(ValueError, match="region"):
            Roi.parse(bad)


def test_edge_run_over_a_folder_debounces_and_records(
    tmp_path: Path, bundle: DeviceBundle, qr_png: Callable[..., Path], signed: Callable[..., str]
) -> None:
    first, second = signed("A"), signed("B")
    for i, payload in enumerate([first, first, first, second]):
        qr_png(payload, f"{i:02d}.png", angle=i * 5)
    write_png(tmp_path / "images" / "04.png", np.full((480, 640), 80, np.uint8))  # nobody
    result = CliRunner().invoke(
        main,
        ["edge", "run", "--device", str(tmp_path / "device.json"), "--db", str(tmp_path / "edge.db"),
         "--source", str(tmp_path / "images"), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["code"] for line in result.output.splitlines()] == [first, second]


PHOTOS = data_set("qr-photos/qrcode-1", "qr-photos/subset")


def test_code_decode_json_contract(tmp_path: Path) -> None:
    """`gatecheck code decode --json` as acceptance checks call it: real photos, a folder,
    a corrupt file."""
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    result = subprocess.run(
        [sys.executable, "-m", "gatecheck", "code", "decode", "--json", str(PHOTOS), str(corrupt)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "corrupt.jpg is not an image" in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    images = sorted(p for p in PHOTOS.iterdir() if p.suffix in {".png", ".jpg"})
    assert [line["path"] for line in lines] == [str(p) for p in images] + [str(corrupt)]
    assert lines[-1]["error"] and lines[-1]["codes"] == []
    for line, image in zip(lines, images, strict=False):
        assert set(line) == {"path", "codes", "ms"} and line["ms"] >= 0
        pixels = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION)
        for code in line["codes"]:
            assert {"text", "corners", "engine"} <= set(code)
            assert len(code["corners"]) == 4
            for x, y in code["corners"]:
                assert -5 <= x <= pixels.shape[1] + 5 and -5 <= y <= pixels.shape[0] + 5
    expected = [p.with_suffix(".txt").read_text(encoding="utf-8") for p in images]
    got = [line["codes"][0]["text"].replace("\r\n", "\n") if line["codes"] else None for line in lines[:-1]]
    assert got == expected
