"""The camera loop's frame sources: live cameras and streams, video files, image folders.

A live source (camera index, RTSP/HTTP URL) is read on its own thread and only the newest
frame is kept: if decoding falls behind, stale frames are dropped rather than queued, so
what the gate decides about is what the camera sees now. Files are not live; they are
read frame by frame. A region of interest crops every frame before decoding.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edge.frames import VIDEO_SUFFIXES, Frame, FrameError, image_files, read_image

logger = logging.getLogger(__name__)


class Capture(Protocol):
    """What we need of ``cv2.VideoCapture`` (and of any other camera driver)."""

    def read(self) -> tuple[bool, np.ndarray]: ...
    def release(self) -> None: ...


@dataclass(frozen=True)
class Roi:
    """Region of interest in pixels: where people hold their codes."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Roi:
        try:
            x, y, w, h = (int(part) for part in text.split(","))
        except ValueError:
            raise ValueError(f"region {text!r} must be x,y,width,height in pixels") from None
        if min(x, y) < 0 or min(w, h) <= 0:
            raise ValueError(f"region {text!r} must have x, y >= 0 and a positive size")
        return cls(x, y, w, h)

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.width},{self.height}"

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y : self.y + self.height, self.x : self.x + self.width]


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


class LatestFrame:
    """Reads a live capture on a thread; iterating yields only the newest frame."""

    def __init__(self, capture: Capture, name: str) -> None:
        self._capture = capture
        self._name = name
        self._ready = threading.Condition()
        self._latest: tuple[int, np.ndarray] | None = None
        self._finished = False
        self._stop = threading.Event()
        self.grabbed = 0
        self.dropped = 0

    def _grab(self) -> None:
        while not self._stop.is_set():
            ok, image = self._capture.read()
            with self._ready:
                if not ok:
                    self._finished = True
                    self._ready.notify_all()
                    return
                if self._latest is not None:
                    self.dropped += 1
                self._latest = (self.grabbed, image)
                self.grabbed += 1
                self._ready.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        thread = threading.Thread(target=self._grab, name=f"gatecheck.camera:{self._name}", daemon=True)
        thread.start()
        try:
            while True:
                with self._ready:
                    self._ready.wait_for(lambda: self._latest is not None or self._finished)
                    if self._latest is None:
                        break
                    index, image = self._latest
                    self._latest = None
                yield Frame(f"{self._name}#{index}", _gray(image), still=False)
        finally:
            self._stop.set()
            thread.join(timeout=5)
            self._capture.release()
            logger.info(
                "camera %s: %d frames grabbed, %d stale dropped", self._name, self.grabbed, self.dropped
            )


def _sequential(capture: Capture, name: str) -> Iterator[Frame]:
    try:
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                return
            yield Frame(f"{name}#{index}", _gray(image), still=False)
            index += 1
    finally:
        capture.release()


def _folder(folder: Path) -> Iterator[Frame]:
    for path in image_files(folder):
        yield Frame(str(path), read_image(path), still=False)


def is_live(source: str) -> bool:
    return source.isdigit() or "://" in source


def open_stream(source: str, roi: Roi | None = None, live: bool | None = None) -> Iterator[Frame]:
    """Frames from a camera index, stream URL, video file or folder of images, cropped to
    ``roi``. ``live`` overrides whether stale frames are dropped (default: by source)."""
    path = Path(source)
    if path.is_dir():
        frames: Iterator[Frame] = _folder(path)
    else:
        if not is_live(source) and path.suffix.lower() not in VIDEO_SUFFIXES:
            raise FrameError(f"{source!r} is not a camera index, stream URL, video file or folder")
        capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
        if not capture.isOpened():
            raise FrameError(f"cannot open video source {source!r}: camera unplugged or URL unreachable?")
        use_latest = is_live(source) if live is None else live
        frames = iter(LatestFrame(capture, source)) if use_latest else _sequential(capture, source)
    if roi is None:
        return frames
    return (Frame(f.name, roi.crop(f.image), f.still) for f in frames)


RECONNECT_AFTER_S = (1.0, 2.0, 5.0)
"""Waits before opening a lost live source again: quickly at first, then every 5 s."""


def reconnecting(
    source: str,
    roi: Roi | None,
    lost: Callable[[str], None],
    stop: threading.Event,
    waits: tuple[float, ...] = RECONNECT_AFTER_S,
) -> Iterator[Frame]:
    """Frames from a live source that is opened again whenever it drops (a network camera
    rebooting, a USB camera pulled and plugged back): ``lost(reason)`` is told each time,
    so the screen shows the fault, and frames flow again by themselves when it returns."""
    attempt = 0
    while not stop.is_set():
        try:
            for frame in open_stream(source, roi):
                attempt = 0
                yield frame
            reason = f"the video source {source!r} stopped sending frames"
        except FrameError as exc:
            reason = str(exc)
        logger.warning("camera lost: %s", reason)
        lost(reason)
        stop.wait(waits[min(attempt, len(waits) - 1)])
        attempt += 1
