"""QR decoding: a cascade of engines and cheap image variants under a time budget.

Measured on real photos and phone-screen frames (bench/decode.py). A still photo is first
read by zxing-cpp at full resolution in grey — exactly what zxing-cpp alone reads, every
code in it, small codes in large photos included. Only when that finds nothing do we try,
in order of value per millisecond: the colour-aware darkness image (green, yellow and red
codes on white: a yellow code has little contrast in grey), the frame scaled to a working
resolution, pyzbar, zxing with a global binariser, a 2x upscale of small frames, a blur
against moire, contrast equalisation (CLAHE) and sharpening, and OpenCV's detector last.

A stream frame from the gate camera starts with the darkness image at working resolution
and stops there when zxing-cpp saw no sign of a code: most frames at a gate show nobody,
and they must stay cheap.

Each code found reports its colour (edge/code_colour.py). Payload bytes stay exact:
zxing-cpp hands back the raw bytes of the symbol and the text it decodes them to;
``encoding`` records how the two relate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar

from core.policy import Colour
from edge.code_colour import code_colour, darkness

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
    colour: Colour | None = None
    """Green, yellow or red as drawn by a health-code app; None for black or unclear."""


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


MODELS = Path(__file__).resolve().parent / "models" / "wechat_qrcode"
"""WeChat's CNN QR detector and super-resolution nets (Caffe, ~1 MB, README beside them)."""


@cache
def _wechat_reader() -> Any:
    """OpenCV-contrib's WeChat QR reader on the bundled models, loaded once (~50 ms)."""
    names = ("detect.prototxt", "detect.caffemodel", "sr.prototxt", "sr.caffemodel")
    reader = getattr(cv2, "wechat_qrcode_WeChatQRCode")  # noqa: B009 - contrib: not in cv2's stubs
    return reader(*(str(MODELS / name) for name in names))


def _wechat(image: np.ndarray) -> list[tuple[bytes, str, object]]:
    # The reader hands back text only: its payload bytes are that text's UTF-8.
    try:
        texts, points = _wechat_reader().detectAndDecode(image)
    except (cv2.error, UnicodeDecodeError):
        return []
    return [(t.encode("utf-8"), t, p) for t, p in zip(texts, points, strict=True) if t]


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
CNN = _Pass("wechat", lambda i: i, _wechat)
"""First of the fallbacks, on stills only: it reads the most of what zxing-cpp cannot,
at ~10x its time (so never on stream frames)."""


def _codes(found: list[tuple[bytes, str, object]], engine: str, scale: float) -> list[Code]:
    return [
        Code(data, text, _encoding_of(data, text), _corners(pts, scale), engine) for data, text, pts in found
    ]


def _scaled(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The image at the working resolution, and the scale from input pixels to it."""
    long_side = max(image.shape[:2])
    if long_side <= WORKING_LONG_SIDE:
        return image, 1.0
    scale = WORKING_LONG_SIDE / long_side
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def _valid(image: np.ndarray, engine: str, scale: float) -> tuple[list[Code], bool]:
    """zxing-cpp's readable codes in ``image``, and whether it saw any code at all."""
    found = zxingcpp.read_barcodes(image, formats=QR_ONLY, return_errors=True)
    valid: list[tuple[bytes, str, object]] = [(b.bytes, b.text, _zxing_points(b)) for b in found if b.valid]
    return _codes(valid, engine, scale), bool(found)


def _coloured(image: np.ndarray, codes: list[Code]) -> list[Code]:
    if image.ndim != 3:
        return codes
    return [replace(code, colour=code_colour(image, code.corners)) for code in codes]


Variant = Callable[[], tuple[np.ndarray, float]]
"""A variant of the frame made only when needed, with its scale from input pixels."""


@dataclass(frozen=True)
class Scan:
    """What one frame held: its codes, and whether zxing-cpp saw a code it could not read
    (the gate screen then asks the person to hold the code to the camera)."""

    codes: list[Code]
    unreadable: bool = False


def decode(
    image: np.ndarray, *, still: bool = True, budget_ms: float | None = None, cnn: bool = True
) -> list[Code]:
    """Every QR code in a frame (BGR or grey), with its four corners (input pixels), its
    engine and its colour (see ``scan``)."""
    return scan(image, still=still, budget_ms=budget_ms, cnn=cnn).codes


def scan(image: np.ndarray, *, still: bool = True, budget_ms: float | None = None, cnn: bool = True) -> Scan:
    """Every QR code in a frame, and whether a code was seen but not read.

    ``still``: a photo of one presentation, worth the whole cascade within the budget,
    the CNN reader last (``cnn=False`` leaves it out, for boards too slow for it). A
    stream frame (``still=False``) goes past the first pass only when zxing-cpp saw a
    code it could not read.
    """
    start = time.perf_counter()
    budget = (STILL_BUDGET_MS if still else STREAM_BUDGET_MS) if budget_ms is None else budget_ms
    colour = image.ndim == 3
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if colour else image
    if still:
        codes, seen = _valid(grey, "zxing", 1.0)
        if codes:
            return Scan(_coloured(image, codes))
        working, scale = _scaled(grey)
        firsts: list[tuple[str, Variant]] = (
            [("zxing+colour", lambda: _scaled(darkness(image)))] if colour else []
        )
        firsts += [("zxing+scaled", lambda: (working, scale))] if scale < 1.0 else []
    else:
        working, scale = _scaled(grey)
        first, _ = _scaled(darkness(image)) if colour else (working, scale)
        codes, seen = _valid(first, "zxing", scale)
        if codes or not seen:
            return Scan(_coloured(image, codes))
        firsts = [("zxing+grey", lambda: (working, scale))] if colour else []
    for name, variant in firsts:
        frame, frame_scale = variant()
        codes, seen_here = _valid(frame, name, frame_scale)
        seen = seen or seen_here
        if codes:
            return Scan(_coloured(image, codes))
    for step in (CNN, *FALLBACKS) if still and cnn else FALLBACKS:
        if (time.perf_counter() - start) * 1000 >= budget:
            logger.debug("decode budget of %.0f ms spent before %s", budget, step.name)
            break
        if step.when(working):
            found = step.engine(step.prepare(working))
            if found:
                return Scan(_coloured(image, _codes(found, step.name, scale * step.factor)))
    return Scan([], unreadable=seen)
