"""Sample camera frames for the demo and the tests: QR codes as a phone screen or a paper
slip photographed at a gate (rotation, blur, noise, uneven light), and spoiled ones."""

from __future__ import annotations

from pathlib import Path

import cbor2
import cv2
import numpy as np
import segno

from edge.codes import b45, gc1


def qr_matrix(payload: str | bytes, error: str = "m") -> np.ndarray:
    """The code's modules as a uint8 array (1 = dark), quiet zone included."""
    qr = segno.make(payload, error=error, micro=False)
    return np.array(list(qr.matrix_iter(scale=1, border=4)), dtype=np.uint8)


def render_frame(
    payload: str | bytes,
    size: tuple[int, int] = (640, 480),
    module_px: int = 6,
    angle: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
    inverted: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """A greyscale frame of ``size`` (w, h) with the code in the middle of a darker scene."""
    rng = np.random.default_rng(seed)
    modules = qr_matrix(payload)
    dark, light = (235, 20) if inverted else (20, 235)
    code: np.ndarray = np.where(modules == 1, dark, light).astype(np.uint8)
    code = cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    width, height = size
    frame: np.ndarray = np.full((height, width), 90, dtype=np.uint8)
    # Light falling off across the scene, as under a gate's canopy.
    frame = (frame + np.linspace(-25, 25, width)[None, :]).clip(0, 255).astype(np.uint8)
    ch, cw = code.shape
    if ch > height or cw > width:
        raise ValueError(f"code of {cw}x{ch} px does not fit a {width}x{height} frame")
    y, x = (height - ch) // 2, (width - cw) // 2
    frame[y : y + ch, x : x + cw] = code
    if angle:
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        frame = cv2.warpAffine(frame, matrix, (width, height), borderValue=90)
    if blur:
        frame = cv2.GaussianBlur(frame, (0, 0), blur)
    if noise:
        frame = (frame + rng.normal(0, noise, frame.shape)).clip(0, 255).astype(np.uint8)
    return frame


def spoil(frame: np.ndarray, seed: int = 0) -> np.ndarray:
    """The same scene with the code unreadable: a hand over most of it and heavy blur."""
    spoiled = frame.copy()
    h, w = spoiled.shape
    cv2.rectangle(spoiled, (0, h // 4), (w, 3 * h // 4), 60, thickness=-1)
    return cv2.GaussianBlur(spoiled, (0, 0), 6)


def write_png(path: Path, frame: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), frame):
        raise OSError(f"cannot write {path}")
    return path


def forge_gc1(payload: str, colour: str = "green") -> str:
    """A gc1 code whose colour was edited after signing, as a forger would: the signature
    no longer matches."""
    raw = b45.decode(payload.removeprefix("GC1:"))
    body, signature = raw[: -gc1.SIGNATURE_BYTES], raw[-gc1.SIGNATURE_BYTES :]
    claims = list(cbor2.loads(body))
    claims[gc1.FIELDS.index("col")] = gc1.COLOURS.index(colour)
    return "GC1:" + b45.encode(cbor2.dumps(claims) + signature)
