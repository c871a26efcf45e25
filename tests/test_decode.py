"""Real images through the real decoders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.decode import decode
from edge.frames import FrameError, read_image
from gatecheck.samples import render_frame, spoil
from tests.conftest import SHARED


@pytest.mark.parametrize("angle", [0, 12, -25, 90])
def test_rotated_phone_frame_decodes_exactly(angle: float) -> None:
    payload = "https://hc.example.invalid/v?token=ABC123&n=7"
    codes = decode(render_frame(payload, angle=angle, blur=0.8, noise=5, seed=1))
    assert [c.text for c in codes] == [payload]
    assert len(codes[0].corners) == 4
    assert codes[0].engine == "zxing"


def test_corners_surround_the_code() -> None:
    frame = render_frame("corner test", module_px=5)
    (code,) = decode(frame)
    xs = [x for x, _ in code.corners]
    ys = [y for _, y in code.corners]
    # The code is centred in a 640x480 frame.
    assert min(xs) < 320 < max(xs)
    assert min(ys) < 240 < max(ys)


def test_frame_without_code_yields_nothing() -> None:
    rng = np.random.default_rng(3)
    empty = rng.integers(60, 120, size=(480, 640), dtype=np.uint8)
    assert decode(empty) == []


def test_spoiled_code_is_unreadable() -> None:
    assert decode(spoil(render_frame("covered by a hand"))) == []


def test_non_image_file_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not a picture")
    with pytest.raises(FrameError, match="not an image"):
        read_image(bogus)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(FrameError, match="not an image"):
        read_image(empty)
    with pytest.raises(FrameError, match="cannot read"):
        read_image(tmp_path / "missing.png")


PHOTOS = SHARED / "testdata" / "qr-photos" / "qrcode-1"


@pytest.mark.skipif(not PHOTOS.is_dir(), reason=f"real photos not found at {PHOTOS}")
def test_real_camera_photos_never_misread() -> None:
    """On real photos, whatever we read is exactly the expected text, and most are read."""
    images = sorted(p for p in PHOTOS.iterdir() if p.suffix in {".png", ".jpg"})
    read = 0
    for image in images:
        expected = image.with_suffix(".txt").read_text(encoding="utf-8")
        codes = decode(read_image(image))
        if codes:
            read += 1
            # The expected files store line breaks as \n; codes may hold \r\n.
            got = codes[0].payload.replace(b"\r\n", b"\n")
            assert got == expected.encode("utf-8"), image.name
    assert read >= len(images) // 2, f"read {read} of {len(images)}"
