"""Handwritten-looking letters from the Hershey single-stroke vector fonts, drawn the way a
person draws on the page: one pen path per stroke, a round brush, slant, wobble.

The fonts come from Debian's `hershey-fonts-data` package (`/usr/share/hershey-fonts`, or
the folder in $DIGITREC_HERSHEY). They are the non-digits of the robustness suite, and the
fonts are split in two: ``TEST_FONTS`` only ever make test sets, ``TRAIN_FONTS`` are left
for training a "not a digit" class, so a model is never measured on a font it saw.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from digitrec.idx import DatasetError
from digitrec.training import renderings

FOLDER = Path("/usr/share/hershey-fonts")
TEST_FONTS = ("futural", "scripts", "cursive", "rowmans")
TRAIN_FONTS = ("futuram", "scriptc", "rowmand", "timesr", "timesi")
# Letters that people write like digits (O/0, l/1, S/5, Z/2, B/8, b/6, g/9...) are not
# negatives: a model may rightly read them as digits.
LIKE_DIGITS = set("OoDQlIiJjSsZzBbgqGTtyU")
LETTERS = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in LIKE_DIGITS]

Stroke = np.ndarray  # (N, 2) float points, y down


def _path() -> Path:
    return Path(os.environ.get("DIGITREC_HERSHEY", FOLDER))


def folder_exists() -> bool:
    return _path().is_dir()


def folder() -> Path:
    path = _path()
    if not path.is_dir():
        raise DatasetError(
            f"The Hershey fonts are not in {path}: apt-get install hershey-fonts-data, or point "
            "DIGITREC_HERSHEY at a folder of .jhf files."
        )
    return path


@cache
def glyphs(font: str) -> dict[str, list[Stroke]]:
    """The font's printable ASCII glyphs (32-126) as strokes, by character."""
    text = (folder() / f"{font}.jhf").read_text(encoding="latin-1")
    records, buffer = [], ""
    for line in text.splitlines():
        buffer += line.rstrip("\n")
        count = int(buffer[5:8])
        if len(buffer) >= 8 + 2 * count:  # a record may be wrapped over several lines
            records.append(buffer[8 : 8 + 2 * count])
            buffer = ""
    out = {}
    for code, record in zip(range(32, 127), records):
        strokes, current = [], []
        for i in range(2, len(record) - 1, 2):  # the first pair is the glyph's left/right
            pair = record[i : i + 2]
            if pair == " R":
                strokes.append(np.array(current, np.float32))
                current = []
            else:
                current.append((ord(pair[0]) - ord("R"), ord(pair[1]) - ord("R")))
        if current:
            strokes.append(np.array(current, np.float32))
        out[chr(code)] = [s for s in strokes if len(s)]
    return out


def draw(strokes: list[Stroke], rng, size: int = 280) -> bytes:
    """Strokes drawn as a person would on the page's canvas: random height (40-80 % of the
    canvas), slant, rotation, a wobble along each stroke and a round brush of 10-24 px;
    dark strokes on a transparent canvas, as the page sends them."""
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = rng.uniform(0.4, 0.8) * size / max(high[1] - low[1], high[0] - low[0], 1)
    shear, angle = rng.uniform(-0.35, 0.25), np.radians(rng.uniform(-10, 10))
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    slant = np.array([[1, shear], [0, 1]], np.float32)
    centre = (low + high) / 2
    brush = int(rng.integers(10, 25))
    canvas = np.zeros((size * 4, size * 4), np.uint8)  # drawn at 4x, then reduced: smooth edges
    offset = rng.uniform(-0.08, 0.08, 2) * size + size / 2
    for stroke in strokes:
        dense = _resample(stroke, step=0.5)
        wobble = cv2.GaussianBlur(rng.normal(0, 2.5, (len(dense), 2)).astype(np.float32), (1, 41), 0)
        path = ((dense + wobble - centre) * scale) @ (rotate @ slant).T + offset
        cv2.polylines(canvas, [np.round(path * 4).astype(np.int32)], False, 255, brush * 4, cv2.LINE_AA)
    return renderings.canvas_png(cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA))


def _resample(stroke: Stroke, step: float) -> Stroke:
    """Points every ``step`` font units along the stroke, so the wobble is smooth."""
    if len(stroke) < 2:
        return stroke
    lengths = np.r_[0, np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))]
    at = np.linspace(0, lengths[-1], max(2, int(lengths[-1] / step)))
    return np.stack([np.interp(at, lengths, stroke[:, i]) for i in (0, 1)], axis=1).astype(np.float32)


def letters(count: int, seed: int, fonts: tuple[str, ...] = TEST_FONTS) -> list[tuple[str, bytes]]:
    """``count`` handwritten-looking letters as canvas PNGs, each named "letter X (font)"."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        font = str(rng.choice(fonts))
        char = str(rng.choice(LETTERS))
        out.append((f"letter {char} ({font})", draw(glyphs(font)[char], rng)))
    return out
