"""QR decoding: pyzbar first, OpenCV's detector when pyzbar finds nothing.

Payloads stay bytes end to end: health codes may carry binary or non-UTF-8 data, and the
pseudonym is computed over the exact bytes. ``text`` is a convenience for display.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from pyzbar import pyzbar

logger = logging.getLogger(__name__)

Corners = tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class Code:
    payload: bytes
    corners: Corners
    engine: str

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


def _corners(points: object) -> Corners:
    pts = np.asarray(points, dtype=float).reshape(-1, 2)[:4]
    return tuple((round(x), round(y)) for x, y in pts)  # type: ignore[return-value]


def _pyzbar(image: np.ndarray) -> list[Code]:
    found = pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return [Code(r.data, _corners([(p.x, p.y) for p in r.polygon]), "pyzbar") for r in found]


def _opencv(image: np.ndarray) -> list[Code]:
    detector = cv2.QRCodeDetector()
    try:
        ok, texts, points, _ = detector.detectAndDecodeMulti(image)
    except cv2.error:
        # OpenCV raises on payloads that are not valid UTF-8; pyzbar already had its turn.
        logger.debug("OpenCV QR decoder raised", exc_info=True)
        return []
    if not ok or points is None:
        return []
    return [
        Code(text.encode("utf-8"), _corners(pts), "opencv")
        for text, pts in zip(texts, points, strict=True)
        if text
    ]


def decode(image: np.ndarray) -> list[Code]:
    """Every QR code in a greyscale image, with its corners and the engine that read it."""
    return _pyzbar(image) or _opencv(image)
