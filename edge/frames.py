"""Where frames come from: image files, folders of them, or an OpenCV video source.

A still image stands for one person presenting something at the gate: if no code is found
in it, that is still a check (the guard must verify by hand). A video stream is different:
most frames show nobody, so only frames with a code become checks (see ``edge.station``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".mjpeg", ".mjpg"})


class FrameError(Exception):
    """A source could not be read as an image or a video."""


@dataclass(frozen=True)
class Frame:
    name: str
    image: np.ndarray
    still: bool
    """True for a still image (one presentation), False for a frame of a stream."""


def read_image(path: Path) -> np.ndarray:
    """Load one image — BGR when it has colour (health-code apps draw codes green, yellow
    or red), grey when it has none — or say clearly why not.

    EXIF orientation is ignored: decoding does not care, and corner coordinates then refer
    to the pixels as stored in the file."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise FrameError(f"cannot read {path}: {exc.strerror}") from exc
    image = cv2.imdecode(data, cv2.IMREAD_ANYCOLOR | cv2.IMREAD_IGNORE_ORIENTATION) if data.size else None
    if image is None:
        raise FrameError(f"{path} is not an image OpenCV can read (PNG, JPEG, BMP, WebP, TIFF)")
    return image


def image_files(directory: Path) -> list[Path]:
    """Image files under a directory, recursively, in a stable order."""
    return sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def is_stream(source: str) -> bool:
    """Camera index, URL or video file: anything read frame by frame."""
    if source.isdigit() or "://" in source:
        return True
    return Path(source).suffix.lower() in VIDEO_SUFFIXES
