"""Real images through the real decoders."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import segno

from edge.decode import decode
from edge.frames import FrameError, read_image
from gatecheck.samples import degraded_frame, empty_frame, random_payload, render_frame, spoil, write_png
from tests.conftest import data_set


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


PHOTOS = data_set("qr-photos/qrcode-1", "qr-photos/subset")


def test_real_camera_photos_never_misread() -> None:
    """On real photos, whatever we read is exactly the expected text, and most are read.
    (Codes in a legacy charset — Shift_JIS, GB2312 — are read as bytes, which the expected
    UTF-8 texts do not show; those are left out here.)"""
    images = sorted(p for p in PHOTOS.iterdir() if p.suffix in {".png", ".jpg"})
    images = [p for p in images if p.with_suffix(".txt").read_text(encoding="utf-8").isascii()]
    assert len(images) >= 15
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


def test_dark_mode_inverted_code() -> None:
    (code,) = decode(render_frame("dark mode screen", inverted=True))
    assert code.text == "dark mode screen"


def test_tiny_code_in_a_wide_frame() -> None:
    payload = "https://hc.example.invalid/q?t=small"
    assert [c.text for c in decode(render_frame(payload, module_px=2, blur=0.4))] == [payload]


def test_huge_frame_is_read_and_corners_are_in_input_pixels() -> None:
    frame = render_frame("big frame", size=(2560, 1920), module_px=40)
    (code,) = decode(frame)
    assert code.text == "big frame"
    xs = [x for x, _ in code.corners]
    assert min(xs) > 1280 - 29 * 40 // 2 - 60 and max(xs) < 1280 + 29 * 40 // 2 + 60
    assert max(xs) - min(xs) > 600  # not the downscaled working copy's coordinates


def _byte_mode_frame(payload: bytes) -> np.ndarray:
    matrix = np.array(list(segno.make(payload, mode="byte", error="m").matrix_iter(scale=1, border=4)))
    image = np.where(matrix == 1, 0, 255).astype(np.uint8)
    return cv2.resize(image, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)


def test_non_utf8_payload_keeps_exact_bytes_and_names_its_encoding() -> None:
    payload = "ﾃﾞｻﾞｲﾝQR 健康".encode("shift_jis")
    (code,) = decode(_byte_mode_frame(payload))
    assert code.payload == payload
    assert code.encoding == "shift_jis" and code.text == payload.decode("shift_jis")


def test_binary_payload_survives_byte_for_byte() -> None:
    payload = bytes(range(256))[::3] + b"\x00\xff\xfe"
    (code,) = decode(_byte_mode_frame(payload))
    assert code.payload == payload


RAISES_IN_OPENCV = data_set("qr-photos/qrcode-2/31.png", "qr-photos/subset/qrcode-2-31.png")


def test_opencv_engine_survives_non_utf8() -> None:
    """OpenCV raises UnicodeDecodeError on this real photo's Shift_JIS payload; the engine
    wrapper must not, and the cascade must still read it."""
    from edge.decode import _opencv

    image = read_image(RAISES_IN_OPENCV)
    with pytest.raises(UnicodeDecodeError):
        cv2.QRCodeDetector().detectAndDecodeMulti(image)
    assert _opencv(image) == []
    expected = RAISES_IN_OPENCV.with_suffix(".txt").read_text(encoding="utf-8")
    assert [c.text.replace("\r\n", "\n") for c in decode(image)] == [expected]


def test_truncated_image_is_a_clear_error(tmp_path: Path) -> None:
    good = write_png(tmp_path / "good.png", render_frame("x"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(good.read_bytes()[:200])
    with pytest.raises(FrameError, match="not an image"):
        read_image(broken)


@pytest.mark.parametrize(
    "category", ["clean", "blur", "glare", "moire", "low_light", "inverted", "tiny", "huge"]
)
def test_degraded_phone_screens_are_read(category: str) -> None:
    rng = np.random.default_rng(11)
    payloads = [random_payload(rng) for _ in range(5)]
    read = sum(any(c.payload == p for c in decode(degraded_frame(p, category, rng))) for p in payloads)
    assert read >= 4, f"{category}: read {read} of 5"


def test_stream_mode_gives_up_early_on_empty_frames() -> None:
    rng = np.random.default_rng(5)
    assert decode(empty_frame(rng), still=False) == []


def test_the_cnn_reader_travels_with_the_project_and_reads_a_real_photo() -> None:
    """WeChat's CNN detector and super-resolution models load from inside the package and
    read a real camera photo on their own."""
    from edge.decode import CNN, MODELS

    assert {p.name for p in MODELS.iterdir()} >= {"detect.caffemodel", "sr.caffemodel", "README.md"}
    photo = sorted(p for p in PHOTOS.iterdir() if p.suffix == ".png")[0]
    grey = cv2.imread(str(photo), cv2.IMREAD_GRAYSCALE)
    expected = photo.with_suffix(".txt").read_text(encoding="utf-8")
    assert [text.replace("\r\n", "\n") for _, text, _ in CNN.engine(grey)] == [expected]


def test_the_cnn_reader_is_left_out_of_stream_frames_and_when_turned_off() -> None:
    """Too slow for the camera loop, and a slow board may turn it off for stills too."""
    from edge import decode as decoder

    calls: list[int] = []
    original = decoder._wechat
    decoder.CNN.engine = lambda image: calls.append(1) or original(image)  # type: ignore[method-assign]
    try:
        spoiled = spoil(render_frame("unreadable"))
        decode(spoiled, still=False)
        decode(spoiled, still=True, cnn=False)
        assert calls == []
        decode(spoiled, still=True)
        assert calls == [1]
    finally:
        decoder.CNN.engine = original  # type: ignore[method-assign]


def test_every_code_in_a_photo_is_read_the_small_one_too() -> None:
    """Two codes in one large still — a big one and one small enough that the scaled-down
    working copy would lose it — both come back, with corners in input pixels."""
    photo = np.full((2400, 3200), 235, np.uint8)
    big = cv2.resize(_byte_mode_frame(b"big code"), (800, 800), interpolation=cv2.INTER_NEAREST)
    small = _byte_mode_frame(b"small code")  # 8 px a module → 3 px here, 1.2 px scaled to 1,280
    side = small.shape[0] * 3 // 8
    small = cv2.resize(small, (side, side), interpolation=cv2.INTER_NEAREST)
    photo[200:1000, 200:1000] = big
    photo[1800 : 1800 + small.shape[0], 2600 : 2600 + small.shape[1]] = small
    found = {code.text: code for code in decode(photo)}
    assert set(found) == {"big code", "small code"}
    assert min(x for x, _ in found["small code"].corners) >= 2590
