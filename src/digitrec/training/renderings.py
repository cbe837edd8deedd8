"""MNIST test digits re-rendered the way users send them: the fixtures of the robustness suite.

Each function takes one 28x28 MNIST digit (uint8, ink bright) and a random generator and
returns real image file bytes (PNG or JPEG), as a browser, scanner or phone would send them.
"""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
from PIL import Image


def _encode(pixels: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **options)
    return buffer.getvalue()


def _upscale(digit: np.ndarray, size: int = 280) -> np.ndarray:
    """The 28x28 digit enlarged smoothly, as if it had been drawn at ``size`` px."""
    return np.clip(cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC), 0, 255)


def mnist_png(digit: np.ndarray) -> bytes:
    """The MNIST digit itself as a 28x28 PNG file, white on black."""
    return _encode(digit)


def canvas_png(alpha: np.ndarray) -> bytes:
    """Black strokes whose opacity is ``alpha`` on a transparent canvas: a PNG as the page
    sends a drawing."""
    rgba = np.zeros((*alpha.shape, 4), np.uint8)
    rgba[..., 3] = alpha
    return _encode(rgba)


def dark_on_white(digit, rng) -> bytes:
    return _encode(255 - _upscale(digit))


def white_on_black(digit, rng) -> bytes:
    return _encode(_upscale(digit))


def transparent_canvas(digit, rng) -> bytes:
    """Black strokes whose alpha carries the drawing, on a fully transparent canvas."""
    alpha = _upscale(digit)
    return canvas_png(alpha)


def coloured_ink(digit, rng) -> bytes:
    inks = [(200, 20, 20), (20, 40, 190), (20, 130, 40), (120, 20, 150)]
    papers = [(255, 255, 255), (250, 245, 225), (255, 250, 180), (235, 240, 250)]
    ink = np.float32(inks[rng.integers(len(inks))])
    paper = np.float32(papers[rng.integers(len(papers))])
    a = (_upscale(digit).astype(np.float32) / 255.0)[..., None]
    return _encode((paper * (1 - a) + ink * a).astype(np.uint8))


def _morph(digit, radius: int, grow: bool) -> np.ndarray:
    big = _upscale(digit)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(big, kernel) if grow else cv2.erode(big, kernel)


def thick_strokes(digit, rng) -> bytes:
    """Strokes about twice MNIST's width, like a fat canvas brush."""
    return _encode(255 - _morph(digit, 9, grow=True))


def thin_strokes(digit, rng) -> bytes:
    """Strokes about half MNIST's width, like a fine pen."""
    return _encode(255 - _morph(digit, 5, grow=False))


def small_off_centre(digit, rng) -> bytes:
    """A ~60 px digit somewhere near a corner of an 800x600 white page."""
    size = int(rng.integers(50, 80))
    small = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC)
    page = np.zeros((600, 800), np.uint8)
    y = int(rng.choice([rng.integers(20, 150), rng.integers(400, 600 - size - 20)]))
    x = int(rng.choice([rng.integers(20, 200), rng.integers(550, 800 - size - 20)]))
    page[y : y + size, x : x + size] = small
    return _encode(255 - page)


def photo_jpeg(digit, rng) -> bytes:
    """A phone photo of ink on paper: 640x480 JPEG, uneven light, slight rotation, noise."""
    size = int(rng.integers(150, 260))
    angle = float(rng.uniform(-8, 8))
    big = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    centre = (size / 2, size / 2)
    big = cv2.warpAffine(big, cv2.getRotationMatrix2D(centre, angle, 1.0), (size, size))
    return _phone_photo(big / 255.0, rng)


def _phone_photo(big: np.ndarray, rng) -> bytes:
    """``big`` (a square of ink, 0-1, at most 260 px) photographed on paper: placed on a
    640x480 page, uneven light, pen colour, blur, noise, JPEG."""
    return _encode(_photo_pixels(big, rng)[0], "JPEG", quality=75)


def _photo_pixels(big: np.ndarray, rng) -> tuple[np.ndarray, tuple[int, int, int, int], np.ndarray]:
    """``_phone_photo``'s 640x480 RGB pixels, where the ink square is (x, y, w, h), and
    how lit each pixel is (0-1)."""
    size = big.shape[0]
    ink = np.zeros((480, 640), np.float32)
    y, x = int(rng.integers(20, 480 - size - 20)), int(rng.integers(40, 640 - size - 40))
    ink[y : y + size, x : x + size] = big

    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    gradient = (np.cos(direction) * (xx - 320) + np.sin(direction) * (yy - 240)) / 400
    vignette = ((xx - 320) ** 2 + (yy - 240) ** 2) / (400**2)
    light = np.clip(0.8 + 0.25 * gradient - 0.25 * vignette, 0.35, 1.0)
    paper = np.float32([235, 228, 215]) * light[..., None]
    pen = np.float32([40, 40, 60]) * light[..., None]
    a = cv2.GaussianBlur(ink, (0, 0), 1.2)[..., None] * 0.95
    photo = paper * (1 - a) + pen * a + rng.normal(0, 4, (480, 640, 1))
    return np.clip(photo, 0, 255).astype(np.uint8), (x, y, size, size), light


def _digit_photo(digit, rng) -> tuple[np.ndarray, tuple[int, int, int, int], np.ndarray]:
    """A digit 120-220 px tall, slightly turned, photographed: the pixels, its ink box and
    the light."""
    size = int(rng.integers(120, 220))
    big = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC)
    big = cv2.warpAffine(
        big, cv2.getRotationMatrix2D((size / 2, size / 2), float(rng.uniform(-6, 6)), 1.0), (size, size)
    )
    pixels, (x, y, _, _), light = _photo_pixels(big.astype(np.float32) / 255.0, rng)
    ys, xs = np.nonzero(big > 60)
    return pixels, (x + xs.min(), y + ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1), light


DESKS = ([92, 62, 38], [60, 45, 35], [40, 40, 42], [120, 120, 125], [150, 110, 70], [25, 25, 30])


def paper_on_desk(digit, rng) -> bytes:
    """A phone photo that shows the desk beyond the paper: along one to four sides, 4-25 %
    of the picture deep, the paper's edge slightly askew, a wooden, dark or grey desk."""
    photo, (x, y, w, h), light = _digit_photo(digit, rng)
    # How far the paper's edge is from each side of the picture (left, top, right, bottom):
    # at least one side shows the desk, and the edge, askew, passes 24 px or more from the
    # digit (a digit written across the paper's edge is cut, not read).
    skew = [int(rng.uniform(-0.04, 0.04) * 480) for _ in range(4)]
    room = np.array((x, y, 640 - x - w, 480 - y - h)) - 24 - max(abs(k) for k in skew)
    sides = rng.random(4) < 0.5
    sides[int(np.argmax(room))] = True
    depth = [
        min(int(rng.uniform(0.04, 0.25) * (640 if k % 2 == 0 else 480)), room[k]) if sides[k] else -20
        for k in range(4)
    ]
    corners = np.float32(
        [
            [depth[0] - skew[0], depth[1] + skew[1]],
            [640 - depth[2] + skew[2], depth[1] - skew[1]],
            [640 - depth[2] - skew[2], 480 - depth[3] + skew[3]],
            [depth[0] + skew[0], 480 - depth[3] - skew[3]],
        ]
    )
    paper = np.zeros((480, 640), np.uint8)
    cv2.fillPoly(paper, [np.round(corners).astype(np.int32)], 255)
    paper = cv2.GaussianBlur(paper, (0, 0), 1.0)[..., None] / 255.0
    # The desk is under the same light as the paper.
    desk = np.float32(DESKS[int(rng.integers(len(DESKS)))]) * rng.uniform(0.8, 1.15) * light[..., None]
    desk = desk + rng.normal(0, 6, (480, 640, 1))  # grain
    out = photo * paper + desk * (1 - paper)
    return _encode(np.clip(out, 0, 255).astype(np.uint8), "JPEG", quality=80)


NOTES = ([250, 235, 120], [250, 190, 205], [240, 238, 232], [175, 225, 245])  # yellow, pink, white, blue


def note_on_desk(digit, rng) -> bytes:
    """A phone photo of a sticky note on a desk with the digit written to fill 60-85 % of
    it (its strokes 10-40 px from the note's edges), the note turned a little and seen
    slightly askew, a fifth to half of the picture's height."""
    photo, (x, y, w, h), light = _digit_photo(digit, rng)
    side = max(w, h) / rng.uniform(0.6, 0.85)
    centre = np.float32([x + w / 2, y + h / 2]) + rng.uniform(-0.06, 0.06, 2) * side
    turn = np.deg2rad(rng.uniform(-8, 8))
    square = np.float32([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * side / 2
    square = square @ np.float32([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
    corners = centre + square + rng.uniform(-0.04, 0.04, (4, 2)) * side  # perspective
    note = np.zeros((480, 640), np.uint8)
    cv2.fillPoly(note, [np.round(corners).astype(np.int32)], 255)
    note = cv2.GaussianBlur(note, (0, 0), 1.0)[..., None] / 255.0
    tint = np.float32(NOTES[int(rng.integers(len(NOTES)))]) / np.float32([235, 228, 215])
    desk = np.float32(DESKS[int(rng.integers(len(DESKS)))]) * rng.uniform(0.8, 1.15) * light[..., None]
    desk = desk + rng.normal(0, 6, (480, 640, 1))
    out = photo * tint * note + desk * (1 - note)
    return _encode(np.clip(out, 0, 255).astype(np.uint8), "JPEG", quality=80)


def shadow_across(digit, rng) -> bytes:
    """A phone photo with the shadow of the phone or a hand across part of the page: a
    straight, soft edge through the picture that misses the digit, 15-40 % darker."""
    photo, (x, y, w, h), _ = _digit_photo(digit, rng)
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    box = np.float32([[x - 10, y - 10], [x + w + 10, y - 10], [x - 10, y + h + 10], [x + w + 10, y + h + 10]])
    picture = np.float32([[0, 0], [640, 0], [0, 480], [640, 480]])
    while True:  # a line with the digit's box (and 10 px round it) on its lit side
        angle = rng.uniform(0, 2 * np.pi)
        normal = np.float32([np.cos(angle), np.sin(angle)])
        near, far = float((box @ normal).max()), float((picture @ normal).max())
        if far - near > 80:  # the shadow covers a fair part of the picture
            offset = rng.uniform(near, far - 60)
            break
    side = xx * normal[0] + yy * normal[1] - offset  # > 0: in the shadow
    softness = rng.uniform(3, 30)
    shade = 1 - rng.uniform(0.15, 0.4) * 0.5 * (1 + np.tanh(side / (2 * softness)))
    return _encode(np.clip(photo * shade[..., None], 0, 255).astype(np.uint8), "JPEG", quality=80)


def _uneven_light(rng, floor: float) -> np.ndarray:
    """How lit each pixel of a 640x480 phone photo of a page is: brighter towards a random
    side, darker towards the corners, never under ``floor``."""
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    gradient = (np.cos(direction) * (xx - 320) + np.sin(direction) * (yy - 240)) / 400
    return np.clip(0.85 + 0.2 * gradient - 0.2 * ((xx - 320) ** 2 + (yy - 240) ** 2) / 400**2, floor, 1.0)


def faint_pencil(digit, rng) -> bytes:
    """A phone photo of a digit in pencil or a faint ballpoint: grey, grainy strokes only
    12-35 % darker than the paper, on an unevenly lit page, JPEG; sometimes hazy (a photo
    through a dirty lens: the whole picture washed towards grey)."""
    size = int(rng.integers(150, 260))
    big = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    ink = np.zeros((480, 640), np.float32)
    y, x = int(rng.integers(20, 480 - size - 20)), int(rng.integers(40, 640 - size - 40))
    ink[y : y + size, x : x + size] = np.clip(big, 0, 1)
    grain = cv2.GaussianBlur(rng.random((480, 640)).astype(np.float32), (0, 0), 0.8)
    strength = rng.uniform(0.12, 0.35)  # how much darker than the paper the strokes are
    a = cv2.GaussianBlur(ink, (0, 0), 1.0) * (0.55 + 0.9 * (grain - grain.mean())).clip(0, 1) * strength

    light = _uneven_light(rng, floor=0.45)
    paper = np.float32([238, 234, 225])
    graphite = np.float32([[90, 90, 95], [70, 75, 110]][rng.integers(2)])
    photo = (paper * (1 - a[..., None]) + graphite * a[..., None]) * light[..., None]
    if rng.random() < 0.3:  # haze
        photo = photo * 0.7 + 60
    photo += rng.normal(0, 3, (480, 640, 1))
    return _encode(np.clip(photo, 0, 255).astype(np.uint8), "JPEG", quality=80)


def outlined_digit(digit, rng) -> bytes:
    """A hollow digit, as people draw bubble or outline numbers: the strokes widened and
    only their contour drawn with a pen (traced with OpenCV's contours, not how training
    spoils digits), photographed."""
    size = int(rng.integers(150, 260))
    big = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC)
    grow = int(size * rng.uniform(0.03, 0.07)) * 2 + 1
    solid = cv2.dilate(
        (big > 100).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow))
    )
    contours, _ = cv2.findContours(solid, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    pen = np.zeros((size, size), np.uint8)
    cv2.drawContours(pen, contours, -1, 255, int(rng.integers(2, 5)), cv2.LINE_AA)
    return _phone_photo(pen.astype(np.float32) / 255.0, rng)


def scribbled_over(digit, rng) -> bytes:
    """A digit with a stray mark over it, photographed: a straight stroke struck through
    part of it, or a short back-and-forth scribble on one side of it, with the same pen."""
    size = int(rng.integers(150, 260))
    big = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC)
    pen = max(2, int(size * rng.uniform(0.03, 0.05)))
    mark = np.zeros((size, size), np.uint8)
    if rng.random() < 0.5:  # a strike
        angle = rng.uniform(0, np.pi)
        half = size * rng.uniform(0.2, 0.35)
        centre = np.float64([size / 2, size / 2]) + rng.uniform(-0.15, 0.15, 2) * size
        step = half * np.float64([np.cos(angle), np.sin(angle)])
        cv2.line(mark, tuple(np.int32(centre - step)), tuple(np.int32(centre + step)), 255, pen, cv2.LINE_AA)
    else:  # a scribble, in one corner of the digit's square
        corner = np.float64([rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)]) * size
        points = corner + np.cumsum(rng.normal(0, size * 0.08, (int(rng.integers(4, 8)), 2)), 0)
        cv2.polylines(mark, [np.int32(np.clip(points, 0, size - 1))], False, 255, pen, cv2.LINE_AA)
    return _phone_photo(np.maximum(big, mark).astype(np.float32) / 255.0, rng)


FORM_COLOURS = [(40, 40, 45), (60, 90, 170), (120, 120, 125), (200, 80, 70)]


def _form_scan(digits: list[np.ndarray], rng, comb: bool) -> bytes:
    """A scan of a form: ``digits`` written one to a printed cell, a box for one digit or a
    comb field (a base line with ticks between the cells, open at the top) for several; the
    cells a little larger than the writing, which may touch or cross their lines; other
    printed lines of the form around; a few degrees of skew; JPEG."""
    cell = int(rng.integers(70, 110))
    count = len(digits)
    height, width = 360, max(480, cell * count + 100)
    thickness = int(rng.integers(2, 5))  # drawn at 2x
    colour = FORM_COLOURS[rng.integers(len(FORM_COLOURS))]
    page = np.full((height * 2, width * 2, 3), 250, np.uint8)
    left = int(rng.integers(30, width - cell * count - 30)) * 2
    top = int(rng.integers(40, height - cell - 40)) * 2
    c2 = cell * 2
    box = lambda a, b: cv2.rectangle(page, a, b, colour, thickness)  # noqa: E731
    if comb:
        cv2.line(page, (left, top + c2), (left + c2 * count, top + c2), colour, thickness)
        for k in range(count + 1):
            tick = c2 if k in (0, count) else c2 // 3
            cv2.line(page, (left + c2 * k, top + c2 - tick), (left + c2 * k, top + c2), colour, thickness)
    else:
        for k in range(count):
            box((left + c2 * k, top), (left + c2 * (k + 1), top + c2))
    # Other lines of the form: a field above or below, a rule across the page.
    other = top - c2 // 2 if rng.random() < 0.5 else top + c2 + c2 // 3
    cv2.line(page, (40, other), (width * 2 - 40, other), colour, thickness)
    page = cv2.resize(page, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)

    ink = np.zeros((height, width), np.float32)
    for k, digit in enumerate(digits):
        size = int(cell * rng.uniform(0.8, 1.05))
        big = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
        x = left // 2 + cell * k + (cell - size) // 2 + int(rng.integers(-6, 7))
        y = top // 2 + (cell - size) // 2 + int(rng.integers(-6, 7))
        region = ink[max(y, 0) : y + size, max(x, 0) : x + size]
        ink[max(y, 0) : y + size, max(x, 0) : x + size] = np.maximum(
            region, big[: region.shape[0], : region.shape[1]]
        )
    pen = np.float32([[25, 30, 60], [20, 20, 25], [30, 45, 130]][rng.integers(3)])
    a = np.clip(cv2.GaussianBlur(ink, (0, 0), 0.8), 0, 1)[..., None] * 0.95
    scan = page * (1 - a) + pen * a
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), float(rng.uniform(-3, 3)), 1.0)
    scan = cv2.warpAffine(scan, turn, (width, height), borderValue=(250, 250, 250))
    scan += rng.normal(0, 2.5, scan.shape)
    return _encode(np.clip(scan, 0, 255).astype(np.uint8), "JPEG", quality=85)


def form_box(digit, rng) -> bytes:
    """A scanned form: one digit written in a printed box."""
    return _form_scan([digit], rng, comb=False)


def form_boxes_number(digits: list[np.ndarray], rng) -> bytes:
    """A scanned form: a number, a digit in each of a row of printed boxes."""
    return _form_scan(digits, rng, comb=False)


def comb_field(digits: list[np.ndarray], rng) -> bytes:
    """A scanned form: a number written in a comb field (one digit between each pair of ticks)."""
    return _form_scan(digits, rng, comb=True)


# Printed rulings as phones see them: light blue, grey, faint black; a red margin line.
RULING_COLOURS = [(150, 185, 230), (165, 170, 180), (120, 120, 125), (170, 200, 235)]


def _paper_photo(digit, rng, pitch_share: tuple[float, float], grid: bool, curl: bool = False) -> bytes:
    """A phone photo of a digit written on ruled paper: lines (and columns, for squared
    paper) across the whole page at ``pitch_share`` x the digit's height apart, bent a
    little as a page is, under the digit's strokes; the page turned a few degrees, lit
    unevenly, JPEG. The digit sits on a line, as people write in a notebook. ``curl``:
    the page also lifts towards the spine of the book, along one side."""
    height, width = 480, 640
    size = int(rng.integers(140, 240))
    pitch = size * rng.uniform(*pitch_share)
    thickness = float(rng.uniform(1.2, 2.6))
    colour = np.float32(RULING_COLOURS[rng.integers(len(RULING_COLOURS))])
    bend, phase = rng.uniform(0, 5), rng.uniform(0, 2 * np.pi)
    pad = 80  # the page is drawn larger and cut after turning: no corner left blank
    rules = np.zeros((height + 2 * pad, width + 2 * pad), np.uint8)
    xs = np.arange(0, rules.shape[1], 8, dtype=np.float32)
    offset = rng.uniform(0, pitch)

    def rule(along: np.ndarray, across: float, length: int, level: bool) -> None:
        """One printed line, ``across`` px from the edge, bent along its ``length``."""
        bent = across + bend * np.sin(along / length * np.pi * 2 + phase)
        line = np.stack([along, bent] if level else [bent, along], 1)
        cv2.polylines(
            rules, [np.round(line * 4).astype(np.int32)], False, 255, round(thickness * 4), cv2.LINE_AA, 2
        )

    for y in np.arange(offset, rules.shape[0], pitch):
        rule(xs, y, rules.shape[1], level=True)
    if grid:
        ys = np.arange(0, rules.shape[0], 8, dtype=np.float32)
        for x in np.arange(rng.uniform(0, pitch), rules.shape[1], pitch):
            rule(ys, x, rules.shape[0], level=False)
    rule = rules.astype(np.float32) / 255 * rng.uniform(0.55, 0.9)

    # The digit stands on a ruled line (its foot a little below or above it).
    big = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    ys = np.flatnonzero(big.max(1) > 0.2)
    target = pad + height / 2 + (ys.max() - size / 2) + rng.uniform(-60, 60)
    baseline = offset + pitch * round((target - offset) / pitch)
    top = int(
        np.clip(baseline - ys.max() + rng.uniform(-0.1, 0.1) * pitch, pad + 10, pad + height - size - 10)
    )
    left = int(rng.integers(pad + 60, pad + width - size - 60))
    ink = np.zeros_like(rule)
    ink[top : top + size, left : left + size] = np.clip(big, 0, 1)
    centre = (rules.shape[1] / 2, rules.shape[0] / 2)
    turn = cv2.getRotationMatrix2D(centre, float(rng.uniform(-6, 6)), 1.0)
    rule, ink = (cv2.warpAffine(a, turn, rules.shape[::-1]) for a in (rule, ink))
    if curl:
        rule, ink = _curled([rule, ink], rng)
    rule, ink = (a[pad:-pad, pad:-pad] for a in (rule, ink))

    light = _uneven_light(rng, floor=0.4)
    paper = np.float32([240, 236, 228])
    paper = paper * (1 - rule[..., None]) + colour * rule[..., None]
    pen = np.float32([[35, 40, 70], [30, 30, 35], [30, 50, 140]][rng.integers(3)])
    a = cv2.GaussianBlur(ink, (0, 0), 1.0)[..., None] * 0.95
    photo = (paper * (1 - a) + pen * a) * light[..., None] + rng.normal(0, 3, (height, width, 1))
    return _encode(np.clip(photo, 0, 255).astype(np.uint8), "JPEG", quality=80)


def _curled(layers: list[np.ndarray], rng) -> list[np.ndarray]:
    """``layers`` (the same page, before it is cut to the picture) as a page that lifts
    towards the spine of its book: within a third to three fifths of the width from one
    side, it rises (or falls) by up to 45-90 px at the edge, quadratically, more towards
    the bottom."""
    height, width = layers[0].shape[:2]
    reach = width * rng.uniform(0.3, 0.6)
    lift = 90 * rng.uniform(0.5, 1.0) * rng.choice([-1, 1])
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    from_spine = xs if rng.random() < 0.5 else width - 1 - xs
    near = np.clip(1 - from_spine / reach, 0, 1)
    rise = (lift * near**2 * (0.6 + 0.4 * ys / height)).astype(np.float32)
    return [
        cv2.remap(layer, xs, ys + rise, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for layer in layers
    ]


def lined_paper(digit, rng) -> bytes:
    """A phone photo of a digit in a lined exercise book: a line every 0.9-1.5 times the
    digit's height (the digit between two lines, or across one)."""
    return _paper_photo(digit, rng, (0.65, 1.05), grid=False)


def squared_paper(digit, rng) -> bytes:
    """A phone photo of a digit on squared paper: squares 0.5-1.25 times the digit's height
    (the digit in one square, or across two or three)."""
    return _paper_photo(digit, rng, (0.35, 0.9), grid=True)


def curled_notebook(digit, rng) -> bytes:
    """A phone photo of a digit in an open exercise book, lined or squared, whose page
    curls towards the spine: its lines bend far more than a flat page's."""
    grid = bool(rng.random() < 0.5)
    return _paper_photo(digit, rng, (0.35, 0.9) if grid else (0.65, 1.05), grid=grid, curl=True)


PAPER_VARIANTS = {
    "paper_on_desk": paper_on_desk,
    "note_on_desk": note_on_desk,
    "shadow_across": shadow_across,
    "lined_paper": lined_paper,
    "squared_paper": squared_paper,
    "curled_notebook": curled_notebook,
}
WEAK_INK_VARIANTS = {"faint_pencil": faint_pencil}
# Reported by quality.py (a digit that touches its box is not handled yet).
FORM_VARIANTS = {"form_box": form_box}
# Spoilt digits: read where a person would read them, otherwise flagged, never confidently wrong.
SPOILT_VARIANTS = {"outlined_digit": outlined_digit, "scribbled_over": scribbled_over}


def _ink_box(digit: np.ndarray, margin: int) -> np.ndarray:
    """The digit cropped to its ink, with ``margin`` px of paper kept round it."""
    ys, xs = np.nonzero(digit > 40)
    top, left = max(ys.min() - margin, 0), max(xs.min() - margin, 0)
    return digit[top : ys.max() + margin + 1, left : xs.max() + margin + 1]


def _fit(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` scaled so its longest side is ``size`` px, centred on a size x size field."""
    h, w = image.shape
    scale = size / max(h, w)
    small = cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    field = np.zeros((size, size), np.uint8)
    y, x = (size - small.shape[0]) // 2, (size - small.shape[1]) // 2
    field[y : y + small.shape[0], x : x + small.shape[1]] = small
    return field


def tight_crop_16(digit, rng) -> bytes:
    """A form scanner's crop: the digit cut to its ink box (0-1 px margin), 16 px on its
    longest side, grey, then upscaled 4-10x as a viewer or a phone would enlarge it."""
    crop = _ink_box(_fit(_ink_box(digit, 0), 16), int(rng.integers(0, 2)))
    factor = int(rng.integers(4, 11))
    big = cv2.resize(crop, (crop.shape[1] * factor, crop.shape[0] * factor), interpolation=cv2.INTER_LINEAR)
    return _encode(255 - big)


def tight_crop_32_binary(digit, rng) -> bytes:
    """A bilevel scan: the digit cut to its ink box (0-1 px margin), 32 px on its longest
    side, black or white only, upscaled 3-6x with hard pixel edges."""
    crop = _ink_box(_fit(_ink_box(digit, 0), 32), int(rng.integers(0, 2)))
    binary = np.where(crop > 110, 255, 0).astype(np.uint8)
    factor = int(rng.integers(3, 7))
    big = cv2.resize(
        binary, (crop.shape[1] * factor, crop.shape[0] * factor), interpolation=cv2.INTER_NEAREST
    )
    return _encode(255 - big)


def bold_marker(digit, rng) -> bytes:
    """A bold marker (strokes ~3x MNIST's width) in a photo cropped close: the digit fills
    the frame, a few px of paper round it."""
    big = _upscale(digit)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (23, 23))
    bold = cv2.dilate(big, kernel)
    return _encode(255 - _ink_box(bold, int(rng.integers(2, 12))))


def skeleton(digit: np.ndarray) -> np.ndarray:
    """The centre lines of the strokes (morphological skeleton, Lantuejoul), 0/255 uint8."""
    image = (digit > 100).astype(np.uint8)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    bones = np.zeros_like(image)
    while image.any():
        eroded = cv2.erode(image, cross)
        bones |= image & ~cv2.dilate(eroded, cross) & 1
        image = eroded
    return bones * 255


def small_drawing(digit, rng) -> bytes:
    """A digit drawn small on the page's 280 px canvas (12-20 % of its height) with the
    page's brush (7.5 % of the canvas, 21 px): the centre lines of the MNIST digit redrawn
    with that round brush, dark strokes on a transparent canvas as the page sends them."""
    height = int(rng.uniform(0.12, 0.20) * 280)
    big = cv2.resize(digit, (height * 4, height * 4), interpolation=cv2.INTER_CUBIC)
    bones = skeleton(big)
    lines = cv2.resize(bones, (height, height), interpolation=cv2.INTER_AREA) > 0
    canvas = np.zeros((280, 280), bool)
    y, x = (int(v) for v in rng.integers(25, 280 - height - 25, size=2))
    canvas[y : y + height, x : x + height] = lines
    return canvas_png(_brushed(canvas, 21))


def _squeezed_strokes(digit: np.ndarray, width_share: float, height: int) -> np.ndarray:
    """The centre lines of the digit, ``height`` px tall and at most ``width_share`` of
    that wide (digits already narrower keep their width), as a bool image."""
    ys, xs = np.nonzero(digit > 40)
    crop = np.pad(digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], 1)
    width = max(2, int(height * min(crop.shape[1] / crop.shape[0], width_share)))
    big = cv2.resize(crop, (crop.shape[1] * 8, crop.shape[0] * 8), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), 6)  # smooth outlines: fewer spurs on the centre lines
    # (the empty margin also lets the skeleton's erosion, which treats the outside as ink,
    # wear strokes down that would otherwise touch the edge: it would never end)
    return cv2.resize(skeleton(big), (width, height), interpolation=cv2.INTER_AREA) > 0


def _brushed(lines: np.ndarray, brush: int) -> np.ndarray:
    """Centre lines drawn with a round brush of ``brush`` px, anti-aliased: the canvas alpha."""
    pen = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (brush, brush))
    return cv2.GaussianBlur(cv2.dilate(lines.astype(np.uint8) * 255, pen), (0, 0), 0.7)


def narrow_drawing(digit, rng) -> bytes:
    """A digit drawn tall and narrow on the 280 px canvas, as people squeeze the digits of
    a number onto a phone: 50-70 % of the canvas tall, its ink a quarter to two fifths as
    wide as it is tall, a brush of 9-21 px."""
    height = int(rng.uniform(0.5, 0.7) * 280)
    lines = _squeezed_strokes(digit, rng.uniform(0.25, 0.4), height)
    canvas = np.zeros((280, 280), bool)
    y = int(rng.integers(25, 280 - height - 10))
    x = int(rng.integers(25, 280 - lines.shape[1] - 25))
    canvas[y : y + height, x : x + lines.shape[1]] = lines
    return canvas_png(_brushed(canvas, int(rng.integers(9, 22))))


def narrow_number(digits: list[np.ndarray], rng) -> bytes:
    """A number written across a phone's canvas (340 x 280 px): each digit as tall as a
    narrow_drawing and squeezed into its share of the width, with small gaps."""
    canvas = np.zeros((280, 340), bool)
    slot = (340 - 30) // len(digits)
    height = int(rng.uniform(0.45, 0.65) * 280)
    x = 15
    for digit in digits:
        lines = _squeezed_strokes(digit, min(0.45, 0.7 * slot / height), height)
        y = int(rng.integers(20, 280 - height - 20))
        left = x + int(rng.integers(0, max(1, slot - lines.shape[1] - 12)))
        canvas[y : y + height, left : left + lines.shape[1]] |= lines
        x += slot
    return canvas_png(_brushed(canvas, int(rng.integers(9, 16))))


def straight_one(rng, brush: int | None = None) -> bytes:
    """A straight "1" as people draw it on the page: one stroke, -20..+20 degrees from
    upright, a round brush of 8-30 px, 35-80 % of the 280 px canvas tall, anywhere on it."""
    brush = brush or int(rng.integers(8, 31))
    length = rng.uniform(0.35, 0.80) * 280
    angle = np.radians(rng.uniform(-20, 20))
    dx, dy = length * np.sin(angle) / 2, length * np.cos(angle) / 2
    margin = brush / 2 + 2
    cx = rng.uniform(margin + abs(dx), 280 - margin - abs(dx))
    cy = rng.uniform(margin + dy, 280 - margin - dy)
    canvas = np.zeros((280 * 4, 280 * 4), np.uint8)  # drawn at 4x, then reduced: anti-aliased
    start = (round((cx - dx) * 4), round((cy + dy) * 4))
    end = (round((cx + dx) * 4), round((cy - dy) * 4))
    cv2.line(canvas, start, end, 255, thickness=brush * 4, lineType=cv2.LINE_AA)
    return canvas_png(cv2.resize(canvas, (280, 280), interpolation=cv2.INTER_AREA))


VARIANTS = {
    "dark_on_white": dark_on_white,
    "white_on_black": white_on_black,
    "transparent_canvas": transparent_canvas,
    "coloured_ink": coloured_ink,
    "thick_strokes": thick_strokes,
    "thin_strokes": thin_strokes,
    "small_off_centre": small_off_centre,
    "photo_jpeg": photo_jpeg,
    "tight_crop_16": tight_crop_16,
    "tight_crop_32_binary": tight_crop_32_binary,
    "bold_marker": bold_marker,
    "small_drawing": small_drawing,
}


def compose_number(digits: list[np.ndarray], rng) -> bytes:
    """Several MNIST digits side by side on a white page, with varied gaps, sizes, baselines."""
    heights = [int(rng.integers(70, 110)) for _ in digits]
    gaps = [int(rng.integers(6, 40)) for _ in digits]
    width = sum(heights) + sum(gaps) + 80
    page = np.zeros((220, width), np.uint8)
    x = 40
    for digit, height, gap in zip(digits, heights, gaps):
        big = cv2.resize(digit, (height, height), interpolation=cv2.INTER_CUBIC)
        # MNIST digits have ~4 px of empty margin per 28 px: overlap the boxes a little
        y = int(rng.integers(30, 220 - height - 30))
        page[y : y + height, x : x + height] = np.maximum(page[y : y + height, x : x + height], big)
        x += int(height * 0.75) + gap
    page = page[:, : x + 40]
    return _encode(255 - page)


def number_on_squared_paper(digits: list[np.ndarray], rng) -> bytes:
    """A phone photo (640x480 JPEG) of a number written on squared paper: the digits 70-120
    px tall (a fifth of the picture or less), squares half to nine tenths of that, thin grey
    or blue lines across the whole page, the page turned up to 4 degrees (the lines cut by
    the picture's corners), lit unevenly."""
    height = int(rng.integers(70, 120))
    parts = []
    for digit in digits:
        ys, xs = np.nonzero(digit > 40)
        box = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        tall = int(height * rng.uniform(0.85, 1.0))
        big = cv2.resize(
            box, (max(2, round(box.shape[1] * tall / box.shape[0])), tall), interpolation=cv2.INTER_CUBIC
        )
        column = np.zeros((height, big.shape[1]), np.float32)
        top = int(rng.integers(0, height - tall + 1))
        column[top : top + tall] = big.astype(np.float32) / 255
        parts += [column, np.zeros((height, int(height * rng.uniform(0.12, 0.35))), np.float32)]
    ink = np.clip(np.hstack(parts[:-1]), 0, 1)[:, : 640 - 80]
    pad = 80
    shape = (480 + 2 * pad, 640 + 2 * pad)
    pitch = height * rng.uniform(0.5, 0.9)
    lines = np.zeros(shape, np.uint8)
    for y in np.arange(rng.uniform(0, pitch), shape[0], pitch):
        cv2.line(lines, (0, round(y * 4)), (shape[1] * 4, round(y * 4)), 255, 1, cv2.LINE_AA, 2)
    for x in np.arange(rng.uniform(0, pitch), shape[1], pitch):
        cv2.line(lines, (round(x * 4), 0), (round(x * 4), shape[0] * 4), 255, 1, cv2.LINE_AA, 2)
    rule = lines.astype(np.float32) / 255 * rng.uniform(0.55, 0.9)
    writing = np.zeros(shape, np.float32)
    top = pad + int(rng.integers(20, 480 - height - 20))
    left = pad + int(rng.integers(20, max(21, 640 - ink.shape[1] - 20)))
    writing[top : top + height, left : left + ink.shape[1]] = ink
    turn = cv2.getRotationMatrix2D((shape[1] / 2, shape[0] / 2), float(rng.uniform(-4, 4)), 1.0)
    rule, writing = (cv2.warpAffine(a, turn, shape[::-1])[pad:-pad, pad:-pad] for a in (rule, writing))
    paper = np.float32([240, 236, 228]) * (1 - rule[..., None])
    paper += np.float32(RULING_COLOURS[rng.integers(len(RULING_COLOURS))]) * rule[..., None]
    pen = np.float32([[35, 40, 70], [30, 30, 35], [30, 50, 140]][rng.integers(3)])
    a = cv2.GaussianBlur(writing, (0, 0), 1.0)[..., None] * 0.95
    photo = (paper * (1 - a) + pen * a) * _uneven_light(rng, floor=0.4)[..., None]
    photo += rng.normal(0, 3, photo.shape[:2] + (1,))
    return _encode(np.clip(photo, 0, 255).astype(np.uint8), "JPEG", quality=80)


# ---- hostile files ----------------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def png_declaring(width: int, height: int, idat: bytes = b"", colour_type: int = 0) -> bytes:
    """A PNG whose header declares any size, with whatever pixel data we choose
    (colour type 0: 8-bit grey, 2: RGB, 6: RGBA)."""
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat or zlib.compress(b"\x00" * 16))
        + png_chunk(b"IEND", b"")
    )


def png_bomb(width: int, height: int, rgba: bool = False) -> bytes:
    """A real decompression bomb: width x height white pixels, every byte of them present,
    that zlib squeezes to a few hundred times less."""
    row = b"\x00" + b"\xff" * (width * (4 if rgba else 1))  # filter byte, then the pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return png_declaring(width, height, idat, colour_type=6 if rgba else 0)


def hostile_files(seven: Image.Image) -> dict[str, tuple[bytes, type]]:
    """Files an attacker (or a broken client) sends, each with the error it must raise."""
    from digitrec.engine import ImageTooLarge, UnsupportedImage

    def encode(image, fmt):
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        return buffer.getvalue()

    png, jpeg = encode(seven, "PNG"), encode(seven, "JPEG")
    # A JPEG whose frame header claims 65,000 x 65,000 pixels.
    sof = jpeg.index(b"\xff\xc0")
    huge_jpeg = jpeg[: sof + 5] + struct.pack(">HH", 65000, 65000) + jpeg[sof + 9 :]
    return {
        "empty": (b"", UnsupportedImage),
        "random bytes": (np.random.default_rng(1).bytes(5000), UnsupportedImage),
        "text": (b"hello, I am not an image", UnsupportedImage),
        "truncated PNG": (png[: len(png) // 2], UnsupportedImage),
        "truncated JPEG": (jpeg[: len(jpeg) // 2], UnsupportedImage),
        "PNG header only": (png[:40], UnsupportedImage),
        "zero by zero PNG": (png_declaring(0, 0), UnsupportedImage),
        "100,000 x 100,000 PNG": (png_declaring(100_000, 100_000), ImageTooLarge),
        "65,000 x 65,000 JPEG": (huge_jpeg, ImageTooLarge),
        "decompression bomb, 64 MP": (png_bomb(8000, 8000), ImageTooLarge),
        # Under the 40 MP limit for JPEGs, over the 16 MP one for formats decoded in full.
        "RGBA PNG bomb, 30 MP": (png_bomb(6000, 5000, rgba=True), ImageTooLarge),
        "SVG": (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
            b'<text x="10" y="80" font-size="80">7</text></svg>',
            UnsupportedImage,
        ),
        "PDF": (
            b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages"
            b"/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
            UnsupportedImage,
        ),
    }


def compose_touching_number(digits: list[np.ndarray], rng, overlap: float = 0.1) -> bytes:
    """Digits written so close that each touches or overlaps the one before it (by up to
    ``overlap`` of its width), all of one height, on a white page."""
    height = int(rng.integers(70, 110))
    crops = []
    for digit in digits:
        ys, xs = np.nonzero(digit > 40)
        ink = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        width = max(1, round(ink.shape[1] * height / ink.shape[0]))
        crops.append(cv2.resize(ink, (width, height), interpolation=cv2.INTER_CUBIC))
    page = np.zeros((height + 60, sum(c.shape[1] for c in crops) + 80), np.uint8)
    x = 40
    for ink in crops:
        region = page[30 : 30 + height, x : x + ink.shape[1]]
        np.maximum(region, ink, out=region)
        x += ink.shape[1] - int(rng.integers(1, max(2, int(overlap * ink.shape[1]))))
    return _encode(255 - page[:, : x + 40])
