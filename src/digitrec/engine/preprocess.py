"""Pixels -> the 28x28 image an MNIST model expects.

MNIST digits are light ink on black, scaled so the longest side of the digit fits 20 px
(aspect ratio kept, anti-aliased), and placed in 28x28 so their centre of mass sits at the
centre. User images are anything but: dark ink on paper or light ink on black, transparent
canvases, coloured ink, uneven light, specks, borders, a small digit somewhere in a big
photo. Each step below removes one of those differences:

    ink_map         colour/alpha/polarity -> one channel, ink bright, even background
    find_ink        threshold, drop specks and border clutter, refuse blanks, dots, noise
    to_28x28        crop to the ink, even out stroke width, scale to 20 px, centre by mass
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from digitrec.engine.errors import NoDigitFound

MIN_CONTRAST = 32.0  # grey levels (of 255) between ink and background, below: blank...
MIN_FAINT_CONTRAST = 6.0  # ... unless at least this many, and
FAINT_INK_TO_NOISE = 10.0  # ... this many times the picture's noise (pencil, faint ink)
MIN_SEPARATION = 0.72  # Otsu's between-class / total variance; noise scores ~0.64
FORM_BOX_FILL = 0.25  # a printed box fills less than this of its bounding box
RULED_RUN = 0.35  # ... or made of level and upright lines across this share of it
FRAME_FILL = 0.5  # a box with the writing that touches it fills less than this
FRAME_BAND = 0.08  # its sides lie within this share of its side from its bounding box's
FRAME_ASPECT = 0.6  # ... and is not much taller than wide
FRAME_SIDES = 0.8  # ... along at least this share of each of the four
MIN_FRAME_SIDE = 24  # px: smaller pieces are not looked at as boxes
MAX_FORM_SKEW = 5.0  # degrees: a form scanned or photographed askew by up to this is looked at level
WALL_WIDTH = 0.15  # the walls between a row of boxes are no wider than this share of their height
MIN_WALL = 8  # px: the shortest tick of a comb field looked at
WALL_STROKE = 0.7  # ... and finer than the writing's strokes: at most this share of their width
WALL_SPACING = 0.08  # ... and evenly spaced: within this share of the spacing
LABEL_PIECES = 4  # a line of this many small pieces
LABEL_HEIGHT = 0.45  # ... each at most this share of the writing's height, beside it: print
LABEL_SPAN = 0.4  # ... (or fewer, as wide as this share of the writing's height)
LABEL_GAP = 0.15  # ... clear of the writing by this share of its height
ROW_SHARE = 0.9  # many pieces are digits of a long number where this share lie along one line
MAX_PIECES = 24  # more separate ink pieces than this is texture, not digits
MIN_DIGIT_TO_STROKE = 3.0  # a digit is several stroke widths long; a dot is ~2
SMALL_DIGIT = 0.25  # ink less than this share of the image's height and width is a small digit
MIN_SMALL_DIGIT_TO_STROKE = 4.0  # a small digit shorter than this many strokes is a blob
BROAD_BRUSH = 0.045  # strokes wider than this share of the image: a canvas brush, not a pen
SPECK_FRACTION = 0.05  # components smaller than this share of the largest are specks
BORDER_MARGIN = 0.02  # ink this close to the image edge (share of the side) may be clutter
EDGE_STRIP = 0.08  # a strip along an edge no thicker than this share of the picture is desk
NEIGHBOUR = 0.7  # ... unless at least this share as tall as the digits inside: a digit too
NEIGHBOUR_TALLEST = 1.3  # ... and at most this share as tall, beside them in their row
TARGET_STROKE = 0.11  # MNIST stroke width as a share of the digit's longest side
WORK_HEIGHT = 80  # px of ink height kept for finding and cropping the digit
THIN_STROKE = 0.075  # below this, strokes are thickened towards TARGET_STROKE
NARROW = 0.5  # digits narrower than this share of their height may be squeezed
MIN_WIDENED_STROKES = 1.2  # ... if at least this many stroke widths wide: not a bare line
MIN_OUTLINE_SIDE = 48  # px: smaller digits are not looked at as outlines
OUTLINE_GAP = 1.5  # an outlined digit's lines enclose gaps at least this many lines wide,
OUTLINE_WIDTH = 0.3  # ... and narrower than this share of the digit (a broad stroke),
OUTLINE_FILL = 0.3  # ... together at least this share of the ink's area,
OUTLINE_SOLIDITY = 0.8  # ... each bending: filling less than this share of its convex hull
# Printed rulings (lined and squared paper, form lines): straight lines across at least this
# share of the image, at most RULING_TILT degrees from level or upright, and at most this
# share of the image's shorter side thick (a pen stroke that long is a digit filling the frame).
RULING_SPAN = 0.6
RULING_TILT = 8.0
FOLLOW_PASSES = 3  # ... followed along the straight guess, then twice along the curve found
RULING_THIN = 0.025
LONE_RULING_SPAN = 0.9  # an upright line with no other beside it is a ruling only across this much
MIN_RULED_SIDE = 64  # px: smaller images (a 28x28 digit, a crop) are no photos of a page: no
# rulings, no desk round a sheet, no shadow across the border
MAX_RULED_SHARE = 0.25  # more of the image in level runs than this: broad strokes, not rulings
MAX_RULINGS = 64  # candidate lines looked at, the strongest first
# A sheet photographed on a desk: the largest bright region, with its writing filled in,
PAPER_STEP = 8  # grey levels (of 255 between the darkest and the lightest) from pixel to pixel
SHEET_SHARE = 0.03  # ... at least this share of the picture (a sticky note far off: 4 %)
MIN_DESK_SHARE = 0.03  # ... with at least this much desk beyond it,
MIN_SHEET_WRITING = 0.002  # ... holding writing (this share of the picture at least,
MAX_SHEET_WRITING = 0.3  # ... and at most this share of the sheet),
NOTCH = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))  # strokes to the edge, on the thumbnail
SHEET_SOLIDITY = 0.9  # ... as convex as a sheet: filling this share of its convex hull,
SHEET_SQUARENESS = 0.8  # ... and of the smallest rectangle round it (an ellipse fills 79 %),
SHEET_CORNER = 0.02  # ... its outline, within this share of its length, a polygon of
MAX_SHEET_CORNERS = 6  # ... at most this many corners (four, or the picture's cutting it),
SHEET_CONTRAST = 0.3  # ... the desk darker by this share of the paper's level,
DESK_REACH = 0.5  # ... along the picture's edges, unbroken, for this share of its shorter side,
LIT_DESK_EDGE = 0.1  # ... dark where it meets the picture's edges but for this share,
DESK_SPREAD = 0.7  # ... evenly: 80 % of the desk within this share of that difference,
SHEET_STEP = 0.5  # ... and this share of that difference is a step at its edge
OUTLINE_SIDE = 160  # px: a small sheet's outline is looked for on a picture this size
OUTLINE_EDGES = (20, 50)  # Canny's thresholds for that outline (grey levels of 255 a px),
OUTLINE_STRONGEST = 0.25  # ... the higher at least this share of the steepest steps' (Sobel)
NEAR_DESK = 0.3  # ... its desk read within this share of its side beyond it,
OUTLINED_CONTRAST = 0.2  # ... darker by this share of the paper's level,
MAX_OUTLINED_WRITING = 0.45  # ... writing filling at most this share of it,
OUTLINED_PAPER_EDGE = 0.8  # ... and paper along this share of the inside of its edge
LUMA = np.float32([0.299, 0.587, 0.114])  # lightness from RGB (ITU-R BT.601)
SHEET_EDGE = 0.03  # the sheet's edge (and its shadow) left out: this share of the side
UNEVEN_RING = 0.25  # the border ring spread over this share of the image's range: a shadow on it
THIN_DOMINANCE = 1.5  # thin lines of one polarity this much stronger than the other's: the ink
MIN_HAZY_SIDE = 16  # px: smaller images are not checked for uneven light or haze


@dataclass(frozen=True)
class Ink:
    """Ink found in an image: a soft ink image in [0, 1] and the labelled pieces kept."""

    image: np.ndarray  # float32 (H, W), ink 1, background 0
    mask: np.ndarray  # bool (H, W), the kept pieces and their anti-aliased edges
    labels: np.ndarray  # int32 (H, W), component id of every thresholded pixel, 0 = none
    kept: tuple[int, ...]  # ids of the components that belong to digits
    boxes: dict[int, tuple[int, int, int, int]]  # id -> (x, y, width, height)
    areas: dict[int, int]  # id -> pixel count
    stroke: float = 1.0  # the strokes' width, px
    broad_brush: bool = False  # drawn with a canvas's broad brush (not a pen on paper)

    def mask_of(self, ids: list[int]) -> np.ndarray:
        """bool (H, W): the pieces ``ids`` and their anti-aliased edges (one pixel round)."""
        return _grow(_select(self.labels, ids))


def to_mnist_28x28(image: np.ndarray) -> np.ndarray:
    """Decoded pixels (grey, RGB or RGBA uint8) -> float32 (28, 28) in [0, 1], MNIST style."""
    return ink_to_28x28(ink_in(image))


def ink_in(image: np.ndarray) -> Ink:
    """Decoded pixels -> the ink of the digits in them (``ink_map``, then ``find_ink``).
    Strokes drawn on a transparent canvas are all meant: none is a frame or a paper edge,
    also where they run to the canvas's edge."""
    strokes = _drawn_strokes(image)
    if strokes is not None:
        return find_ink(strokes, drawn=True)
    return find_ink(_picture_ink_map(image))


def to_uint8_28x28(image: np.ndarray) -> np.ndarray:
    """A float 28x28 in [0, 1] (the model's input) as uint8 0-255, MNIST's own format."""
    return np.clip(np.asarray(image, np.float32) * 255, 0, 255).round().astype(np.uint8)


def from_uint8_28x28(pixels: np.ndarray) -> np.ndarray:
    """A uint8 28x28 (MNIST's format, stored corrections) as the model's float input."""
    return np.asarray(pixels, np.float32) / np.float32(255)


def ink_to_28x28(ink: Ink) -> np.ndarray:
    """All the ink found, as one MNIST-style digit."""
    return to_28x28(ink.image, ink.mask)


def widened_28x28(ink: np.ndarray, mask: np.ndarray, stretch: float) -> np.ndarray | None:
    """A narrow digit stretched sideways by ``stretch``, as a second reading: the digits of
    a number squeezed to fit a phone's canvas (a "2" a third as wide as it is tall) keep
    that shape when the longest side is fitted to 20 px, and the model reads such a sliver
    as "1". None when the digit is not narrow, or is no wider than a couple of strokes (a
    bare line, which stretched would only be a fatter or more slanted "1")."""
    if stretch <= 1:
        return None
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    if w == 0 or w >= NARROW * h:
        return None
    crop = mask[y : y + h, x : x + w]
    if w < MIN_WIDENED_STROKES * stroke_width(crop):
        return None
    width = min(round(w * stretch), h)
    stretched = cv2.resize(np.ascontiguousarray((ink * mask)[y : y + h, x : x + w]), (width, h))
    wide_mask = cv2.resize(crop.view(np.uint8), (width, h), interpolation=cv2.INTER_NEAREST)
    return to_28x28(stretched, wide_mask.view(bool))


def filled_28x28(ink: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """An outlined (hollow) digit filled in, as a second reading: a bubble or outline "7"
    is a thin closed line round the shape of a broad stroke. Filled are the gaps the ink
    encloses that are OUTLINE_GAP times as wide as its lines or more (the strokes of the
    outlined digit) but under OUTLINE_WIDTH of its height (the wide open inside of a "0" or
    a "6" is not filled), and that bend (an oval gap is the inside of a narrow "0" as much
    as of an outlined "1": it is left as it is). None when there is no such gap, or the
    digit is too small to tell a line from a gap (an edge detector's one-pixel outline at
    28x28)."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    if max(w, h) < MIN_OUTLINE_SIDE:
        return None
    crop = mask[y : y + h, x : x + w]
    holes = _enclosed_paper(crop)
    if not cv2.countNonZero(holes):
        return None
    line = stroke_width(crop)
    count, labels = cv2.connectedComponents(holes)
    distance = cv2.distanceTransform(holes, cv2.DIST_L2, 3)
    widths = np.array([0.0] + [2 * float(distance[labels == k].max()) for k in range(1, count)])
    fill = (widths >= OUTLINE_GAP * line) & (widths <= OUTLINE_WIDTH * max(w, h))
    fill[0] = False
    for k in np.flatnonzero(fill):
        # The inside of a pen's "0" (or of an outlined "1") is round or oval; the stroke of
        # an outlined "7", "2" or "8" bends round corners.
        outline = max(
            cv2.findContours((labels == k).view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0],
            key=len,
        )
        fill[k] = cv2.contourArea(outline) < OUTLINE_SOLIDITY * cv2.contourArea(cv2.convexHull(outline))
    filled = fill[labels]
    if cv2.countNonZero(filled.view(np.uint8)) < OUTLINE_FILL * cv2.countNonZero(crop.view(np.uint8)):
        return None  # no enclosed stroke worth the name
    solid = np.maximum(ink[y : y + h, x : x + w] * crop, filled.astype(np.float32))
    return to_28x28(solid, crop | filled)


def _drawn_strokes(image: np.ndarray) -> np.ndarray | None:
    """The ink map of strokes on a transparent canvas (the page's drawing), or None."""
    if image.ndim != 3 or image.shape[2] != 4:
        return None
    channels = cv2.split(image)
    return _ink_from_alpha(image, channels) if channels[3].min() < 250 else None  # real transparency


def ink_map(image: np.ndarray) -> np.ndarray:
    """One float32 channel, 0 on the background and growing with ink contrast (max 255)."""
    strokes = _drawn_strokes(image)
    return strokes if strokes is not None else _picture_ink_map(image)


def _picture_ink_map(image: np.ndarray) -> np.ndarray:
    """``ink_map`` of anything but strokes on a transparent canvas: a photo, a scan, a card."""
    if image.ndim == 3 and image.shape[2] == 4:
        image = _flatten_alpha(image) if image[..., 3].min() < 250 else image[..., :3]
    sample = _sample(image).astype(np.float32)
    grey = _lightness(sample)
    sheet = _sheet_in(image, grey)
    if sheet is None:
        sign = _ink_sign(grey)  # +1: ink darker than paper
        background = np.atleast_1d(np.median(_border_ring(sample), axis=0))
    else:  # the paper is the sheet, whatever the desk round it shows
        paper, sheet = sheet
        sign = 1.0
        background = np.atleast_1d(np.median(sample[paper], axis=0))

    # Coloured ink differs most from the paper in one channel: take the largest difference.
    channels = [image] if image.ndim == 2 else cv2.split(image)
    signed = None
    for channel, level in zip(channels, background):
        difference = (np.float32(level) - channel.astype(np.float32)) * np.float32(sign)
        signed = difference if signed is None else cv2.max(signed, difference)
    beyond = None
    if sheet is not None:  # nothing beyond the sheet's edge is ink
        on_sheet = _on_sheet(sheet, signed.shape)
        signed *= on_sheet
        beyond = on_sheet == 0
    return _without_rulings(np.clip(signed - _uneven_background(signed, beyond=beyond), 0, 255))


def _sample(image: np.ndarray) -> np.ndarray:
    """Every n-th pixel, about 64 each way: the thumbnail the ring and polarity are read on."""
    return image[:: max(1, image.shape[0] // 64), :: max(1, image.shape[1] // 64)]


def _lightness(pixels: np.ndarray) -> np.ndarray:
    """float32 lightness of grey (H, W) or RGB (H, W, 3+) pixels."""
    pixels = pixels.astype(np.float32)
    return pixels if pixels.ndim == 2 else pixels[..., :3] @ LUMA


def _sheet_in(image: np.ndarray, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``_sheet_on_desk`` on the picture's thumbnail (the sample's size, but averaged, not
    every n-th pixel, so that the paper is smooth to follow): in its darkest channel, then
    in its lightness. Paper is light in every channel; a wooden desk, as light as paper
    the light has dimmed, is dark in blue: the darkest channel tells them apart."""
    height, width = grey.shape
    smooth = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    sheet = _sheet_by_outline(image, grey)
    if sheet is None:
        sheet = _sheet_on_desk(smooth if smooth.ndim == 2 else smooth.min(axis=2))
    if sheet is None and smooth.ndim == 3:  # a coloured note (yellow is dark in blue): its lightness
        sheet = _sheet_on_desk(_lightness(smooth))
    return sheet


def _sheet_by_outline(image: np.ndarray, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A sheet wholly in the picture (a sticky note) on a desk, found by its outline; looked
    for first, since ``_sheet_on_desk`` cannot follow a note's paper where writing that
    nearly fills it cuts it into pieces on the thumbnail (it then found a sheet with
    notches over the strokes, or none), nor tell it from a desk that uneven light spreads
    over the levels Otsu splits. The note's edge is a sharp step all the way round: the
    largest outline at ``OUTLINE_SIDE`` px, with the writing inside it, wrapped in its
    convex hull, and held to the tests of ``_passes_for_a_sheet`` at that size. Returns
    (the paper on the thumbnail ``grey`` shows, the sheet at ``OUTLINE_SIDE``), or None: a
    page cut by the picture's edges has no closed outline, and is left to ``_sheet_on_desk``."""
    height, width = image.shape[:2]
    scale = OUTLINE_SIDE / max(height, width)
    if min(grey.shape) < MIN_RULED_SIDE or scale >= 1:
        return None
    # A desk round a note is darker than the note along most of the picture's edges: where
    # they are as light as the paper (a page, a scan, a card), there is no outline to find.
    if np.median(_border_ring(grey)) > (1 - OUTLINED_CONTRAST) * np.percentile(grey, 95):
        return None
    picture = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    lightness = picture if picture.ndim == 2 else cv2.cvtColor(picture[..., :3], cv2.COLOR_RGB2GRAY)
    blurred = cv2.GaussianBlur(lightness, (0, 0), 1.0)
    # Only the strongest steps: a note's edge, not the grain of a wooden desk round it.
    steepness = cv2.magnitude(cv2.Sobel(blurred, cv2.CV_32F, 1, 0), cv2.Sobel(blurred, cv2.CV_32F, 0, 1))
    high = max(OUTLINE_EDGES[1], OUTLINE_STRONGEST * float(np.percentile(steepness, 99.5)))
    edges = cv2.Canny(blurred, high * OUTLINE_EDGES[0] / OUTLINE_EDGES[1], high)
    outlines, _ = cv2.findContours(
        cv2.dilate(edges, np.ones((3, 3), np.uint8)), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    if not outlines:
        return None
    hull = cv2.convexHull(max(outlines, key=cv2.contourArea))
    seen = lightness.astype(np.float32)
    sheet = np.zeros(seen.shape, np.uint8)
    cv2.drawContours(sheet, [hull], -1, 1, cv2.FILLED)
    sheet = cv2.erode(sheet, np.ones((5, 5), np.uint8)).view(bool)  # inside the edge, blurred and dilated
    if sheet.sum() < 2:
        return None
    levels = cv2.normalize(seen[sheet], None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    threshold, _ = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    paper = np.zeros_like(sheet)
    paper[sheet] = levels.ravel() > threshold
    outline, _ = cv2.findContours(sheet.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not _passes_for_a_sheet(seen, paper, sheet, np.concatenate(outline), outlined=True):
        return None
    # The paper on the thumbnail the border ring is read on; the sheet at this size.
    thumbnail = grey.shape[::-1]
    return cv2.resize(paper.view(np.uint8), thumbnail, interpolation=cv2.INTER_NEAREST).view(bool), sheet


def _sheet_on_desk(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A photo that shows the desk (or a floor, a darker page) beyond the sheet the writing
    is on: (the sheet's paper, the whole sheet with its writing), both bool on ``grey`` (an
    averaged thumbnail: its darkest channel, or its lightness); None when the paper fills
    the picture.

    The border ring would take the desk for the paper and the sheet for ink. The sheet is
    the largest bright region, followed as far as the light changes smoothly; it counts
    when, with the writing it holds filled in, it is four-sided as a sheet of paper is, its
    edge is a sharp step down to a darker surround that runs along the picture's edges
    (not the slow fall of light towards a corner), and it holds writing. A bold digit cut
    close leaves paper only in pieces round it, none holding ink. Where a lit desk is the
    largest bright region, the sheet is the brighter one it goes round.
    """
    if min(grey.shape) < MIN_RULED_SIDE:  # a 28x28 or a small crop is no photo of a desk
        return None
    levels = cv2.normalize(grey, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    _, bright = cv2.threshold(levels, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    paper, sheet = _sheet_from(grey, levels, bright)
    if sheet is None and paper is not None:  # a lit desk, maybe: what it goes round
        paper, sheet = _sheet_from(grey, levels, bright & ~paper, least=SHEET_SHARE)
    return None if sheet is None else (paper, sheet)


def _sheet_from(grey: np.ndarray, levels: np.ndarray, bright: np.ndarray, least: float = 0.0):
    """``_sheet_on_desk`` from the largest region of ``bright`` (if it covers the share
    ``least`` of the picture): the paper followed from it, and the sheet when they pass for
    a sheet on a desk, else None."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright.view(np.uint8), connectivity=4)
    if count < 2:
        return None, None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[largest, cv2.CC_STAT_AREA] < least * grey.size:
        return None, None
    # The paper: followed from deep inside that region for as long as the light changes
    # smoothly, over the dim parts of the page too (which may be as dark as a lit desk),
    # up to the steps at the strokes and at the sheet's edge.
    depth = cv2.distanceTransform((labels == largest).view(np.uint8), cv2.DIST_L2, 3)
    seed = np.unravel_index(int(np.argmax(depth)), depth.shape)

    def follow(image: np.ndarray) -> np.ndarray:
        filled = np.zeros((grey.shape[0] + 2, grey.shape[1] + 2), np.uint8)
        flags = 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
        cv2.floodFill(image, filled, (int(seed[1]), int(seed[0])), 0, PAPER_STEP, PAPER_STEP, flags)
        return filled[1:-1, 1:-1]

    paper = follow(levels).view(bool)
    # The sheet: the paper with what it encloses (the writing) filled in. On a small note
    # the strokes cut the paper into pieces, and run to its edges: followed again with
    # the strokes closed over, and the notches they leave at the edges closed.
    whole = follow(cv2.morphologyEx(levels, cv2.MORPH_CLOSE, NOTCH)) | paper.view(np.uint8)
    closed = cv2.morphologyEx(whole, cv2.MORPH_CLOSE, NOTCH)
    outline, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    sheet = np.zeros(grey.shape, np.uint8)
    cv2.drawContours(sheet, outline, -1, 1, cv2.FILLED)
    sheet = sheet.view(bool)
    return paper, (sheet if _passes_for_a_sheet(grey, paper, sheet, np.concatenate(outline)) else None)


def _passes_for_a_sheet(
    grey: np.ndarray,
    paper: np.ndarray,
    sheet: np.ndarray,
    points: np.ndarray,
    outlined: bool = False,
) -> bool:
    """Whether ``sheet`` (bool on the thumbnail ``grey``, ``points`` its outline), of which
    ``paper`` is the blank part, is a sheet of paper on a darker desk: see ``_sheet_on_desk``.
    ``outlined``: found by a sharp edge all the way round (``_sheet_by_outline``), so its
    desk is read just beyond that edge (the light of the whole picture spreads more), and
    less contrast and more writing (a digit nearly filling a note) pass."""
    desk = ~sheet
    share, writing = sheet.mean(), sheet & ~paper
    if not (SHEET_SHARE <= share <= 1 - MIN_DESK_SHARE) or not desk.any():
        return False
    near = desk
    if outlined:
        _, _, width, height = cv2.boundingRect(sheet.view(np.uint8))
        reach = max(3, round(NEAR_DESK * min(width, height))) | 1
        ring = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))
        near = cv2.dilate(sheet.view(np.uint8), ring).view(bool) & desk
    paper_level, desk_level = float(np.median(grey[paper])), float(np.median(grey[near]))
    # Writing, of which there is not too much: what is as dark as the desk. The bright
    # inside of a "0" cut off from the rest of a small note counts as writing, not as too
    # much of it; the dark hole of a light "0" on a dark ground does.
    dark = writing & (grey < (paper_level + desk_level) / 2)
    most = MAX_OUTLINED_WRITING if outlined else MAX_SHEET_WRITING
    if writing.mean() < MIN_SHEET_WRITING or dark.mean() > most * share:
        return False
    # Cut by the picture's edges or not, a sheet is a four-sided shape, seen a little
    # askew; a bold light digit on a dark ground (its loops "writing") is rounder: its
    # outline has no corners (a small sheet's are blunted on the thumbnail).
    hull = cv2.convexHull(points)
    area = float(sheet.sum())
    (_, (side, other), _) = cv2.minAreaRect(points)
    corners = len(cv2.approxPolyDP(hull, SHEET_CORNER * cv2.arcLength(hull, True), True))
    if (
        area < SHEET_SOLIDITY * cv2.contourArea(hull)
        or area < SHEET_SQUARENESS * side * other
        or corners > MAX_SHEET_CORNERS
    ):
        return False
    if paper_level - desk_level < (OUTLINED_CONTRAST if outlined else SHEET_CONTRAST) * paper_level:
        return False
    # The desk runs along the picture's edges, all the way; strokes cut by the edges (the
    # paper between them closed over) only cross it here and there.
    border, on_desk = _round_the_edges(grey), _round_the_edges(desk)
    if _longest_run(on_desk) < DESK_REACH * min(grey.shape):
        return False
    # ... and is dark there: not the paper round a loop cut close (a "0" cut to its ink).
    if (border[on_desk] > (paper_level + desk_level) / 2).mean() > LIT_DESK_EDGE:
        return False
    # A desk is evenly dark; what a page's light leaves dim towards its edges (with its
    # rulings) spreads over a range as wide as its difference from the paper.
    low, high = np.percentile(grey[near], [10, 90])
    if high - low > DESK_SPREAD * (paper_level - desk_level):
        return False
    # A sheet's edge is a step: from the paper just inside it (which the light may have
    # dimmed) to the desk, most of the difference is made within a few px of the edge.
    ring = np.ones((5, 5), np.uint8)
    edge = sheet & ~cv2.erode(sheet.view(np.uint8), ring).view(bool)
    # Found by its outline, a note is paper all along inside its edge, where a bold light
    # digit on a dark ground (its outline wrapped round the dark between its strokes) is not.
    if outlined and (edge & paper).sum() < OUTLINED_PAPER_EDGE * edge.sum():
        return False
    inside = edge & paper
    outside = cv2.dilate(sheet.view(np.uint8), ring).view(bool) & desk
    if not inside.any() or not outside.any():
        return False
    edge_level = float(np.median(grey[inside]))
    step = edge_level - float(np.median(grey[outside]))
    return step >= SHEET_STEP * (edge_level - desk_level)


def _round_the_edges(image: np.ndarray) -> np.ndarray:
    """The pixels along the picture's edges, in order round it (clockwise from the top left)."""
    return np.concatenate([image[0], image[1:, -1], image[-1, -2::-1], image[-2:0:-1, 0]])


def _longest_run(ring: np.ndarray) -> int:
    """The longest run of True in ``ring``, read round (its end joins its start)."""
    if ring.all():
        return len(ring)
    start = int(np.argmin(ring))  # begin at a False, so that no run is cut in two
    padded = np.concatenate([[False], np.roll(ring, -start), [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max(initial=0))


def _on_sheet(sheet: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The sheet (found on a thumbnail) at ``shape``, its edge and the shadow along it
    left out (a band as wide as a share of the sheet's side): 1.0 on the sheet, 0.0 beyond."""
    full = cv2.resize(sheet.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR) > 0.5
    _, _, width, height = cv2.boundingRect(full.view(np.uint8))
    edge = max(3, round(SHEET_EDGE * min(width, height))) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (edge, edge))
    return cv2.erode(full.view(np.uint8), kernel).astype(np.float32)


def _without_rulings(ink: np.ndarray) -> np.ndarray:
    """The ink map with the printed lines of lined or squared paper (or a form) taken out,
    except where a pen stroke crosses them: long, thin and straight from edge to edge, they
    would otherwise join the digit, or be read as part of it.

    Lines are found by a Hough transform limited to near-level and near-upright angles, then
    followed column by column (pages bend), and removed in a band as thick as they are."""
    height, width = ink.shape
    if min(height, width) < MIN_RULED_SIDE:
        return ink
    peak = float(cv2.blur(ink, (3, 3)).max())
    if peak < MIN_CONTRAST:
        return ink
    binary = cv2.threshold(ink, 0.12 * peak, 1, cv2.THRESH_BINARY)[1].astype(np.uint8)
    limit = RULING_THIN * min(height, width) + 1
    cleared, lines = ink, 0
    for upright in (False, True):
        rows = np.ascontiguousarray(binary.T) if upright else binary
        band, reach, level = _level_rulings(rows, limit, cleared.T if upright else cleared, upright)
        if band is None:
            continue
        lines += cv2.connectedComponents(band)[0] - 1
        # A stroke crossing a line has ink on both sides of it, and a stroke along a line is
        # darker than the line alone: those parts of the band stay.
        across = cv2.morphologyEx(rows & ~band, cv2.MORPH_CLOSE, np.ones((2 * reach + 3, 1), np.uint8))
        erase = (band & ~across).view(bool)
        erase = erase.T if upright else erase
        if cleared is ink:
            cleared = ink.copy()
        erase &= cleared < 1.4 * level
        cleared[erase] = 0
        binary[erase] = 0  # where the lines cross, the other pass finds no ink either side
    if lines == 1 and float(cv2.blur(cleared, (3, 3)).max()) < 0.5 * peak:
        return ink  # nothing written beside one line: the line was the writing (a tall "1")
    return cleared


def _level_rulings(
    binary: np.ndarray, limit: float, ink: np.ndarray, upright: bool = False
) -> tuple[np.ndarray | None, int, float]:
    """uint8 mask (1 = ruling) of the near-level rulings in ``binary``, their half
    thickness in px and the ink level along the darkest of them; (None, 0, 0) if none.
    ``upright``: ``binary`` is the picture turned, and a line alone must cross nearly all
    of it (a margin line) to be taken for print rather than a pen's tall "1"."""
    height, width = binary.shape
    # Only runs along a row vote: upright strokes, and most of a digit, drop out.
    level = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((1, max(8, width // 30)), np.uint8))
    if cv2.countNonZero(cv2.reduce(level, 0, cv2.REDUCE_MAX)) < RULING_SPAN * width:
        return None, 0, 0.0  # nothing level runs that far across: no line to look for
    if cv2.countNonZero(level) > MAX_RULED_SHARE * level.size:
        return None, 0, 0.0  # broad strokes filling the frame, not thin lines on a page
    tilt = math.radians(RULING_TILT)
    found = cv2.HoughLines(
        level,
        1,
        math.pi / 360,
        int(RULING_SPAN * width),
        min_theta=math.pi / 2 - tilt,
        max_theta=math.pi / 2 + tilt,
    )
    if found is None:
        return None, 0, 0.0
    xs = np.arange(0, width, 2)
    rho, theta = found.reshape(-1, 2)[:MAX_RULINGS].T
    guesses = np.round((rho[:, None] - xs * np.cos(theta)[:, None]) / np.sin(theta)[:, None]).astype(int)
    # A line votes once per row of its thickness (and per small tilt): one look is enough,
    # the strongest, so a candidate within 3 rows (at mid-width) of one looked at is not.
    middles, looked = guesses[:, len(xs) // 2], []
    for k, middle in enumerate(middles):
        if all(abs(middle - middles[j]) > 3 for j in looked):
            looked.append(k)
    guesses = guesses[looked]

    # Every candidate followed column by column at once: the level ink within 6 rows of it;
    # then again along the curve that fits what was found (a page that curls towards the
    # spine bends its lines away from any straight guess near that side).
    def near(guesses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ys = guesses[:, None, :] + np.arange(-6, 7)[:, None]
        return ys, np.where((ys >= 0) & (ys < height), level[np.clip(ys, 0, height - 1), xs], 0)

    u = (xs - width / 2) / width  # pages bend: a quadratic in u, fitted where the line is
    ys, hits = near(guesses)
    for _ in range(FOLLOW_PASSES - 1):
        again = np.flatnonzero(hits.any(1).mean(1) >= 0.3)
        if not len(again):
            break
        centres = (hits[again] * ys[again]).sum(1) / np.maximum(hits[again].sum(1), 1)
        fits = _quadratic_fits(u, centres, hits[again].any(1))
        guesses[again] = np.round(_quadratic(fits, u)).astype(int)
        ys[again], hits[again] = near(guesses[again])
    counts = hits.sum(1)
    present = counts > 0
    along = present.mean(1) >= RULING_SPAN  # there along most of its length
    guesses, hits, ys, counts, present = (a[along] for a in (guesses, hits, ys, counts, present))
    if not len(guesses):
        return None, 0, 0.0
    thickness = _lower_quartiles(counts, present)
    centres = (hits * ys).sum(1) / np.maximum(counts, 1)
    fits = _quadratic_fits(u, centres, present)
    close = present & (np.abs(_quadratic(fits, u) - centres) <= np.maximum(1.5, thickness)[:, None])
    straight = close.sum(1) >= 0.6 * present.sum(1)
    fits = _quadratic_fits(u, centres, close | ~straight[:, None])  # (the others are dropped)
    halves = np.ceil(thickness / 2 + 1).astype(int)
    lines = _quadratic(fits, u)
    on = np.clip(np.round(lines).astype(int), 0, height - 1)
    # Paper on both sides along most of it: not the edge of a broad stroke.
    above = binary[np.clip(on - halves[:, None] - 2, 0, height - 1), xs]
    below = binary[np.clip(on + halves[:, None] + 2, 0, height - 1), xs]
    paper = ((above == 0) & (below == 0)).mean(1) >= 0.6

    band = np.zeros_like(binary)
    reach, darkest = 0, 0.0
    accepted = np.flatnonzero((thickness <= limit) & straight & paper)
    if upright and len(accepted) == 1 and present[accepted[0]].mean() < LONE_RULING_SPAN:
        return None, 0, 0.0  # one upright line alone, not across the whole page: a pen's "1"
    for k in accepted:
        if band[np.clip(guesses[k], 0, height - 1), xs].mean() > 0.5:
            continue  # a line already taken
        darkest = max(darkest, float(np.median(ink[on[k], xs])))
        points = np.stack([xs, lines[k]], 1)
        cv2.polylines(
            band, [np.round(points * 16).astype(np.int32)], False, 1, 2 * int(halves[k]), cv2.LINE_8, 4
        )
        reach = max(reach, int(halves[k]))
    return (band, reach, darkest) if reach else (None, 0, 0.0)


def _lower_quartiles(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Per row, the 25th percentile (numpy's linear method) of ``values`` where ``where``."""
    n = where.sum(1)
    ranked = np.sort(np.where(where, values, np.iinfo(values.dtype).max), axis=1)
    position = 0.25 * (n - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, n - 1)
    rows = np.arange(len(values))
    below, above = ranked[rows, low].astype(float), ranked[rows, high].astype(float)
    return below + (above - below) * (position - low)


def _quadratic_fits(u: np.ndarray, y: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Least-squares quadratics, one per row of ``y``, through the points ``where``: (K, 3)."""
    basis = np.stack([np.ones_like(u), u, u * u], 1)
    weights = where.astype(float)
    normal = np.einsum("xi,kx,xj->kij", basis, weights, basis)
    return np.linalg.solve(normal, np.einsum("xi,kx->ki", basis, weights * y)[..., None])[..., 0]


def _quadratic(fits: np.ndarray, u: np.ndarray) -> np.ndarray:
    return fits[:, :1] + fits[:, 1:2] * u + fits[:, 2:] * u * u


def find_ink(ink: np.ndarray, drawn: bool = False) -> Ink:
    """Threshold the ink map, keep the components that make up digits, refuse non-digits.
    ``drawn``: strokes on a transparent canvas, where nothing at the edge is clutter."""
    peak = float(cv2.blur(ink, (3, 3)).max())  # the strongest ink, ignoring lone pixels
    faint = peak < MIN_CONTRAST
    if faint:
        ink = np.clip(ink - _uneven_background(ink, faint=True), 0, None)
        blurred = cv2.blur(ink, (3, 3))
        peak = float(blurred.max())
        if not _faint_ink(blurred, peak):
            raise NoDigitFound("The image is blank: no ink or pen strokes were found.")
    ink = _reduce(ink, peak)
    scaled = np.clip(ink * (255.0 / peak), 0, 255).astype(np.uint8)
    sigma = max(0.8, min(ink.shape) / 200)
    smooth = cv2.GaussianBlur(scaled, (0, 0), sigma)
    threshold, mask = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count < 2:
        raise NoDigitFound("The image is blank: no ink or pen strokes were found.")
    # A form's print: its boxes, even where the writing touches them; or, once its long lines
    # are gone as rulings, the walls between its boxes or the ticks of a comb field.
    form_print = _without_frames(mask, labels, stats)
    if form_print is None:
        form_print = _without_walls(mask, labels, stats)
    if form_print is not None:
        # What was print is paper now, also for the check on how clearly ink stands out.
        smooth[_grow(_grow(form_print))] = 0
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if count < 2:
            raise NoDigitFound("The image is blank: no ink or pen strokes were found.")
    areas = stats[1:, cv2.CC_STAT_AREA]
    ids = [i + 1 for i in np.flatnonzero(areas >= SPECK_FRACTION * areas.max())]
    height, width = mask.shape
    margin = max(1, round(BORDER_MARGIN * min(height, width)))

    def clutter(i: int) -> bool:
        """Frame lines, paper edges and shadows: at the border, or a thin box round it all."""
        x, y, w, h, area = stats[i]
        at_border = x < margin or y < margin or x + w > width - margin or y + h > height - margin
        frame = w >= 0.85 * width and h >= 0.85 * height and area < 0.15 * w * h
        return (at_border and not drawn) or frame

    # The print of a form is not ink: a thin box whose closed lines surround other ink, or
    # level and upright lines round it (what the rulings left of a row of boxes).
    # (Its long lines are taken out with a paper's rulings; dropping any piece many times
    # wider than tall left bits of a page's lines round a speck, read as a sure "1".)
    centres = {i: (stats[i, 0] + stats[i, 2] / 2, stats[i, 1] + stats[i, 3] / 2) for i in ids}

    def printed(i: int) -> bool:
        x, y, w, h, area = stats[i]
        inner = [
            (cx - x, cy - y)
            for j, (cx, cy) in centres.items()
            if j != i and x < cx < x + w and y < cy < y + h
        ]
        if not inner or area >= FORM_BOX_FILL * w * h:
            return False
        piece = labels[y : y + h, x : x + w] == i
        # Square-cornered, as print is: the outline of an outlined "8" encloses the outlines
        # of its loops too, but does not run along its bounding box.
        rectangular = min(_along_sides(piece, max(2, round(2 * FRAME_BAND * min(w, h))))) >= 0.75
        return (rectangular and _encloses(piece, inner)) or _ruled(piece)

    written = [i for i in ids if not printed(i)]
    if written and len(written) < len(ids):
        largest = max(areas[i - 1] for i in written)
        ids = [i for i in written if areas[i - 1] >= SPECK_FRACTION * largest]
    if not drawn:  # print is on paper
        ids = _without_words_beside(stats, ids)

    def neighbour(i: int, inside: list[int]) -> bool:
        """A digit drawn up to the edge beside the others (a number across a phone's
        canvas): about as tall as they are, not a line along a whole side, in their row
        (level with them for most of its height) and next to the nearest of them. What the
        rulings leave of a line of squared paper cut by the picture's corner is taller, or
        off the row, or apart."""
        x, y, w, h, _ = stats[i]
        tallest = max(stats[j][3] for j in inside)
        top = min(stats[j][1] for j in inside)
        bottom = max(stats[j][1] + stats[j][3] for j in inside)
        gap = min(max(stats[j][0] - (x + w), x - (stats[j][0] + stats[j][2]), 0) for j in inside)
        return (
            NEIGHBOUR * tallest <= h <= NEIGHBOUR_TALLEST * tallest
            and h < 0.85 * height
            and w < 0.85 * width
            and min(y + h, bottom) - max(y, top) >= 0.5 * h
            and gap <= tallest
        )

    def edge_strip(i: int) -> bool:
        """A thin strip along one of the picture's edges, touching it nearly all along: the
        desk (or a page beneath) in a wedge where the page is turned, not a stroke (which
        crosses an edge where it is cut), nor a bar of a digit cut close (as thick as a
        stroke, a tenth of the digit at least)."""
        x, y, w, h, _ = stats[i]
        if (x == 0 or y == 0 or x + w == width or y + h == height) and (
            w <= EDGE_STRIP * width and h <= EDGE_STRIP * height
        ):
            return True  # or a speck of it at a corner
        for touches, along, thick, side, line in (
            (y == 0, w, h, height, labels[0, x : x + w]),
            (y + h == height, w, h, height, labels[-1, x : x + w]),
            (x == 0, h, w, width, labels[y : y + h, 0]),
            (x + w == width, h, w, width, labels[y : y + h, -1]),
        ):
            if (
                touches
                and thick <= EDGE_STRIP * side
                and along >= 4 * thick
                and (line == i).sum() >= 0.5 * along
            ):
                return True
        return False

    if not drawn:
        ids = [i for i in ids if not edge_strip(i)]
        if not ids:
            raise NoDigitFound("The image is blank: no ink or pen strokes were found.")
    inside = [i for i in ids if not clutter(i)]
    # Digits of a number inside: the one at the edge is its last (not under faint ink, where
    # what reaches the edge is what is left of a shadow).
    if len(inside) >= 2 and not faint:
        inside += [i for i in ids if clutter(i) and neighbour(i, inside)]
    if faint and not inside:
        # What faint ink there is lies along the edges: what is left of a shadow, not a digit.
        raise NoDigitFound("The image is blank: no ink or pen strokes were found.")
    if inside and (faint or sum(areas[i - 1] for i in inside) >= 0.2 * max(areas[i - 1] for i in ids)):
        largest = max(areas[i - 1] for i in inside)
        ids = [i for i in inside if areas[i - 1] >= SPECK_FRACTION * largest]
    kept_mask = _select(labels, ids, count)
    x, y, w, h = cv2.boundingRect(kept_mask.astype(np.uint8))
    # Strokes are clearly apart from the paper around them; noise and texture are not. At
    # the threshold that parts them best there: the picture's own is pulled down by what
    # lies elsewhere (a desk at the corners of a page turned askew).
    margin_x, margin_y = w // 10 + 2, h // 10 + 2
    around = smooth[max(0, y - margin_y) : y + h + margin_y, max(0, x - margin_x) : x + w + margin_x]
    parting, _ = cv2.threshold(around, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    kept_areas = sorted((areas[i - 1] for i in ids), reverse=True)
    scattered = len(ids) > 8 and kept_areas[0] < 0.3 * sum(kept_areas) and not _in_a_row(stats, ids)
    if scattered or len(ids) > MAX_PIECES or _separation(around, parting) < MIN_SEPARATION:
        raise NoDigitFound("No clear pen strokes were found: the image looks like noise or texture.")
    stroke = max(stroke_width(kept_mask), 1.0)
    length_in_strokes = max(w, h) / stroke
    small = h < SMALL_DIGIT * mask.shape[0] and w < SMALL_DIGIT * mask.shape[1]
    broad_brush = stroke > BROAD_BRUSH * min(mask.shape)
    # A crop cut to the ink (a form scanner's, a phone crop) is read whatever its strokes:
    # whoever cut it that close meant the digit in it.
    cut_to_the_ink = w >= 0.9 * mask.shape[1] or h >= 0.9 * mask.shape[0]
    blob = length_in_strokes < MIN_DIGIT_TO_STROKE and not cut_to_the_ink
    # Drawn small with the canvas's broad brush, loops close and strokes merge into a blob
    # no one can read (a small digit written with a pen on a page is fine).
    small_blob = small and broad_brush and drawn and length_in_strokes < MIN_SMALL_DIGIT_TO_STROKE
    if blob or small_blob:
        if small:
            raise NoDigitFound(
                "The digit is too small to read: write it bigger (or crop the picture closer to it)."
            )
        raise NoDigitFound("Only a dot or a blob was found, not a digit.")

    floor = threshold * 0.3
    soft = np.clip((scaled.astype(np.float32) - floor) / (255.0 - floor), 0, 1)
    near_kept = _grow(kept_mask)
    return Ink(
        image=soft * near_kept,
        mask=near_kept,
        labels=labels,
        kept=tuple(int(i) for i in ids),
        boxes={int(i): tuple(int(v) for v in stats[i, :4]) for i in ids},
        areas={int(i): int(areas[i - 1]) for i in ids},
        stroke=stroke,
        broad_brush=bool(broad_brush),
    )


def _in_a_row(stats: np.ndarray, ids: list[int]) -> bool:
    """The pieces are written along one line, or two or three (a number that wrapped), as
    the digits of a long number are (a phone number, an id): in each line the middles of
    nearly all of them within half a digit's height of the line through them, the taller
    ones of about one height. Noise and texture are spread over the image at every height."""
    tall = float(np.median(stats[ids, 3]))
    ordered = sorted(ids, key=lambda i: stats[i, 1] + stats[i, 3] / 2)
    middles = [stats[i, 1] + stats[i, 3] / 2 for i in ordered]
    breaks = [k for k in range(1, len(ordered)) if middles[k] - middles[k - 1] > tall]
    lines = [ordered[a:b] for a, b in zip([0, *breaks], [*breaks, len(ordered)])]
    return len(lines) <= 3 and all(len(line) >= 2 and _along_a_line(stats, line, tall) for line in lines)


def _along_a_line(stats: np.ndarray, ids: list[int], tall: float) -> bool:
    tops, heights = stats[ids, 1].astype(np.float32), stats[ids, 3].astype(np.float32)
    middles, xs = tops + heights / 2, stats[ids, 0] + stats[ids, 2] / 2
    slope, offset = np.polyfit(xs, middles, 1)  # a line written a little up or down hill
    on_line = np.abs(middles - (slope * xs + offset)) <= 0.5 * tall
    big = heights >= 0.5 * tall
    return bool(on_line.mean() >= ROW_SHARE and (heights[big] <= 2 * tall).all() and abs(slope) < 0.3)


def _without_words_beside(stats: np.ndarray, ids: list[int]) -> list[int]:
    """``ids`` without a line of small print beside the writing (a form's label, "Number
    of children:" left of its box): pieces (letters, or words run together) along one line,
    each at most ``LABEL_HEIGHT`` of the tallest piece's height, several of them or together
    as wide as ``LABEL_SPAN`` of its height, left or right of all the taller pieces, clear
    of them by ``LABEL_GAP`` of its height (the two strokes of a "4" nearly meet).
    Read with the digit, the label squeezed it into a corner of the 28x28. Small parts of a
    digit (a "5"'s bar) lie above or below its body, not beside it."""
    tallest = max(stats[i, 3] for i in ids)
    big = [i for i in ids if stats[i, 3] > LABEL_HEIGHT * tallest]
    if not big:
        return ids
    gap = LABEL_GAP * tallest
    start = min(stats[i, 0] for i in big) - gap
    end = max(stats[i, 0] + stats[i, 2] for i in big) + gap
    for side in (
        [i for i in ids if i not in big and stats[i, 0] + stats[i, 2] <= start],
        [i for i in ids if i not in big and stats[i, 0] >= end],
    ):
        if not side:
            continue
        span = max(stats[i, 0] + stats[i, 2] for i in side) - min(stats[i, 0] for i in side)
        words = len(side) >= LABEL_PIECES or span >= LABEL_SPAN * tallest
        if words and (len(side) == 1 or _along_a_line(stats, side, float(np.median(stats[side, 3])))):
            ids = [i for i in ids if i not in side]
    return ids


def _without_frames(mask: np.ndarray, labels: np.ndarray, stats: np.ndarray) -> np.ndarray | None:
    """Take the printed boxes of a form out of ``mask`` (in place); the pixels taken out
    (a bool mask), None if there were no boxes.

    A box is a thin piece whose four sides run along its bounding box (within a band), with
    writing inside: the digit may touch or cross the box, so the two are one piece, and
    only the band along the sides is taken out. A comb field is such a box open at the top.
    In a row of boxes, the walls between them (no wider than the band, as tall as the box)
    go too, and in a comb its ticks (standing on its floor). A scan a few degrees askew is
    looked at turned level (a long row of boxes leaves any band that is fixed to its frame)."""
    before = None
    for i in range(1, len(stats)):
        x, y, w, h, area = stats[i]
        if min(w, h) < MIN_FRAME_SIDE or w < FRAME_ASPECT * h or area >= FRAME_FILL * w * h:
            continue  # (a narrow "0" is not a box)
        piece = labels[y : y + h, x : x + w] == i
        # Along its bottom and both sides, allowing for MAX_FORM_SKEW (cheap: most pieces
        # are digits, which are not looked at further).
        band = max(2, round(FRAME_BAND * min(w, h)))
        slack = math.tan(math.radians(MAX_FORM_SKEW))
        along_w, along_h = band + math.ceil(slack * w), band + math.ceil(slack * h)
        if min(_along_sides(piece, along_w, along_h)[1:]) < FRAME_SIDES:  # (a comb has no top)
            continue
        region = mask[y : y + h, x : x + w] > 0
        angle = _skew(piece)
        removed = _box_print(piece, region) if abs(angle) < 0.3 else _askew_box_print(piece, region, angle)
        if removed is None:
            continue
        if before is None:
            before = mask.copy()
        mask[y : y + h, x : x + w][removed] = 0
    return None if before is None else before > mask


def _skew(piece: np.ndarray) -> float:
    """Degrees that the bool mask ``piece`` (a box or a row of boxes) is turned by, from
    its bottom line (and its top line, where that agrees: a comb has none): > 0 when the
    lines fall to the right."""
    h, w = piece.shape
    columns = np.flatnonzero(piece.any(0))
    if len(columns) < 0.8 * w:
        return 0.0
    angles = []
    for edge in (h - 1 - np.argmax(piece[::-1, columns], 0), np.argmax(piece[:, columns], 0)):
        fit = np.polyfit(columns, edge, 1)
        close = np.abs(np.polyval(fit, columns) - edge) <= 2
        if close.mean() < 0.5:
            break
        fit = np.polyfit(columns[close], edge[close], 1)
        angles.append(math.degrees(math.atan(fit[0])))
    if not angles or abs(angles[0]) > MAX_FORM_SKEW:
        return 0.0
    return float(np.mean(angles)) if len(angles) == 2 and abs(angles[1] - angles[0]) < 1.0 else angles[0]


def _askew_box_print(piece: np.ndarray, region: np.ndarray, angle: float) -> np.ndarray | None:
    """_box_print for a box turned by ``angle`` degrees: looked at turned level, in its own
    level frame, and what is print turned back (grown by a pixel for the rounding)."""
    h, w = piece.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    levelled, level_region = (
        cv2.warpAffine(m.view(np.uint8), turn, (w, h), flags=cv2.INTER_NEAREST) for m in (piece, region)
    )
    x, y, bw, bh = cv2.boundingRect(levelled)
    inside = (slice(y, y + bh), slice(x, x + bw))
    found = _box_print(levelled[inside].view(bool), level_region[inside].view(bool))
    if found is None:
        return None
    removed = np.zeros((h, w), np.uint8)
    removed[inside] = found
    removed = cv2.warpAffine(removed, cv2.invertAffineTransform(turn), (w, h), flags=cv2.INTER_NEAREST)
    return cv2.dilate(removed, np.ones((3, 3), np.uint8)).view(bool) & piece


def _box_print(piece: np.ndarray, region: np.ndarray) -> np.ndarray | None:
    """If the bool mask ``piece`` (a level box, row of boxes or comb field, maybe with the
    writing that touches it) is a form's print, the part of it to take out of ``region``
    (the mask's pixels in its frame): the band along its sides and the walls or ticks
    inside; None otherwise."""
    h, w = piece.shape
    band = max(2, round(FRAME_BAND * min(w, h)))
    top, *others = (side >= FRAME_SIDES for side in _along_sides(piece, band))
    # Square corners, as print has: a round "0" drawn with a broad pen reaches along
    # its frame's sides too, but not into its corners.
    bottom_corners = piece[-band:, :band].any() and piece[-band:, -band:].any()
    top_corners = piece[:band, :band].any() and piece[:band, -band:].any()
    if not (all(others) and bottom_corners and (top_corners or not top)):
        return None
    comb = not top  # a comb field: open at the top
    inner = (slice(0 if comb else band, h - band), slice(band, w - band))
    middle = (slice(0 if comb else 2 * band, h - 2 * band), slice(2 * band, w - 2 * band))
    if not region[middle].any():
        # An empty box; or a square drawn alone, whose broad stroke reaches past the band
        # but not into the middle: left to be read (or refused), not taken for a form.
        return None
    kept = region & ~piece
    kept[inner] = region[inner]
    if comb or w >= 1.5 * h:  # a row of boxes, a comb: the walls or ticks between
        _drop_walls(kept[inner], piece[inner], band)
    return region & ~kept


def _ruled(piece: np.ndarray) -> bool:
    """Whether the bool mask ``piece`` is made of straight level and upright lines, each
    across a good part of it, as what is left of a form's print once its long lines went
    as a page's rulings: nearly all of it within a couple of px of such lines (found with
    a probabilistic Hough transform, so a scan a few degrees askew is fine). A rounded
    outline (of an outlined "8") has no such lines."""
    h, w = piece.shape
    found = cv2.HoughLinesP(
        piece.view(np.uint8), 1, np.pi / 180, 20, minLineLength=RULED_RUN * min(w, h), maxLineGap=3
    )
    if found is None:
        return False
    lines = np.zeros((h, w), np.uint8)
    for x1, y1, x2, y2 in found.reshape(-1, 4):
        if min(abs(x2 - x1), abs(y2 - y1)) <= math.tan(math.radians(RULING_TILT)) * max(
            abs(x2 - x1), abs(y2 - y1)
        ):
            cv2.line(lines, (int(x1), int(y1)), (int(x2), int(y2)), 1, 5)  # level or upright
    on_lines = cv2.countNonZero(lines & piece.view(np.uint8))
    return on_lines >= 0.9 * cv2.countNonZero(piece.view(np.uint8))


def _along_sides(piece: np.ndarray, band: int, upright_band: int | None = None) -> tuple[float, ...]:
    """How much of each side (top, bottom, left, right) of the bool mask ``piece``'s frame
    has some of it within ``band`` px (``upright_band`` px for the left and right, if given)."""
    across = upright_band or band
    return tuple(
        float(side.mean())
        for side in (
            piece[:band].any(0),
            piece[-band:].any(0),
            piece[:, :across].any(1),
            piece[:, -across:].any(1),
        )
    )


def _drop_walls(inner: np.ndarray, piece: np.ndarray, band: int) -> None:
    """Within a row of boxes or a comb (``inner``: its inside, a view; ``piece``: the print's
    own pixels there), clear the upright walls and ticks: parts of the print no wider than
    the band, as tall as the inside or standing on its floor."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((inner & piece).view(np.uint8), connectivity=8)
    height = inner.shape[0]
    for k in range(1, count):
        x, y, w, h, _ = stats[k]
        if w <= 2 * band and (h >= 0.85 * height or y + h >= height - 1):
            inner[y : y + h, x : x + w][labels[y : y + h, x : x + w] == k] = 0


def _without_walls(mask: np.ndarray, labels: np.ndarray, stats: np.ndarray) -> np.ndarray | None:
    """Take out of ``mask`` (in place) the walls of a row of boxes or the ticks of a comb
    field, once the form's long lines are gone as rulings; the pixels taken out, or None.

    Walls are thin upright straight lines, parallel, standing on one line (a skewed scan
    tilts it) and evenly spaced, as only print is, at least three of them, finer than the
    pen's strokes, with writing in every space between them and none outside. A wall that
    the writing touches is part of a digit's piece: where the spacing says one is missing,
    a thin band is cleared along where it stands."""
    upright = []
    for i in range(1, len(stats)):  # short ticks too, small enough to be dropped as specks
        x, y, w, h, _ = stats[i]
        if h < MIN_WALL or w > WALL_WIDTH * h + 2:
            continue
        rows, cols = np.nonzero(labels[y : y + h, x : x + w] == i)
        counts = np.bincount(rows, minlength=h)
        if counts.min() == 0:
            continue  # broken
        middles = np.bincount(rows, cols, minlength=h) / counts  # the line's middle, row by row
        slope, offset = np.polyfit(np.arange(h), middles, 1)
        if np.abs(middles - (slope * np.arange(h) + offset)).max() > 1.0 + 0.02 * h:
            continue  # not straight
        upright.append((x + offset + slope * h / 2, y + h, h, w, slope, i))
    chosen = _wall_row(sorted(upright), labels, stats)
    if chosen is None:
        return None
    xs, bottoms, heights, widths, slopes, found = (np.array(v) for v in zip(*chosen))
    step = float(np.median(np.diff(xs)))
    slots = np.round((xs - xs[0]) / step).astype(int)
    line = np.polyfit(xs, bottoms, 1)
    walls = set(found.tolist())

    before = mask.copy()
    mask[_select(labels, walls)] = 0
    # A wall the writing touched: cleared along the line it would stand on.
    height, thick, slope = float(np.median(heights)), int(np.median(widths)) + 2, float(np.median(slopes))
    for k in sorted(set(range(slots[-1] + 1)) - set(slots.tolist())):
        centre = xs[0] + k * step
        bottom = np.polyval(line, centre)
        ys = np.arange(max(0, int(bottom - height)), min(mask.shape[0], int(bottom) + 1))
        for dx in range(-(thick // 2), thick - thick // 2):
            cs = np.round(centre + slope * (ys - (bottom - height / 2)) + dx).astype(int)
            inside = (cs >= 0) & (cs < mask.shape[1])
            mask[ys[inside], cs[inside]] = 0
    return before > mask


def _wall_row(upright: list[tuple], labels: np.ndarray, stats: np.ndarray) -> list[tuple] | None:
    """Of the thin upright pieces ``upright`` (x of the middle, bottom, height, width, slope,
    id; sorted by x), the walls of a row of boxes or the ticks of a comb, or None: the
    largest set of them that stands evenly spaced (a "1" written in a box is upright too,
    but off the walls' spacing), on one line, parallel, with writing in every space
    between them and none outside, and finer than the writing's strokes."""
    if len(upright) < 3:
        return None
    xs = np.array([u[0] for u in upright])
    candidates = set()
    for a in range(len(xs)):  # each pair of uprights proposes a spacing (and where the row starts)
        for b in range(a + 1, len(xs)):
            step = xs[b] - xs[a]
            if step < MIN_WALL:
                continue
            offsets = (xs - xs[a]) / step
            on = np.flatnonzero(np.abs(offsets - np.round(offsets)) * step <= WALL_SPACING * step)
            if len(on) >= 3:
                candidates.add(tuple(on.tolist()))
    for members in sorted(candidates, key=lambda m: (-len(m), m)):
        row = [upright[k] for k in members]
        if _is_wall_row(row, labels, stats):
            return row
    return None


def _is_wall_row(row: list[tuple], labels: np.ndarray, stats: np.ndarray) -> bool:
    """Whether the upright pieces ``row`` (as for _wall_row) are a form's walls or ticks."""
    xs, bottoms, heights, _, slopes, found = (np.array(v) for v in zip(*row))
    step = float(np.median(np.diff(xs)))
    slots = np.round((xs - xs[0]) / max(step, 1.0)).astype(int)
    line = np.polyfit(xs, bottoms, 1)
    if (
        step < MIN_WALL
        or np.abs(xs - xs[0] - slots * step).max() > WALL_SPACING * step
        or len(set(slots.tolist())) < len(slots)
        or np.ptp(bottoms - np.polyval(line, xs)) > 0.05 * heights.max() + 2
        or np.ptp(np.degrees(np.arctan(slopes[heights >= heights.max() / 2]))) > 2.0
    ):  # (the slope of a comb's short ticks is too rough to compare)
        return False
    walls = set(found.tolist())
    areas = {i: stats[i, cv2.CC_STAT_AREA] for i in range(1, len(stats)) if i not in walls}
    largest = max(areas.values(), default=0)
    writing = [i for i, area in areas.items() if area >= SPECK_FRACTION * largest]
    if not writing:
        return False
    centres = np.array([stats[i, 0] + stats[i, 2] / 2 for i in writing])
    spaces = np.floor((centres - xs[0]) / step).astype(int)
    if spaces.min() < 0 or spaces.max() >= slots[-1] or len(set(spaces.tolist())) < slots[-1]:
        return False  # writing outside the row, or a space with nothing written in it
    # Print is finer than the pen: ones written evenly between the digits of a number are
    # as broad as the pen's other strokes.
    return stroke_width(_select(labels, walls)) <= WALL_STROKE * stroke_width(_select(labels, writing))


def _encloses(piece: np.ndarray, points: list[tuple[float, float]]) -> bool:
    """Whether the closed lines of ``piece`` (a bool mask) surround any of ``points``
    (x, y in its frame): a box round other ink, not a stroke reaching over it."""
    holes = _enclosed_paper(piece)
    return any(holes[int(y), int(x)] for x, y in points)


def _enclosed_paper(mask: np.ndarray) -> np.ndarray:
    """uint8 (1 = yes): the paper that the ink of the bool ``mask`` closes in, i.e. not
    reached by flooding the paper from outside its frame."""
    paper = cv2.copyMakeBorder((~mask).view(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=1)
    cv2.floodFill(paper, None, (0, 0), 0)
    return np.ascontiguousarray(paper[1:-1, 1:-1])


def _faint_ink(blurred: np.ndarray, peak: float) -> bool:
    """Whether ink fainter than MIN_CONTRAST (pencil, a faint ballpoint, a hazy photo)
    stands clearly out of the picture's noise: FAINT_INK_TO_NOISE times the spread of the
    (3x3-averaged) ink map's background, where noise alone reaches about 5."""
    if peak < MIN_FAINT_CONTRAST:
        return False
    sample = blurred[:: max(1, blurred.shape[0] // 128), :: max(1, blurred.shape[1] // 128)]
    middle = float(np.median(sample))
    noise = 1.4826 * float(np.median(np.abs(sample - middle)))
    return peak - middle >= FAINT_INK_TO_NOISE * max(noise, 0.5)


def to_28x28(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Crop ``ink`` to ``mask``, fit the longest side to 20 px, centre by mass in 28x28."""
    ink = ink * mask
    x, y, w, h = cv2.boundingRect((ink > 0).astype(np.uint8))
    if w == 0 or h == 0:
        raise NoDigitFound("The image is blank: no ink or pen strokes were found.")
    digit, mask = ink[y : y + h, x : x + w], mask[y : y + h, x : x + w]

    relative = stroke_width(mask) / max(w, h)
    if relative < THIN_STROKE:
        # Thin pen strokes would fade to faint lines at 20 px: thicken them first.
        grow = int(round((TARGET_STROKE - relative) * max(w, h)))
        if grow >= 2:
            digit = np.pad(digit, grow)
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow + 1, grow + 1))
            digit = cv2.dilate(digit, kernel)
            h, w = digit.shape

    scale = 20.0 / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(digit.astype(np.float32), size, interpolation=interpolation)
    if small.max() > 0:
        small /= small.max()

    # Place the digit so its centre of mass sits at the centre, kept inside the frame. The
    # moments are summed with numpy: cv2.moments reads an array one or two pixels wide (a
    # straight "1") as a list of points, not as an image, and returns nonsense for it.
    cx, cy = centre_of_mass(small)
    left = min(max(math.floor(14.5 - cx), 0), 28 - size[0])
    top = min(max(math.floor(14.5 - cy), 0), 28 - size[1])
    out = np.zeros((28, 28), np.float32)
    out[top : top + size[1], left : left + size[0]] = small
    return np.clip(out, 0, 1, out=out)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(x, y) of the centre of mass of a grey image, in pixel indices (as cv2.moments would
    give for any image at least three pixels wide)."""
    total = float(image.sum())
    if total <= 0:
        return image.shape[1] / 2, image.shape[0] / 2
    x = float(image.sum(axis=0) @ np.arange(image.shape[1])) / total
    y = float(image.sum(axis=1) @ np.arange(image.shape[0])) / total
    return x, y


def _reduce(ink: np.ndarray, peak: float) -> np.ndarray:
    """Shrink the ink map by a whole factor so the ink is about WORK_HEIGHT px tall: 3-4x
    MNIST's detail is plenty, every later step gets cheaper with the square of the factor,
    and averaging whole blocks of pixels is many times faster than a fractional resize."""
    # Measured away from the edges, where frames and paper borders would inflate it.
    margin = max(1, round(BORDER_MARGIN * min(ink.shape)))
    inner = ink[margin:-margin, margin:-margin] if min(ink.shape) > 4 * margin else ink
    strong = cv2.threshold(inner, 0.3 * peak, 1, cv2.THRESH_BINARY)[1].astype(np.uint8)
    factor = round(cv2.boundingRect(strong)[3] / WORK_HEIGHT)
    if factor < 2:
        return ink
    rows, cols = ink.shape[0] // factor, ink.shape[1] // factor
    if rows == 0 or cols == 0:
        return ink
    block = ink[: rows * factor, : cols * factor]  # at most factor - 1 edge pixels dropped
    return cv2.resize(block, (cols, rows), interpolation=cv2.INTER_AREA)


def stroke_width(mask: np.ndarray) -> float:
    """Average stroke width of a binary mask: area / half its outline length."""
    mask = mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8)
    area = cv2.countNonZero(mask)
    if area == 0:
        return 0.0
    outline = area - cv2.countNonZero(cv2.erode(mask, np.ones((3, 3), np.uint8)))
    return 2.0 * area / max(outline, 1)


def _ink_from_alpha(rgba: np.ndarray, channels: list[np.ndarray]) -> np.ndarray | None:
    """Strokes on a transparent canvas: ink = opacity x contrast with the stroke colour.

    Only when the opaque pixels are a minority (strokes, not a card with clear corners);
    otherwise None, and the image is composited and read like any other.
    """
    red, green, blue, alpha = channels
    share = cv2.countNonZero(cv2.threshold(alpha, 127, 1, cv2.THRESH_BINARY)[1]) / alpha.size
    if share > 0.5:
        return None
    if share == 0.0:
        return np.zeros(alpha.shape, np.float32)  # fully transparent: blank
    # The stroke colour, from every 4th pixel (all of them when the strokes are that thin).
    sample = rgba[::4, ::4].reshape(-1, 4)
    opaque = sample[sample[:, 3] > 127]
    if len(opaque) == 0:
        opaque = rgba[alpha > 127]
    r, g, b = opaque[:, :3].mean(axis=0)
    if 0.299 * r + 0.587 * g + 0.114 * b < 128:  # dark strokes: contrast against white
        contrast = 255 - cv2.min(cv2.min(red, green), blue)
    else:  # light strokes: contrast against black
        contrast = cv2.max(cv2.max(red, green), blue)
    return cv2.multiply(alpha, contrast, scale=1 / 255, dtype=cv2.CV_32F)


def _ink_sign(grey: np.ndarray) -> float:
    """+1 if the ink is darker than the paper, -1 if lighter.

    The paper is what the border ring shows most of: a digit that fills the frame (a bold
    marker, a tight crop) can be most of the image, but rarely most of its edge. The ring
    decides when its level is clearly at one end of the image's range; when it sits in the
    middle (a photo whose corners are darkened by uneven light), the image's median does,
    since ink is then a small part of the picture."""
    low, median, high = np.percentile(grey, [1, 50, 99])
    if high - low > 0:
        ring_low, ring_level, ring_high = np.percentile(_border_ring(grey), [10, 50, 90])
        at = (float(ring_level) - low) / (high - low)
        if at >= 0.75:
            return 1.0
        # A shadow across part of a photo darkens part of the ring: a dark ring that is
        # uneven is no evidence of light ink where the strokes themselves are clearly
        # dark lines. (Only this way: between the fat strokes of a bold digit cut close,
        # the paper makes thin light lines; and not in small images such as a 28x28,
        # whose haze makes thin dark gaps.)
        uneven = ring_high - ring_low > UNEVEN_RING * (high - low)
        if at <= 0.5 and uneven and min(grey.shape) >= MIN_RULED_SIDE and _thin_strokes_sign(grey) > 0:
            return 1.0
        if at <= 0.25:
            return -1.0
    return 1.0 if median - low >= high - median else -1.0


def _thin_strokes_sign(grey: np.ndarray) -> float:
    """+1 where thin dark lines stand out clearly more than thin light ones (dark ink),
    -1 for the reverse, 0 when they do not: a black-hat and a top-hat wider than a stroke
    of a photo's thumbnail find each, and shadows and light, broader, are in neither."""
    size = max(3, min(grey.shape) // 8) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    dark = float(np.percentile(cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel), 99.5))
    light = float(np.percentile(cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, kernel), 99.5))
    if dark > THIN_DOMINANCE * light:
        return 1.0
    if light > THIN_DOMINANCE * dark:
        return -1.0
    return 0.0


def _border_ring(sample: np.ndarray) -> np.ndarray:
    """The pixels of the outermost rows and columns (about 1/16 of each side), flattened:
    (N,) for grey, (N, channels) for colour."""
    h, w = sample.shape[:2]
    d = max(1, min(h, w) // 16)
    parts = [sample[:d], sample[-d:], sample[d:-d, :d], sample[d:-d, -d:]]
    flat = [p.reshape(-1, *sample.shape[2:]) for p in parts]
    return np.concatenate(flat)


def _flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    """Composite onto the background that contrasts with the opaque pixels."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32)
    opaque = alpha[..., 0] > 0.5
    luma = rgb[opaque] @ LUMA
    background = 255.0 if luma.mean() < 128 else 0.0  # dark strokes go on white
    return (rgb * alpha + background * (1 - alpha)).astype(np.uint8)


def _uneven_background(
    signed: np.ndarray, faint: bool = False, beyond: np.ndarray | None = None
) -> np.ndarray:
    """Slowly varying background level (shadows, light gradients), or 0 where there is none.

    A grey opening wider than any stroke removes the strokes and keeps the light; it is
    done on a ~64 px thumbnail for speed. Whether there is uneven light at all is decided
    with an opening half the image wide, which also removes the blobs where fat strokes
    meet: only a background that still covers much of the image counts, since a large blob
    of ink is not lighting. The level itself comes from a finer opening (a quarter).
    ``beyond`` (bool, where it is not paper: the desk round a sheet) is filled in from the
    paper nearby first, so that the light is followed up to the sheet's edge.
    """
    factor = max(1, min(signed.shape) // 64)
    if min(signed.shape) < MIN_HAZY_SIDE or (factor < 2 and max(signed.shape) >= 64):
        # Under 128 px, only thumbnails (an MNIST-sized 28x28 in fog) are looked at: at
        # 64-127 px a bold digit cropped to its ink was taken for shadow and hollowed.
        return np.zeros_like(signed)
    small = signed
    if factor >= 2:
        small = cv2.resize(
            signed, (signed.shape[1] // factor, signed.shape[0] // factor), interpolation=cv2.INTER_AREA
        )
    if beyond is not None:
        hole = cv2.resize(
            beyond.view(np.uint8), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST
        )
        filled = cv2.inpaint(np.clip(small, 0, 255).astype(np.uint8), hole, 3, cv2.INPAINT_TELEA)
        small = filled.astype(np.float32)

    def opening(share: float) -> tuple[np.ndarray, int]:
        size = max(3, int(min(small.shape) * share)) | 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        return cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel), size

    floor, top = np.percentile(small, [1, 99.5])
    spread = float(top - floor)
    # Uneven light darkens the edges of the picture too; a border that is paper for half
    # its length or more says the light is even, however much of the middle is ink (a
    # bold marker digit filling the frame would otherwise be taken for shadow and hollowed).
    even_border = np.percentile(_border_ring(small), 50) - floor <= 0.08 * spread
    # Faint ink (pencil) is no stronger than the light's unevenness: the light is always
    # levelled under it.
    # (A sheet on a desk is levelled always: its border is desk, filled in, not paper.)
    uneven = beyond is not None or not (
        even_border or (opening(1 / 2)[0] - floor > 0.08 * spread).mean() < 0.3
    )
    if not faint and (spread <= 0 or not uneven):
        return np.full_like(signed, floor)
    # Pencil strokes are thin: under them a finer opening follows the light more closely.
    opened, size = opening(1 / 8 if faint or beyond is not None else 1 / 4)
    opened = cv2.GaussianBlur(opened, (0, 0), size / 4)
    return cv2.resize(opened, (signed.shape[1], signed.shape[0]), interpolation=cv2.INTER_LINEAR)


def _separation(image: np.ndarray, threshold: float) -> float:
    """Otsu's separability: how much of the grey-level variance the threshold explains.

    ``image`` is uint8; the sums come from its 256-bin histogram."""
    counts = cv2.calcHist([image], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    total = counts.sum()
    above = levels > threshold
    n_above = counts[above].sum()
    if total == 0 or n_above in (0, total):
        return 0.0
    mean = (counts @ levels) / total
    variance = (counts @ (levels - mean) ** 2) / total
    if variance == 0:
        return 0.0
    share = n_above / total
    mean_above = (counts[above] @ levels[above]) / n_above
    mean_below = (counts[~above] @ levels[~above]) / (total - n_above)
    return float(share * (1 - share) * (mean_above - mean_below) ** 2 / variance)


def _select(labels: np.ndarray, ids, count: int | None = None) -> np.ndarray:
    """bool mask of the pixels whose component id is in ``ids`` (a lookup, not a search);
    ``count``: the number of labels, if known."""
    lookup = np.zeros(count or int(labels.max()) + 1, bool)
    lookup[list(ids)] = True
    return lookup[labels]


def _grow(mask: np.ndarray) -> np.ndarray:
    """``mask`` and the pixels next to it: the anti-aliased edges of the strokes."""
    return cv2.dilate(mask.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
