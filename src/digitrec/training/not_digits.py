"""A rejection test set: things people draw or send that are not digits.

Letters rendered from the DejaVu fonts that matplotlib ships (letters that are written like
digits, such as O, l, I, S, Z, B, g, q, b, are left out), geometric shapes, and random
scribbles, each as a 280x280 canvas-like PNG, dark on white.
"""

from __future__ import annotations

import io
import string
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

LOOK_LIKE_DIGITS = set("OoDQlIiJjSsZzBbgqGTtAy")
LETTERS = [c for c in string.ascii_letters if c not in LOOK_LIKE_DIGITS]


def _fonts() -> list[Path]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    names = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf"]
    return [folder / n for n in names if (folder / n).exists()]


def _png(page: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, "PNG")
    return buffer.getvalue()


def letter(rng) -> tuple[str, bytes]:
    char = str(rng.choice(LETTERS))
    font = ImageFont.truetype(str(rng.choice(_fonts())), int(rng.integers(150, 210)))
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).text((140, 140), char, font=font, fill=0, anchor="mm")
    image = image.rotate(float(rng.uniform(-12, 12)), fillcolor=255)
    return f"letter {char}", _png(np.asarray(image))


def shape(rng) -> tuple[str, bytes]:
    page = np.full((280, 280), 255, np.uint8)
    kind = str(rng.choice(["triangle", "square", "star", "heart", "arrow", "spiral", "grid", "smiley"]))
    width = int(rng.integers(12, 24))
    c = np.array([140, 140])
    if kind == "triangle":
        points = c + np.array([[0, -90], [85, 70], [-85, 70]])
    elif kind == "square":
        points = c + np.array([[-80, -80], [80, -80], [80, 80], [-80, 80]])
    elif kind == "star":
        angles = np.linspace(-np.pi / 2, 3.5 * np.pi, 6)[:5]
        outer = np.stack([np.cos(angles), np.sin(angles)], 1) * 95
        points = c + outer  # every second vertex of a pentagon: a star
    elif kind == "heart":
        t = np.linspace(0, 2 * np.pi, 60)
        points = (
            c
            + np.stack(
                [
                    16 * np.sin(t) ** 3,
                    -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)),
                ],
                1,
            )
            * 5
        )
    elif kind == "arrow":
        points = c + np.array([[-90, 0], [90, 0], [40, -50], [90, 0], [40, 50]])
        cv2.polylines(page, [points.astype(np.int32)], False, 0, width, cv2.LINE_AA)
        return kind, _png(page)
    elif kind == "spiral":
        t = np.linspace(0, 5 * np.pi, 120)
        points = c + np.stack([np.cos(t), np.sin(t)], 1) * (t[:, None] * 6)
        cv2.polylines(page, [points.astype(np.int32)], False, 0, width // 2, cv2.LINE_AA)
        return kind, _png(page)
    elif kind == "smiley":
        cv2.circle(page, (140, 140), 95, 0, width, cv2.LINE_AA)
        for x in (105, 175):
            cv2.circle(page, (x, 110), width // 2 + 3, 0, -1, cv2.LINE_AA)
        cv2.ellipse(page, (140, 150), (50, 40), 0, 20, 160, 0, width, cv2.LINE_AA)
        return kind, _png(page)
    else:  # a grid: a hash sign drawn large
        for offset in (-40, 40):
            cv2.line(page, (40, 140 + offset), (240, 140 + offset), 0, width, cv2.LINE_AA)
            cv2.line(page, (140 + offset, 40), (140 + offset, 240), 0, width, cv2.LINE_AA)
        return kind, _png(page)
    cv2.polylines(page, [points.astype(np.int32)], True, 0, width, cv2.LINE_AA)
    return kind, _png(page)


def scribble(rng) -> tuple[str, bytes]:
    page = np.full((280, 280), 255, np.uint8)
    points = rng.uniform(40, 240, (int(rng.integers(6, 14)), 2))
    # A smooth random path through the points (Catmull-Rom-like by dense interpolation).
    t = np.linspace(0, len(points) - 1, 200)
    path = np.stack([np.interp(t, np.arange(len(points)), points[:, i]) for i in (0, 1)], 1)
    path = cv2.GaussianBlur(path.astype(np.float32)[None], (1, 31), 0)[0]
    cv2.polylines(page, [path.astype(np.int32)], False, 0, int(rng.integers(10, 22)), cv2.LINE_AA)
    return "scribble", _png(page)


def rejection_set(count: int = 300, seed: int = 0) -> list[tuple[str, bytes]]:
    """``count`` non-digits: a third letters, a third shapes, a third scribbles."""
    rng = np.random.default_rng(seed)
    makers = [letter, shape, scribble]
    return [makers[i % 3](rng) for i in range(count)]
