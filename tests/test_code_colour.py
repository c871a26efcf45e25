"""Coloured health codes: real photos recoloured the way the apps draw them (green, yellow,
red modules on white, same light) are read nearly as well as black, each with its colour,
and a red or yellow code is never called green."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from edge.decode import decode
from edge.frames import read_image
from gatecheck.samples import recolour, render_frame, write_png
from tests.conftest import cli, data_set

PHOTOS = data_set("qr-photos/qrcode-1", "qr-photos/subset")


def black_reads() -> list[tuple[Path, str]]:
    """Photos whose black code the decoder reads right, with the expected text."""
    images = sorted(p for p in PHOTOS.iterdir() if p.suffix in {".png", ".jpg"})
    read = []
    for image in images:
        expected = image.with_suffix(".txt").read_text(encoding="utf-8")
        found = decode(read_image(image))
        if found and found[0].text.replace("\r\n", "\n") == expected:
            read.append((image, expected))
    return read


@pytest.fixture(scope="module")
def readable() -> list[tuple[Path, str]]:
    found = black_reads()
    assert len(found) >= 12
    return found


@pytest.mark.parametrize("colour", ["green", "yellow", "red"])
def test_coloured_photos_are_read_with_their_colour(readable: list[tuple[Path, str]], colour: str) -> None:
    read = right = 0
    for image, expected in readable:
        codes = decode(recolour(read_image(image), colour))
        match = [c for c in codes if c.text.replace("\r\n", "\n") == expected]
        if match:
            read += 1
            right += match[0].colour == colour
            if colour != "green":
                assert match[0].colour != "green", image.name  # the one dangerous mistake
    assert read >= 0.95 * len(readable), f"{colour}: read {read} of {len(readable)} read in black"
    assert right >= 0.95 * read, f"{colour}: colour right on {right} of {read}"


def test_black_codes_have_no_colour(readable: list[tuple[Path, str]]) -> None:
    for image, _ in readable:
        bgr = cv2.imread(str(image), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        assert [c.colour for c in decode(bgr)][:1] == [None], image.name


@pytest.mark.parametrize("colour", ["green", "yellow", "red"])
def test_a_gate_camera_frame_of_a_coloured_phone_screen_is_read_in_stream_mode(colour: str) -> None:
    frame = recolour(render_frame("https://hc.example.invalid/c?x=1", module_px=6, blur=0.6), colour)
    (code,) = decode(frame, still=False)
    assert (code.text, code.colour) == ("https://hc.example.invalid/c?x=1", colour)


def test_cli_reports_the_colour(tmp_path: Path) -> None:
    yellow = write_png(tmp_path / "yellow.png", recolour(render_frame("yellow code", module_px=6), "yellow"))
    black = write_png(tmp_path / "black.png", render_frame("black code", module_px=6))
    code, out = cli("code", "decode", "--json", str(yellow), str(black))
    assert code == 0, out
    lines = {Path(line["path"]).name: line for line in map(json.loads, out.splitlines())}
    assert [(c["text"], c["colour"]) for c in lines["yellow.png"]["codes"]] == [("yellow code", "yellow")]
    assert [(c["text"], c["colour"]) for c in lines["black.png"]["codes"]] == [("black code", None)]
