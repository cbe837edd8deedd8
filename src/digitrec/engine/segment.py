"""One image -> several digits, left to right (a number such as "2024").

The ink's connected pieces are grouped into digits by their horizontal extent: pieces that
overlap in x belong to one digit (the detached bar of a 5, a broken stroke). Each group is
then normalised exactly like a single digit. Digits written so close that they touch form
one wide piece: ``touching_splits`` offers ways to cut it at its thinnest columns, and the
recognizer keeps a cut only where the model reads the parts more surely than the whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from digitrec.engine.preprocess import Ink, ink_in, to_28x28

MIN_OVERLAP = 0.4  # share of the narrower piece's width that must overlap to merge
FRAGMENT_HEIGHT = 0.45  # groups shorter than this share of the tallest digit are parts
WIDE = 1.15  # a piece wider than this share of its height may be touching digits
SEVERAL_DIGITS = 1.5  # wider than this share of its height, it is (almost) never one digit
NARROWEST = 0.4  # the narrowest digit (a 1 aside) as a share of its height: caps the cuts
MAX_TOUCHING = 4  # at most this many digits are looked for in one piece
STACKED = 0.2  # narrow pieces one wholly above the other, this close, are one broken digit
USUAL_SLOT = 0.75  # a number's width per digit, as a share of the digits' height, at least
MAX_STRETCH = 2.5  # a squeezed number's digits are read at most this much wider
LINE_HEIGHT = 0.5  # lines of a number that wrapped are each at least this share as tall as the tallest
JOIN_GAP = 0.25  # neighbours this close (a share of their height) may be halves of one digit


@dataclass(frozen=True)
class DigitBox:
    """Where a digit is, as fractions of the image's width and height (0-1)."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class DigitPiece:
    image: np.ndarray  # float32 (28, 28), MNIST style
    box: DigitBox
    mask: np.ndarray  # bool (H, W) in the ink image: the pixels of this digit
    aspect: float  # width / height of the digit's ink, in pixels


def split_digits(image: np.ndarray) -> list[DigitPiece]:
    """Decoded pixels -> one MNIST-style 28x28 image per digit, ordered left to right."""
    return split_ink(ink_in(image))


def split_ink(ink: Ink) -> list[DigitPiece]:
    """The ink found in an image -> one MNIST-style 28x28 image per digit, left to right,
    line by line where the number goes on below (wrapped onto a second line)."""
    lines = _lines(ink)
    if len(lines) > 1:
        return [piece for line in lines for piece in split_ink(replace(ink, kept=tuple(line)))]
    groups: list[list[int]] = []
    spans: list[tuple[int, int]] = []
    for piece in sorted(ink.kept, key=lambda i: ink.boxes[i][0]):
        x, _, w, _ = ink.boxes[piece]
        for group, span in zip(groups, spans):
            if _overlap(span, (x, x + w), MIN_OVERLAP):
                group.append(piece)
                break
        else:
            groups.append([piece])
            spans.append((x, x + w))
            continue
        index = groups.index(group)
        spans[index] = (min(spans[index][0], x), max(spans[index][1], x + w))

    groups = _merge_stacked(_merge_fragments(groups, ink), ink)
    largest = max(sum(ink.areas[i] for i in g) for g in groups)
    pieces = []
    for group in groups:
        if sum(ink.areas[i] for i in group) < 0.1 * largest:
            continue  # a stray mark beside the number, not a digit
        pieces.append(_piece(ink, ink.mask_of(group)))
    return sorted(pieces, key=lambda p: p.box.x)


def _lines(ink: Ink) -> list[list[int]]:
    """The pieces in lines of writing, top to bottom: bands of rows with ink, apart from
    one another, each about as tall as the tallest and one of them holding digits side by
    side. Without digits side by side, a gap across is inside a digit (an "8" of two
    loops, a "5" whose bar came loose): one line."""
    bands: list[tuple[int, int, list[int]]] = []  # top, bottom, pieces
    for i in sorted(ink.kept, key=lambda i: ink.boxes[i][1]):
        _, top, _, height = ink.boxes[i]
        if bands and top < bands[-1][1]:
            band_top, band_bottom, ids = bands[-1]
            bands[-1] = (band_top, max(band_bottom, top + height), [*ids, i])
        else:
            bands.append((top, top + height, [i]))
    if len(bands) < 2:
        return [list(ink.kept)]
    tallest = max(bottom - top for top, bottom, _ in bands)

    def side_by_side(top: int, bottom: int, ids: list[int]) -> bool:
        digits = sorted(ink.boxes[i] for i in ids if ink.boxes[i][3] >= LINE_HEIGHT * (bottom - top))
        return any(b[0] >= a[0] + a[2] for a, b in zip(digits, digits[1:]))

    def across(ids: list[int]) -> tuple[int, int]:
        return min(ink.boxes[i][0] for i in ids), max(ink.boxes[i][0] + ink.boxes[i][2] for i in ids)

    def below_the_other(upper: list[int], lower: list[int]) -> bool:
        """A line that wraps starts again under the one above (digits of one line written
        up and down hill are beside each other, not under)."""
        return _overlap(across(upper), across(lower), 0.5)

    if (
        all(bottom - top >= LINE_HEIGHT * tallest for top, bottom, _ in bands)
        and any(side_by_side(*band) for band in bands)
        and all(below_the_other(a[2], b[2]) for a, b in zip(bands, bands[1:]))
    ):
        return [ids for _, _, ids in bands]
    return [list(ink.kept)]


def _overlap(a: tuple[float, float], b: tuple[float, float], share: float) -> bool:
    """Two spans (start, end) overlap by at least ``share`` of the shorter one."""
    return min(a[1], b[1]) - max(a[0], b[0]) >= share * min(a[1] - a[0], b[1] - b[0])


def squeeze(pieces: list[DigitPiece]) -> float:
    """How much narrower than usual a number is written: its width per digit against
    USUAL_SLOT of the digits' height (1 when not squeezed, up to MAX_STRETCH). People
    squeeze a number to fit it across a phone's canvas; its digits then need reading that
    much wider. One digit alone has no context: a narrow one with a flag is a "1", and a
    squeezed "7" would look just the same."""
    if len(pieces) < 2:
        return 1.0
    height, width = pieces[0].mask.shape
    # Line by line: a new line of a wrapped number starts where the next piece lies left.
    starts = [0] + [k for k in range(1, len(pieces)) if pieces[k].box.x < pieces[k - 1].box.x] + [len(pieces)]
    span = sum(
        (pieces[end - 1].box.x + pieces[end - 1].box.width - pieces[start].box.x) * width
        for start, end in zip(starts, starts[1:])
    )
    tall = float(np.median([p.box.height for p in pieces])) * height
    slot = span / len(pieces) / max(tall, 1.0)
    return float(min(max(USUAL_SLOT / slot, 1.0), MAX_STRETCH))


def touching_splits(ink: Ink, piece: DigitPiece) -> list[list[DigitPiece]]:
    """Ways to read a wide piece as 2, 3, ... touching digits, left to right: each cut is
    the column with the least ink near where an even split would put it. Empty for pieces
    no wider than one digit."""
    x, y, w, h = cv2.boundingRect(piece.mask.view(np.uint8))
    if w <= WIDE * h:
        return []
    profile = (ink.image * piece.mask)[y : y + h, x : x + w].sum(axis=0)
    total = profile.sum()
    profile = np.convolve(profile, np.ones(3) / 3, mode="same")
    options = []
    for count in range(2, min(MAX_TOUCHING, math.ceil(w / (NARROWEST * h))) + 1):
        step = w / count
        cuts = [x]
        for j in range(1, count):
            low, high = round((j - 0.3) * step), round((j + 0.3) * step) + 1
            cuts.append(x + low + int(np.argmin(profile[low:high])))
        cuts.append(x + w)
        parts = []
        for left, right in zip(cuts, cuts[1:]):
            mask = piece.mask.copy()
            mask[:, :left] = False
            mask[:, right:] = False
            if ink.image[mask].sum() < 0.1 * total / count:
                break  # a sliver, not a digit
            parts.append(_piece(ink, mask))
        else:
            options.append(parts)
    return options


def joined(ink: Ink, left: DigitPiece, right: DigitPiece) -> DigitPiece | None:
    """Two neighbouring pieces as one digit, where they could be one (a "4" whose bar stops
    short of its stem, a "5" whose parts do not meet): together no wider than one digit,
    side by side with at most a narrow gap. None otherwise."""
    rows = [(p.box.y, p.box.y + p.box.height) for p in (left, right)]
    if not _overlap(*rows, 0.5):
        return None  # not on one line (the end of a line and the start of the next)
    mask = left.mask | right.mask
    _, _, w, h = cv2.boundingRect(mask.view(np.uint8))
    gap = (right.box.x - left.box.x - left.box.width) * mask.shape[1]
    if w > WIDE * h or gap > JOIN_GAP * h:
        return None
    return _piece(ink, mask)


def _piece(ink: Ink, mask: np.ndarray) -> DigitPiece:
    height, width = mask.shape
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    box = DigitBox(x=x / width, y=y / height, width=w / width, height=h / height)
    return DigitPiece(to_28x28(ink.image, mask), box, mask, w / h)


def _merge_fragments(groups: list[list[int]], ink: Ink) -> list[list[int]]:
    """Join pieces much shorter than the digits around them (the detached bar of a 5, a
    broken stroke) to the nearest group: they are parts of a digit, not digits."""

    def extent(group):  # left, right, height
        left, top, right, bottom = _group_box(ink, group)
        return left, right, bottom - top

    if len(groups) < 2:
        return groups
    # Against the tallest group, not the median: with two groups (a digit and its loose
    # bar) the median is their average and a bar a third of the digit's height passes.
    tallest = max(extent(g)[2] for g in groups)
    groups = [list(g) for g in groups]
    while True:
        fragments = [g for g in groups if extent(g)[2] < FRAGMENT_HEIGHT * tallest]
        if not fragments or len(groups) < 2:
            return groups
        fragment = fragments[0]
        left, right, _ = extent(fragment)

        def gap(other, left=left, right=right):
            o_left, o_right, _ = extent(other)
            return max(o_left - right, left - o_right, 0)

        nearest = min((g for g in groups if g is not fragment), key=gap)
        nearest.extend(fragment)
        groups.remove(fragment)


def _merge_stacked(groups: list[list[int]], ink: Ink) -> list[list[int]]:
    """Join neighbouring groups that sit one above the other, overlapping sideways and
    together no wider than half their height (the halves of a "1" or a "7" whose stroke
    broke): digits of a number share a line, so their heights overlap."""

    merged = True
    while merged and len(groups) > 1:
        merged = False
        groups = sorted(groups, key=lambda g: _group_box(ink, g)[0])
        for a, b in zip(groups, groups[1:]):
            (a_left, a_top, a_right, a_bottom), (b_left, b_top, b_right, b_bottom) = (
                _group_box(ink, a),
                _group_box(ink, b),
            )
            gap = max(a_top, b_top) - min(a_bottom, b_bottom)  # > 0: one wholly above the other
            height = max(a_bottom, b_bottom) - min(a_top, b_top)
            width = max(a_right, b_right) - min(a_left, b_left)
            if 0 <= gap <= STACKED * height and b_left < a_right and width < 0.5 * height:
                a.extend(b)
                groups.remove(b)
                merged = True
                break
    return groups


def _group_box(ink: Ink, group: list[int]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the pieces ``group``, in ink pixels."""
    boxes = [ink.boxes[i] for i in group]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[0] + b[2] for b in boxes),
        max(b[1] + b[3] for b in boxes),
    )
