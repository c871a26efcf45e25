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


DEGRADATIONS = ("clean", "perspective", "blur", "glare", "moire", "low_light", "inverted", "tiny", "huge")
"""Categories of synthetic phone-screen frames, for the decoder benchmark and tests."""


def random_payload(rng: np.random.Generator) -> bytes:
    """Payloads of the shapes gates see: signed codes (long, alphanumeric), app URLs,
    and non-UTF-8 text from older regional systems."""
    kind = rng.integers(0, 4)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    if kind == 0:
        return ("HC1:" + "".join(rng.choice(list(alphabet), size=int(rng.integers(150, 330))))).encode()
    if kind == 1:
        return ("GC1:" + "".join(rng.choice(list(alphabet), size=int(rng.integers(180, 230))))).encode()
    if kind == 2:
        token = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789"), size=24))
        return f"https://hc.example.invalid/q?t={token}&v=2".encode()
    return ("健康码 绿码 " + "".join(rng.choice(list("0123456789"), size=12))).encode("gb18030")


def _screen_code(payload: bytes, module_px: int, inverted: bool) -> np.ndarray:
    qr = segno.make(payload, error="m", micro=False, mode="byte" if not payload.isascii() else None)
    modules = np.array(list(qr.matrix_iter(scale=1, border=4)), dtype=np.uint8)
    dark, light = (235, 25) if inverted else (25, 235)
    code: np.ndarray = np.where(modules == 1, dark, light).astype(np.uint8)
    return cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)


def degraded_frame(payload: bytes, category: str, rng: np.random.Generator) -> np.ndarray:
    """A greyscale camera frame of a phone screen showing ``payload``, degraded the way
    ``category`` says. 640x480, except ``huge`` (a 1920x1080 frame filled by the code)."""
    if category not in DEGRADATIONS:
        raise ValueError(f"unknown category {category!r}; one of {', '.join(DEGRADATIONS)}")
    width, height = (1920, 1080) if category == "huge" else (640, 480)
    frame: np.ndarray = np.full((height, width), int(rng.integers(60, 120)), dtype=np.uint8)
    frame = (frame + rng.normal(0, 6, frame.shape)).clip(0, 255).astype(np.uint8)
    modules = segno.make(payload, error="m", micro=False).symbol_size(scale=1, border=4)[0]
    fit = min(width, height) * (0.95 if category == "huge" else 0.8)
    module_px = (
        2
        if category == "tiny"
        else max(2, min(int(fit // modules), int(rng.integers(4, 8)) if category != "huge" else 99))
    )
    code = _screen_code(payload, module_px, inverted=category == "inverted")
    ch, cw = code.shape
    y = int(rng.integers(0, max(1, height - ch)))
    x = int(rng.integers(0, max(1, width - cw)))
    frame[y : y + ch, x : x + cw] = code[: height - y, : width - x]
    angle = float(rng.uniform(-15, 15))
    frame = cv2.warpAffine(
        frame, cv2.getRotationMatrix2D((x + cw / 2, y + ch / 2), angle, 1.0), (width, height), borderValue=90
    )
    if category == "perspective":
        src = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
        dst = (src + rng.uniform(-0.12, 0.12, size=(4, 2)) * [width, height]).astype(np.float32)
        warp = cv2.getPerspectiveTransform(src, dst)
        frame = np.asarray(cv2.warpPerspective(frame, warp, (width, height), borderValue=90), dtype=np.uint8)
    elif category == "blur":
        frame = cv2.GaussianBlur(frame, (0, 0), float(rng.uniform(1.2, 2.2)))
    elif category == "glare":
        yy, xx = np.mgrid[0:height, 0:width]
        cy, cx = y + ch * rng.uniform(0.2, 0.8), x + cw * rng.uniform(0.2, 0.8)
        radius = cw * rng.uniform(0.15, 0.3)
        glow = 200 * np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2)))
        frame = (frame + glow).clip(0, 255).astype(np.uint8)
    elif category == "moire":
        yy, xx = np.mgrid[0:height, 0:width]
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(2.5, 4.0)
        grid = 0.75 + 0.25 * np.cos(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period)
        frame = (frame * grid).clip(0, 255).astype(np.uint8)
        frame = cv2.GaussianBlur(frame, (0, 0), 0.7)
    elif category == "low_light":
        dim = frame.astype(float) * rng.uniform(0.12, 0.22)
        frame = (dim + rng.normal(0, 3, frame.shape)).clip(0, 255).astype(np.uint8)
    return frame


def empty_frame(rng: np.random.Generator, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A gate scene with nobody showing a code: light gradient, noise, edges and text."""
    width, height = size
    frame = np.tile(np.linspace(40, 160, width), (height, 1)).astype(np.float64)
    frame += rng.normal(0, 8, frame.shape)
    image = frame.clip(0, 255).astype(np.uint8)
    for _ in range(6):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.rectangle(image, p1, p2, int(rng.integers(0, 255)), int(rng.integers(1, 6)))
    cv2.putText(image, "EXIT 出口 7:00-9:00", (30, height - 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 230, 2)
    return image


APP_COLOURS: dict[str, tuple[int, int, int]] = {
    "green": (80, 176, 0),
    "yellow": (0, 192, 255),
    "red": (18, 0, 230),
}
"""BGR of the modules as health-code apps draw them (green #00B050, yellow #FFC000,
red #E60012)."""


def recolour(image: np.ndarray, colour: str) -> np.ndarray:
    """A photo of a black code as if the app had drawn it in ``colour``, under the same
    light: the local white level (the brightest nearby paper) is the lighting, each
    pixel's share of it the ink, and the ink becomes ``colour`` instead of black — so
    shadows stay shadows, and blur and glare stay."""
    grey = (image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)).astype(np.float32)
    side = max(3, max(grey.shape) // 20) | 1
    white = cv2.GaussianBlur(cv2.dilate(grey, np.ones((side, side), np.uint8)), (0, 0), side / 2)
    white = np.maximum(white, grey)
    ink = (1.0 - grey / np.maximum(white, 1.0))[..., None]
    target = np.array(APP_COLOURS[colour], np.float32)
    paper = 255.0 - ink * (255.0 - target)
    return np.clip(paper * white[..., None] / 255.0, 0, 255).astype(np.uint8)
