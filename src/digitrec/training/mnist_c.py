"""MNIST-C's 15 corruptions of MNIST digits (Mu & Gilmer 2019, "MNIST-C: A Robustness
Benchmark for Computer Vision"), written here from the paper's descriptions: no code or
data of theirs is used, so the figures are comparable with theirs in kind, not digit for
digit.

Each corruption takes a 28x28 uint8 MNIST digit (white ink on black) and a numpy Generator
and returns a 28x28 uint8 image of the same digit, corrupted. ``CORRUPTIONS`` lists them in
the paper's order; ``stripe`` (white bars beside the digit) is the artificial one, reported
apart from the mean.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from scipy import ndimage

SIZE = 28
SHOT_PHOTONS = 60  # shot noise: the mean count of a full-ink pixel (fewer: noisier)
IMPULSE_AMOUNT = 0.1  # impulse noise: share of pixels set to black or white
GLASS_SIGMA, GLASS_ITERATIONS = 0.7, 1  # glass blur: blur, swap pixels with neighbours, blur
MOTION_LENGTH = (5, 9)  # motion blur: streak length in pixels (from, to)
SHEAR = (0.2, 0.5)  # shear: |coefficient|
SCALE = ((0.5, 0.8), (1.1, 1.3))  # scale: shrink or enlarge about the centre
ROTATE_DEGREES = (15, 45)  # rotate: |angle|
BRIGHTNESS = 0.35  # brightness: added to every pixel (of 1)
TRANSLATE = (2, 5)  # translate: |shift| in pixels along each axis
FOG_STRENGTH, FOG_DECAY = 1.5, 2.0  # fog: plasma fractal's weight, and its roughness
SPATTER_SHARE = 0.06  # spatter: share of the image under drops
ZIGZAG_CORNERS = (3, 5)  # zigzag: corners of the line drawn across the digit


def _float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def _uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _signed(rng: np.random.Generator, span: tuple[float, float]) -> float:
    return float(rng.uniform(*span) * rng.choice([-1, 1]))


def _warp(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``image`` through the 2x3 affine ``matrix`` given about the centre of the image."""
    centre = (SIZE - 1) / 2
    to_centre = np.array([[1, 0, -centre], [0, 1, -centre], [0, 0, 1]], np.float64)
    back = np.array([[1, 0, centre], [0, 1, centre], [0, 0, 1]], np.float64)
    full = back @ np.vstack([matrix, [0, 0, 1]]) @ to_centre
    return cv2.warpAffine(image, full[:2], (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=0)


def shot_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Photon noise: each pixel a Poisson count around its brightness."""
    return _uint8(rng.poisson(_float(image) * SHOT_PHOTONS) / SHOT_PHOTONS)


def impulse_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Salt and pepper: a share of the pixels turned white or black."""
    out = image.copy()
    hit = rng.random(image.shape) < IMPULSE_AMOUNT
    out[hit] = np.where(rng.random(int(hit.sum())) < 0.5, 0, 255)
    return out


def glass_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """As through frosted glass: blurred, pixels swapped with a neighbour, blurred again."""
    out = ndimage.gaussian_filter(_float(image), GLASS_SIGMA)
    for _ in range(GLASS_ITERATIONS):
        for y in range(SIZE - 2, 0, -1):
            for x in range(SIZE - 2, 0, -1):
                dy, dx = rng.integers(-1, 2, size=2)
                out[y, x], out[y + dy, x + dx] = out[y + dy, x + dx], out[y, x]
    return _uint8(ndimage.gaussian_filter(out, GLASS_SIGMA))


def motion_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A camera moved while the shutter was open: the digit smeared along a random line."""
    length = int(rng.integers(MOTION_LENGTH[0], MOTION_LENGTH[1] + 1))
    angle = rng.uniform(0, np.pi)
    kernel = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = np.cos(angle) * c, np.sin(angle) * c
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    kernel /= kernel.sum()
    return _uint8(cv2.filter2D(_float(image), -1, kernel, borderType=cv2.BORDER_CONSTANT))


def shear(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Slanted along x or y."""
    s = _signed(rng, SHEAR)
    matrix = np.array([[1, s, 0], [0, 1, 0]] if rng.random() < 0.5 else [[1, 0, 0], [s, 1, 0]], np.float64)
    return _warp(image, matrix)


def scale(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shrunk or enlarged about the centre (an enlarged digit may lose its edges)."""
    factor = rng.uniform(*SCALE[int(rng.random() < 0.3)])
    return _warp(image, np.array([[factor, 0, 0], [0, factor, 0]], np.float64))


def rotate(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Turned about the centre."""
    angle = np.deg2rad(_signed(rng, ROTATE_DEGREES))
    cos, sin = np.cos(angle), np.sin(angle)
    return _warp(image, np.array([[cos, -sin, 0], [sin, cos, 0]], np.float64))


def brightness(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Everything brighter: the black background turns grey."""
    return _uint8(_float(image) + BRIGHTNESS)


def translate(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Moved off centre (possibly losing an edge past the border)."""
    dx, dy = (round(_signed(rng, TRANSLATE)) for _ in range(2))
    return cv2.warpAffine(image, np.float64([[1, 0, dx], [0, 1, dy]]), (SIZE, SIZE), borderValue=0)


def stripe(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White bars down the image beside the digit (the artificial corruption)."""
    out = image.copy()
    columns = np.flatnonzero(image.max(axis=0) > 0)
    left, right = (columns[0], columns[-1]) if len(columns) else (SIZE // 2, SIZE // 2)
    for start, stop in ((0, left - 2), (right + 2, SIZE - 2)):
        if stop > start:
            x = int(rng.integers(start, stop))
            out[:, x : x + 2] = 255
    return out


def _plasma(rng: np.random.Generator, size: int = 32, decay: float = FOG_DECAY) -> np.ndarray:
    """A diamond-square plasma fractal in [0, 1], ``size`` (a power of 2) square."""
    grid = np.zeros((size + 1, size + 1), np.float64)
    step, spread = size, 1.0
    while step > 1:
        half = step // 2
        # Diamond step: each square's centre from its corners.
        corners = grid[0:size:step, 0:size:step]
        mean = (
            corners
            + grid[step::step, 0:size:step]
            + grid[0:size:step, step::step]
            + grid[step::step, step::step]
        ) / 4
        grid[half:size:step, half:size:step] = mean + rng.uniform(-spread, spread, mean.shape)
        # Square step: each edge's midpoint from its neighbours (wrapping at the border).
        for y0, x0 in ((0, half), (half, 0)):
            ys, xs = np.meshgrid(np.arange(y0, size + 1, step), np.arange(x0, size + 1, step), indexing="ij")
            total = (
                grid[(ys - half) % size, xs] + grid[(ys + half) % size, xs] + grid[ys, (xs - half) % size]
            ) + grid[ys, (xs + half) % size]
            grid[ys, xs] = total / 4 + rng.uniform(-spread, spread, ys.shape)
        step, spread = half, spread / decay
    grid -= grid.min()
    return grid / max(grid.max(), 1e-9)


def fog(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A cloudy haze over the whole image, and the contrast it takes away."""
    x = _float(image)
    peak = x.max()
    x = x + FOG_STRENGTH * _plasma(rng)[:SIZE, :SIZE]
    return _uint8(x * peak / (peak + FOG_STRENGTH))


def spatter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drops splashed over the image: soft grey blobs of several sizes."""
    noise = ndimage.gaussian_filter(rng.normal(size=(SIZE, SIZE)), rng.uniform(0.8, 1.6))
    drops = noise > np.quantile(noise, 1 - SPATTER_SHARE)
    shade = ndimage.gaussian_filter(drops.astype(np.float32), 0.6) * rng.uniform(0.5, 0.9)
    return _uint8(np.maximum(_float(image), shade))


def _border_point(rng: np.random.Generator) -> tuple[float, float]:
    t, side = rng.uniform(0, SIZE - 1), int(rng.integers(4))
    return [(t, 0.0), (t, SIZE - 1.0), (0.0, t), (SIZE - 1.0, t)][side]


def dotted_line(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dotted line drawn from one edge of the image to another, across the digit."""
    out = image.copy()
    (x0, y0), (x1, y1) = _border_point(rng), _border_point(rng)
    steps = max(int(np.hypot(x1 - x0, y1 - y0)), 1)
    every = int(rng.integers(2, 4))
    for t in np.arange(0, steps + 1, every) / steps:
        out[round(y0 + (y1 - y0) * t), round(x0 + (x1 - x0) * t)] = 255
    return out


def zigzag(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A zigzag scribbled across the digit."""
    out = image.copy()
    corners = int(rng.integers(ZIGZAG_CORNERS[0], ZIGZAG_CORNERS[1] + 1))
    xs = np.linspace(rng.uniform(0, 6), rng.uniform(SIZE - 7, SIZE - 1), corners)
    middle, amplitude = rng.uniform(8, SIZE - 9), rng.uniform(3, 8)
    ys = middle + amplitude * np.where(np.arange(corners) % 2, 1, -1) + rng.uniform(-1.5, 1.5, corners)
    points = np.stack([xs, ys], axis=1)
    if rng.random() < 0.5:  # as often up the digit as across it
        points = points[:, ::-1]
    cv2.polylines(out, [np.round(points * 4).astype(np.int32)], False, 255, 1, cv2.LINE_AA, 2)
    return out


def canny_edges(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Only the outline of the strokes, as an edge detector finds it."""
    return cv2.Canny(image, 50, 150)


CORRUPTIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "shear": shear,
    "scale": scale,
    "rotate": rotate,
    "brightness": brightness,
    "translate": translate,
    "stripe": stripe,
    "fog": fog,
    "spatter": spatter,
    "dotted_line": dotted_line,
    "zigzag": zigzag,
    "canny_edges": canny_edges,
}
ARTIFICIAL = ("stripe",)  # reported, but left out of the mean
