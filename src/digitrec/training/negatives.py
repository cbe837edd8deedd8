"""Training examples of the "not a digit" class: things people draw that are not digits.

Letters from the Hershey fonts kept for training (``hershey.TRAIN_FONTS``), shapes with
random geometry (polygons, stars, hearts, arrows, spirals, crosses, hash signs, zigzags,
smileys) and scribbles, all drawn as a person draws on the page (``hershey.draw``: round
brush, slant, wobble) and put through the engine exactly as a drawing sent to the server,
so the model learns them as it will see them. The test sets of non-digits (``hershey``'s
``TEST_FONTS``, ``not_digits``) are never drawn from here.

Shapes that a person would read as a digit are not negatives: no plain circles or ellipses
(0), no single straight strokes (1), no zigzags of one or two turns (Z, 2, 7).
"""

from __future__ import annotations

import numpy as np

from digitrec.engine.decode import decode
from digitrec.engine.errors import NoDigitFound
from digitrec.engine.preprocess import to_mnist_28x28, to_uint8_28x28
from digitrec.training import hershey

Strokes = list[np.ndarray]


def _ring(rng, points: int = 48, radius: float = 1.0) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, points)
    squash = rng.uniform(0.85, 1.15)
    return np.stack([np.cos(t) * radius * squash, np.sin(t) * radius / squash], 1)


def polygon(rng) -> Strokes:
    sides = int(rng.integers(3, 7))
    angles = np.sort(rng.uniform(0, 2 * np.pi / sides, sides) + np.arange(sides) * 2 * np.pi / sides)
    corners = np.stack([np.cos(angles), np.sin(angles)], 1) * rng.uniform(0.8, 1.0, (sides, 1))
    return [np.vstack([corners, corners[:1]])]


def star(rng) -> Strokes:
    tips = int(rng.choice([5, 5, 6, 7]))
    if tips == 5 and rng.random() < 0.5:  # the pentagram, drawn in one stroke
        angles = -np.pi / 2 + np.arange(6) * 4 * np.pi / 5
        return [np.stack([np.cos(angles), np.sin(angles)], 1)]
    angles = -np.pi / 2 + np.arange(2 * tips + 1) * np.pi / tips
    radius = np.where(np.arange(2 * tips + 1) % 2 == 0, 1.0, rng.uniform(0.35, 0.55))
    return [np.stack([np.cos(angles), np.sin(angles)], 1) * radius[:, None]]


def heart(rng) -> Strokes:
    t = np.linspace(0, 2 * np.pi, 60)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [np.stack([x, y * rng.uniform(0.85, 1.15)], 1)]


def arrow(rng) -> Strokes:
    head = rng.uniform(0.3, 0.5)
    shaft = np.array([[-1.0, 0.0], [1.0, 0.0]])
    barbs = np.array([[1 - head, -head], [1.0, 0.0], [1 - head, head]])
    angle = rng.uniform(0, 2 * np.pi)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return [shaft @ turn.T, barbs @ turn.T]


def spiral(rng) -> Strokes:
    turns = rng.uniform(1.75, 3.5)
    t = np.linspace(0, turns * 2 * np.pi, int(60 * turns))
    r = 0.1 + t / t[-1]
    return [np.stack([np.cos(t) * r, np.sin(t) * r * rng.choice([-1, 1])], 1)]


def cross(rng) -> Strokes:
    """A plus sign, an x, or a hash sign (#)."""
    kind = rng.integers(3)
    if kind == 0:
        return [np.array([[-1.0, 0], [1, 0]]), np.array([[0, -1.0], [0, 1]])]
    if kind == 1:
        return [np.array([[-1.0, -1], [1, 1]]), np.array([[1, -1.0], [-1, 1]])]
    gap = rng.uniform(0.25, 0.45)
    return [
        np.array([[-1.0, -gap], [1, -gap]]),
        np.array([[-1.0, gap], [1, gap]]),
        np.array([[-gap, -1.0], [-gap, 1]]),
        np.array([[gap, -1.0], [gap, 1]]),
    ]


def zigzag(rng) -> Strokes:
    """A horizontal zigzag or wave of three to six turns."""
    turns = int(rng.integers(3, 7))
    x = np.linspace(-1, 1, turns + 1)
    y = np.where(np.arange(turns + 1) % 2 == 0, -0.35, 0.35) * rng.uniform(0.6, 1.4)
    if rng.random() < 0.5:
        return [np.stack([x, y], 1)]
    t = np.linspace(0, 1, 30 * turns)
    return [np.stack([t * 2 - 1, 0.35 * np.sin(t * turns * np.pi)], 1)]


def smiley(rng) -> Strokes:
    """A face: a ring with two eyes and a mouth (smiling, sad or flat), sometimes no ring."""
    strokes = [] if rng.random() < 0.15 else [_ring(rng)]
    for x in (-0.35, 0.35):
        eye = _ring(rng, 12, rng.uniform(0.04, 0.12)) + (x, -0.3 + rng.normal(0, 0.05))
        strokes.append(eye)
    t = np.linspace(0.2, np.pi - 0.2, 20)
    bend = rng.choice([1.0, -1.0, 0.2])
    strokes.append(np.stack([np.cos(t) * 0.5, 0.25 + np.sin(t) * 0.25 * bend], 1))
    return strokes


def scribble(rng) -> Strokes:
    """A smooth random path through 7-14 points: a tangle, not a digit."""
    points = rng.uniform(-1, 1, (int(rng.integers(7, 15)), 2))
    t = np.linspace(0, len(points) - 1, 40 * len(points))
    return [np.stack([np.interp(t, np.arange(len(points)), points[:, i]) for i in (0, 1)], 1)]


def letter(rng) -> Strokes:
    font = str(rng.choice(hershey.TRAIN_FONTS))
    return hershey.glyphs(font)[str(rng.choice(hershey.LETTERS))]


# Kind -> (maker, share). Letters are what people most often try; shapes and faces next.
MAKERS = {
    "letter": (letter, 0.5),
    "polygon": (polygon, 0.06),
    "star": (star, 0.05),
    "heart": (heart, 0.05),
    "arrow": (arrow, 0.05),
    "spiral": (spiral, 0.05),
    "cross": (cross, 0.05),
    "zigzag": (zigzag, 0.04),
    "smiley": (smiley, 0.07),
    "scribble": (scribble, 0.08),
}


def drawings(count: int, seed: int) -> list[tuple[str, bytes]]:
    """``count`` non-digit canvas PNGs, each named by its kind."""
    rng = np.random.default_rng(seed)
    kinds = list(MAKERS)
    shares = np.array([MAKERS[k][1] for k in kinds])
    out = []
    for kind in rng.choice(kinds, size=count, p=shares / shares.sum()):
        strokes = [np.asarray(s, np.float32) * 50 for s in MAKERS[kind][0](rng)]
        out.append((str(kind), hershey.draw(strokes, rng)))
    return out


def images(count: int, seed: int) -> np.ndarray:
    """(n, 28, 28) uint8: the engine's 28x28 of ``count`` non-digit drawings (those the
    engine refuses before the model, e.g. too small, are left out, so n <= count). Drawn
    in chunks of 500 (each with its own seed) on every core."""
    from concurrent.futures import ProcessPoolExecutor

    chunks = [(min(500, count - start), seed * 1000 + i) for i, start in enumerate(range(0, count, 500))]
    with ProcessPoolExecutor() as pool:
        parts = list(pool.map(_chunk, *zip(*chunks))) if chunks else []
    return np.concatenate(parts) if parts else np.zeros((0, 28, 28), np.uint8)


def _chunk(count: int, seed: int) -> np.ndarray:
    out = []
    for _, png in drawings(count, seed):
        try:
            out.append(to_uint8_28x28(to_mnist_28x28(decode(png))))
        except NoDigitFound:
            continue
    return np.array(out, np.uint8).reshape(-1, 28, 28)
