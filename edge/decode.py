"""QR decoding: a cascade of engines and cheap image variants under a time budget.

Measured on real photos and phone-screen frames (bench/decode.py): zxing-cpp reads the
most and is the fastest, so it goes first on the frame as captured (resized to a working
resolution). Only when it finds nothing do we try, in order of value per millisecond:
pyzbar, zxing with a global binariser, a 2x upscale of small frames, a blur against
moire, contrast equalisation (CLAHE) and sharpening, and OpenCV's detector last. A
stream frame with no sign of a code stops after the first pass: most frames at a gate
show nobody, and they must stay cheap.

Payload bytes stay exact: zxing-cpp hands back the raw bytes of the symbol and the text
it decodes them to; ``encoding`` records how the two relate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar

logger = logging.getLogger(__name__)

Corners = tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]

WORKING_LONG_SIDE = 1280
"""Frames larger than this are scaled down first: codes stay readable, time drops."""
SMALL_LONG_SIDE = 800
"""Frames smaller than this are worth a 2x upscale when the first pass fails."""
STILL_BUDGET_MS = 150.0
STREAM_BUDGET_MS = 25.0
_ENCODINGS = ("utf-8", "shift_jis", "gb18030", "iso-8859-1")
_CLAHE = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


@dataclass(frozen=True)
class Code:
    payload: bytes
    """The symbol's bytes exactly as encoded (what verification and pseudonyms use)."""
    text: str
    """The payload decoded as text by the engine (charset/ECI aware)."""
    encoding: str
    """How ``text`` relates to ``payload``: utf-8, shift_jis, gb18030, iso-8859-1 or binary."""
    corners: Corners
    engine: str


def _encoding_of(payload: bytes, text: str) -> str:
    for name in _ENCODINGS:
        try:
            if payload.decode(name) == text:
                return name
        except UnicodeDecodeError:
            continue
    return "binary"


def _corners(points: object, scale: float) -> Corners:
    pts = np.asarray(points, dtype=float).reshape(-1, 2)[:4] / scale
    return tuple((round(x), round(y)) for x, y in pts.tolist())  # type: ignore[return-value]


@dataclass
class _Pass:
    """One engine on one variant of the frame; ``scale`` maps its pixels to the input's."""

    name: str
    prepare: Callable[[np.ndarray], np.ndarray]
    engine: Callable[[np.ndarray], list[tuple[bytes, str, object]]]
    factor: float = 1.0
    when: Callable[[np.ndarray], bool] = lambda image: True


def _zxing(binarizer: zxingcpp.Binarizer) -> Callable[[np.ndarray], list[tuple[bytes, str, object]]]:
    def run(image: np.ndarray) -> list[tuple[bytes, str, object]]:
        found = zxingcpp.read_barcodes(image, formats=QR_ONLY, binarizer=binarizer)
        return [(b.bytes, b.text, _zxing_points(b)) for b in found]

    return run


def _zxing_points(barcode: zxingcpp.Barcode) -> list[tuple[int, int]]:
    p = barcode.position
    return [(q.x, q.y) for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]


def _pyzbar(image: np.ndarray) -> list[tuple[bytes, str, object]]:
    # zbar converts the symbol's charset to UTF-8 itself: its bytes are that text.
    found = pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return [(r.data, r.data.decode("utf-8", "replace"), [(p.x, p.y) for p in r.polygon]) for r in found]


def _opencv(image: np.ndarray) -> list[tuple[bytes, str, object]]:
    try:
        ok, texts, points, _ = cv2.QRCodeDetector().detectAndDecodeMulti(image)
    except (cv2.error, UnicodeDecodeError):
        # OpenCV raises on payloads that are not UTF-8; zxing-cpp and zbar had their turn.
        return []
    if not ok or points is None:
        return []
    return [(t.encode("utf-8"), t, p) for t, p in zip(texts, points, strict=True) if t]


def _upscale(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)


def _sharpen(image: np.ndarray) -> np.ndarray:
    return cv2.addWeighted(image, 1.8, cv2.GaussianBlur(image, (0, 0), 2), -0.8, 0)


def _is_small(image: np.ndarray) -> bool:
    return bool(max(image.shape[:2]) < SMALL_LONG_SIDE)


_LOCAL = _zxing(zxingcpp.Binarizer.LocalAverage)
_GLOBAL = _zxing(zxingcpp.Binarizer.GlobalHistogram)
FALLBACKS: tuple[_Pass, ...] = (
    _Pass("pyzbar", lambda i: i, _pyzbar),
    _Pass("zxing+global", lambda i: i, _GLOBAL),
    _Pass("zxing+up2", _upscale, _GLOBAL, factor=2.0, when=_is_small),
    _Pass("pyzbar+blur", lambda i: cv2.GaussianBlur(i, (0, 0), 1.5), _pyzbar),
    _Pass("zxing+clahe", _CLAHE.apply, _LOCAL),
    _Pass("zxing+sharpen", _sharpen, _LOCAL),
    _Pass("opencv", lambda i: i, _opencv),
)


def _codes(found: list[tuple[bytes, str, object]], engine: str, scale: float) -> list[Code]:
    return [
        Code(data, text, _encoding_of(data, text), _corners(pts, scale), engine) for data, text, pts in found
    ]


def to_working(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Greyscale at the working resolution, and the scale from input pixels to it."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    long_side = max(gray.shape[:2])
    if long_side <= WORKING_LONG_SIDE:
        return gray, 1.0
    scale = WORKING_LONG_SIDE / long_side
    return cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def decode(image: np.ndarray, *, still: bool = True, budget_ms: float | None = None) -> list[Code]:
    """Every QR code in a frame, with its four corners (input pixels) and its engine.

    ``still``: a photo of one presentation, worth the whole cascade within the budget.
    A stream frame (``still=False``) goes past the first pass only when zxing-cpp saw a
    code it could not read.
    """
    start = time.perf_counter()
    budget = (STILL_BUDGET_MS if still else STREAM_BUDGET_MS) if budget_ms is None else budget_ms
    gray, scale = to_working(image)
    found = zxingcpp.read_barcodes(gray, formats=QR_ONLY, return_errors=True)
    valid = [b for b in found if b.valid]
    if valid:
        return _codes([(b.bytes, b.text, _zxing_points(b)) for b in valid], "zxing", scale)
    if not still and not found:
        return []
    for step in FALLBACKS:
        if (time.perf_counter() - start) * 1000 >= budget:
            logger.debug("decode budget of %.0f ms spent before %s", budget, step.name)
            break
        if step.when(gray):
            codes = step.engine(step.prepare(gray))
            if codes:
                return _codes(codes, step.name, scale * step.factor)
    return []
