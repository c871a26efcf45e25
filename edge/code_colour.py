"""The colour a health-code app drew a QR code in, read from the code's own module pixels.

Chinese health-code apps draw the code green, yellow or red on white, and the guard reads
the colour. Decoding works on a darkness image where any saturated colour on white is as
dark as black (``darkness``), so a yellow code keeps its contrast; this module then says
which colour the dark modules are. A black code, an unclear reading or any other hue is
``None``: the colour only ever pre-fills the guard's choice, and calling a red or yellow
code green would be the one dangerous mistake, so the hue bands leave gaps between them.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from core.policy import Colour

MIN_CHROMA = 0.45
"""A module pixel is coloured when its chroma (brightest minus darkest channel) is at
least this share of how much darker than the paper it is: black ink darkens every
channel (chroma near 0), coloured ink only some (near 1). Saturation would not do: dark
pixels of a dim photo get a high one from a few levels of sensor noise."""
MIN_SHARE = 0.6
"""Share of a code's dark modules that must be coloured for the code to have a colour."""
HUE_BANDS: tuple[tuple[int, int, Colour], ...] = (
    (0, 9, "red"),
    (170, 180, "red"),
    (16, 38, "yellow"),
    (48, 95, "green"),
)
"""OpenCV hue (0–180) bands; the gaps (orange, lime, cyan…) give no colour."""
CROP_SIDE = 80
"""The code is sampled at about this many pixels a side: plenty of modules, little time."""


def darkness(image: np.ndarray) -> np.ndarray:
    """Per pixel, the smallest of the three channels: white stays white, and black, green,
    yellow and red modules all come out dark (grey keeps yellow pale)."""
    if image.ndim == 2:
        return image
    b, g, r = cv2.split(image)
    return cv2.min(cv2.min(b, g), r)


def code_colour(image: np.ndarray, corners: Sequence[tuple[int, int]]) -> Colour | None:
    """The code's colour from the pixels inside its four corners (input pixels)."""
    if image.ndim != 3:
        return None
    quad = np.asarray(corners, dtype=np.float32).reshape(4, 2)
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
    height, width = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1 + 1), min(height, y1 + 1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    step = max(1, max(x1 - x0, y1 - y0) // CROP_SIDE)  # every step-th pixel: no resampling
    crop = np.ascontiguousarray(image[y0:y1:step, x0:x1:step])
    inside = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, np.round((quad - (x0, y0)) / step).astype(np.int32), 1)
    b, g, r = cv2.split(crop)
    dark, bright = cv2.min(cv2.min(b, g), r), cv2.max(cv2.max(b, g), r)
    values = dark[inside > 0]
    if values.size < 32:
        return None
    threshold, _ = cv2.threshold(values, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    modules = cv2.bitwise_and(inside, (dark <= threshold).view(np.uint8)) > 0
    paper = cv2.bitwise_and(inside, (dark > threshold).view(np.uint8)) > 0
    module_dark = dark[modules].astype(np.float32)
    if len(module_dark) < 16 or cv2.countNonZero(paper.view(np.uint8)) < 16:
        return None
    white = float(np.median(bright[paper]))
    chroma = (bright[modules] - module_dark) / np.maximum(white - module_dark, 8.0)
    hues = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)[..., 0][modules]
    coloured = hues[chroma >= MIN_CHROMA]
    if len(coloured) < MIN_SHARE * len(hues):
        return None
    hue = float(np.median(coloured))
    # Red wraps around 0/180: take the median on the side most of its pixels are on.
    if np.mean((coloured < 15) | (coloured > 165)) > 0.5:
        hue = (float(np.median((coloured.astype(int) + 90) % 180)) - 90) % 180
    for low, high, colour in HUE_BANDS:
        if low <= hue <= high:
            return colour
    return None
