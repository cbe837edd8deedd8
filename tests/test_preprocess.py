"""Preprocessing: any picture of a digit becomes an MNIST-style 28x28; non-digits are refused."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from digitrec.engine import NoDigitFound, decode, split_digits, to_mnist_28x28
from digitrec.training import renderings


def mnist_style(data: bytes) -> np.ndarray:
    return to_mnist_28x28(decode(data))


def aligned_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference, forgiving the one-pixel steps of centring by mass."""
    return min(
        float(np.abs(np.roll(a, (dy, dx), axis=(0, 1)) - b).mean()) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
    )


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def fat(digit: np.ndarray, pen: int) -> np.ndarray:
    """The 28x28 digit enlarged to 280 px and drawn with a round pen ``pen`` px wider."""
    return cv2.dilate(
        cv2.resize(digit, (280, 280), interpolation=cv2.INTER_CUBIC),
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (pen, pen)),
    )


def canvas_of(ink: np.ndarray) -> bytes:
    """The same strokes on a transparent canvas: no polarity or light to guess."""
    canvas = np.zeros((*ink.shape, 4), np.uint8)
    canvas[..., 3] = ink
    return png(canvas)


@pytest.fixture(scope="module")
def digits(mnist_test_set):
    images, labels = mnist_test_set
    return images[:20]


def test_output_is_mnist_shaped_float_in_unit_range(digits):
    out = mnist_style(renderings.dark_on_white(digits[0], None))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() == pytest.approx(1.0)


def test_digit_fits_20px_and_is_centred_by_mass(digits):
    for digit in digits:
        out = mnist_style(renderings.small_off_centre(digit, np.random.default_rng(3)))
        rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
        longest = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
        assert 19 <= longest <= 21
        m = cv2.moments(out)
        assert abs(m["m10"] / m["m00"] - 14) <= 0.75 and abs(m["m01"] / m["m00"] - 14) <= 0.75


def test_result_is_close_to_the_original_mnist_digit(digits):
    # Re-rendering an MNIST digit at 10x and bringing it back should give MNIST again.
    differences = [
        aligned_difference(mnist_style(renderings.white_on_black(d, None)), d / np.float32(255))
        for d in digits
    ]
    assert max(differences) < 0.05 and np.mean(differences) < 0.03


def test_ink_polarity_colour_and_transparency_do_not_matter(digits):
    rng = np.random.default_rng(0)
    for digit in digits[:5]:
        reference = mnist_style(renderings.white_on_black(digit, rng))
        for variant in (renderings.dark_on_white, renderings.transparent_canvas, renderings.coloured_ink):
            assert aligned_difference(mnist_style(variant(digit, rng)), reference) < 0.03


def test_light_strokes_on_a_transparent_canvas_work(digits):
    alpha = cv2.resize(digits[0], (280, 280), interpolation=cv2.INTER_CUBIC)
    rgba = np.full((280, 280, 4), 255, np.uint8)  # white strokes
    rgba[..., 3] = alpha
    reference = mnist_style(renderings.white_on_black(digits[0], None))
    assert aligned_difference(mnist_style(png(rgba)), reference) < 0.03


def test_specks_and_a_frame_around_the_digit_are_ignored(digits):
    page = 255 - cv2.resize(digits[0], (280, 280), interpolation=cv2.INTER_CUBIC)
    page = np.pad(page, 60, constant_values=255)
    clean = mnist_style(png(page))
    messy = page.copy()
    cv2.rectangle(messy, (5, 5), (394, 394), 0, 4)  # a frame, as on a form or a scan edge
    for x, y in [(40, 330), (350, 40), (330, 350)]:
        cv2.circle(messy, (x, y), 2, 0, -1)  # specks of dust
    assert aligned_difference(mnist_style(png(messy)), clean) < 0.02


def test_fat_strokes_on_paper_are_not_taken_for_uneven_light(mnist_test_set):
    """Where fat strokes meet, the ink forms blobs as wide as a shadow; they must stay ink
    (the light correction once hollowed out 3 of these 100). A transparent canvas, which
    needs no light correction, gives the reference."""
    for digit in mnist_test_set[0][:100]:
        strokes = fat(digit, 19)
        assert aligned_difference(mnist_style(png(255 - strokes)), mnist_style(canvas_of(strokes))) < 0.02


def test_uneven_light_is_evened_out(digits):
    rng = np.random.default_rng(5)
    out = mnist_style(renderings.photo_jpeg(digits[0], rng))
    reference = mnist_style(renderings.white_on_black(digits[0], rng))
    assert aligned_difference(out, reference) < 0.08


BLANKS = {
    "transparent canvas": np.zeros((280, 280, 4), np.uint8),
    "white page": np.full((280, 280), 255, np.uint8),
    "black page": np.zeros((280, 280), np.uint8),
    "uniform colour": np.full((200, 300, 3), (40, 120, 200), np.uint8),
    "faint gradient": np.tile(np.linspace(200, 220, 300).astype(np.uint8), (200, 1)),
}


@pytest.mark.parametrize("name", BLANKS)
def test_blank_images_have_no_digit(name):
    with pytest.raises(NoDigitFound):
        mnist_style(png(BLANKS[name]))


@pytest.mark.parametrize("radius", [3, 10, 25])
def test_a_single_dot_is_not_a_digit(radius):
    canvas = np.zeros((280, 280, 4), np.uint8)
    cv2.circle(canvas, (140, 140), radius, (0, 0, 0, 255), -1, lineType=cv2.LINE_AA)
    with pytest.raises(NoDigitFound):
        mnist_style(png(canvas))


def _noise(kind: str, size: tuple[int, int], rng) -> np.ndarray:
    h, w = size
    if kind == "uniform":
        return rng.integers(0, 256, (h, w), dtype=np.uint8)
    if kind == "colour":
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if kind == "gaussian":
        return np.clip(rng.normal(128, 30, (h, w)), 0, 255).astype(np.uint8)
    if kind == "blurred":
        return cv2.GaussianBlur(rng.integers(0, 256, (h, w), dtype=np.uint8), (0, 0), 2)
    return ((rng.random((h, w)) < 0.02) * 255).astype(np.uint8)  # salt


@pytest.mark.parametrize("kind", ["uniform", "colour", "gaussian", "salt"])
@pytest.mark.parametrize("size", [(50, 50), (280, 280), (480, 640)])
@pytest.mark.parametrize("seed", range(5))
def test_random_noise_is_not_a_digit(kind, size, seed):
    with pytest.raises(NoDigitFound):
        mnist_style(png(_noise(kind, size, np.random.default_rng(seed))))


@pytest.mark.parametrize("size", [(280, 280), (480, 640)])
@pytest.mark.parametrize("seed", range(5))
def test_blurred_noise_texture_is_not_a_digit(size, seed):
    # Known limit: on tiny images (~50 px) blurred noise makes blobs as wide as strokes,
    # and some pass as ink; the model's "uncertain" flag is the next line of defence there.
    with pytest.raises(NoDigitFound):
        mnist_style(png(_noise("blurred", size, np.random.default_rng(seed))))


def test_any_pixels_give_a_28x28_or_no_digit_never_a_crash(recognizer):
    """Fuzz: tiny, huge-ratio, constant, sparse and random images of every layout, read as
    one digit and as a number (wide blobs make the number reading try cuts)."""
    rng = np.random.default_rng(99)
    for _ in range(400):
        h, w = (int(v) for v in rng.integers(1, 90, 2))
        channels = int(rng.choice([0, 3, 4]))
        shape = (h, w) if channels == 0 else (h, w, channels)
        kind = rng.integers(5)
        if kind == 0:
            pixels = np.full(shape, rng.integers(256), np.uint8)
        elif kind == 1:
            pixels = (rng.random(shape) < rng.random() * 0.1).astype(np.uint8) * 255
        elif kind == 2:
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        elif kind == 3:
            pixels = np.full(shape, 255, np.uint8)
            cv2.line(
                pixels,
                (int(rng.integers(w)), 0),
                (int(rng.integers(w)), h - 1),
                (0, 0, 0, 255),
                int(rng.integers(1, 6)),
            )
        else:  # a wide blob
            pixels = np.full(shape, 255, np.uint8)
            y = int(rng.integers(h))
            cv2.line(pixels, (0, y), (w - 1, y), (0, 0, 0, 255), int(rng.integers(1, 1 + h // 2 + 1)))
        try:
            out = to_mnist_28x28(pixels)
            pieces = split_digits(pixels)
            whole, number = recognizer.recognize_and_read_number(png(pixels))
        except NoDigitFound:
            continue
        assert out.shape == (28, 28) and np.isfinite(out).all() and 0 <= out.min() <= out.max() <= 1
        assert pieces and all(p.image.shape == (28, 28) for p in pieces)
        assert 0 <= whole.digit <= 9 and number.number.isdigit() and len(number.digits) >= len(pieces)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_centre_of_mass_of_a_stroke_one_to_three_pixels_wide(width):
    """OpenCV's moments read an array one or two pixels wide as a list of points; a thin
    upright "1" scaled to 20 px is exactly that."""
    from digitrec.engine.preprocess import centre_of_mass

    stroke = np.zeros((20, width), np.float32)
    stroke[5:, :] = 1.0  # mass in the lower three quarters
    x, y = centre_of_mass(stroke)
    assert x == pytest.approx((width - 1) / 2) and y == pytest.approx(12.0)


def test_a_bold_digit_filling_the_frame_keeps_its_polarity_and_its_strokes(mnist_test_set):
    """Most of a tight crop of a bold digit is ink: the paper is told by the border, and
    the fat strokes are not taken for shadow and hollowed out."""
    for digit in mnist_test_set[0][:50]:
        bold = fat(digit, 23)
        ys, xs = np.nonzero(bold > 40)
        crop = bold[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        assert aligned_difference(mnist_style(png(255 - crop)), mnist_style(canvas_of(crop))) < 0.03


def test_a_small_digit_drawn_with_a_broad_brush_is_refused_with_write_it_bigger():
    canvas = np.zeros((280, 280, 4), np.uint8)
    cv2.circle(canvas, (140, 140), 16, (0, 0, 0, 255), 21)  # a "0" 53 px tall, the page's brush
    with pytest.raises(NoDigitFound, match="write it bigger"):
        mnist_style(png(canvas))


def test_a_small_digit_written_with_a_pen_is_read(digits):
    page = np.full((600, 800), 255, np.uint8)
    page[300:356, 400:456] = 255 - cv2.resize(digits[0], (56, 56), interpolation=cv2.INTER_CUBIC)
    clean = mnist_style(renderings.dark_on_white(digits[0], None))
    assert aligned_difference(mnist_style(png(page)), clean) < 0.05


def test_a_sheet_photographed_on_a_desk_reads_as_the_page_alone(digits):
    """A phone photo that shows the desk (wood, grey, black) beyond the paper on one to
    four sides: the desk is neither the paper nor ink. Before, the border ring took the
    desk for the paper and the sheet for ink: 32 % of 300 read right, 83 refused; 99.3 %
    after (benchmarks/quality.py). Here each photo gives the 28x28 of the same photo
    without the desk (the renderer draws the page first, with the same random numbers):
    at most 0.036 apart (mean over the pixels) on these 20, where the light is levelled a
    little differently with the desk left out."""
    for seed, digit in enumerate(digits):
        on_desk = mnist_style(renderings.paper_on_desk(digit, np.random.default_rng(seed)))
        page, _, _ = renderings._digit_photo(digit, np.random.default_rng(seed))
        alone = mnist_style(renderings._encode(page, "JPEG", quality=80))
        assert aligned_difference(on_desk, alone) < 0.05, seed


def test_a_bold_light_digit_on_a_dark_ground_is_not_taken_for_a_sheet(mnist_test_set):
    """A bold white digit on black is a bright, nearly convex region with dark holes, as a
    sheet with writing on a desk is; it must stay a digit (two bold 8s were read as 1s, their
    loops taken for the writing)."""
    for digit in mnist_test_set[0][:50]:
        bold = fat(digit, 23)
        assert aligned_difference(mnist_style(png(bold)), mnist_style(canvas_of(bold))) < 0.03


def test_a_digit_cut_close_to_its_ink_is_no_sheet_on_a_desk(mnist_test_set):
    """A digit cropped to its ink box (a form scanner's crop, upscaled): with its strokes
    closed over, the paper between them can look like a sheet, and the strokes cut by the
    edges like the desk round it (a "3" was read as a "2" so, while small notes were being
    found). The desk must run along the edges unbroken: no sheet in any of these 600."""
    from digitrec.engine.preprocess import _lightness, _sample, _sheet_in

    for index, digit in enumerate(mnist_test_set[0][:300]):
        for crop in (renderings.tight_crop_32_binary, renderings.tight_crop_16):
            image = decode(crop(digit, np.random.default_rng(index)))
            assert _sheet_in(image, _lightness(_sample(image))) is None, index


def note_photo(digit, rng, note, desk=(38, 62, 92), margin=20) -> bytes:
    """A phone photo (JPEG) of ``digit`` written on a square sticky note (BGR colour
    ``note``) on an even desk (``desk``, wood by default), its ink box ``margin`` px from
    the note's edges."""
    ground = np.clip(np.float32(desk) + rng.normal(0, 6, (480, 640, 1)), 0, 255)
    size = int(rng.integers(110, 150))
    ys, xs = np.nonzero(digit > 40)
    box = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = (size - 2 * margin) / max(box.shape)
    ink = cv2.resize(box, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    paper = np.tile(np.float32(note), (size, size, 1))
    top, left = (size - ink.shape[0]) // 2, (size - ink.shape[1]) // 2
    region = paper[top : top + ink.shape[0], left : left + ink.shape[1]]
    region[:] = region * (1 - ink[..., None]) + np.float32([60, 40, 40]) * ink[..., None]
    y, x = int(rng.integers(60, 480 - size - 60)), int(rng.integers(60, 640 - size - 60))
    ground[y : y + size, x : x + size] = paper
    _, jpeg = cv2.imencode(".jpg", np.clip(ground, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return jpeg.tobytes()


FIRST_TEN = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the labels of the first ten MNIST test digits


@pytest.mark.parametrize(
    "note", [(90, 225, 250), (200, 170, 250), (245, 245, 245)], ids=["yellow", "pink", "white"]
)
def test_a_small_note_on_a_desk_is_read_not_taken_for_the_ink(digits, recognizer, note):
    """A sticky note (yellow, pink or white, BGR here) a fifth of the picture wide on a
    wooden desk: the whole note was taken for the ink and the answer was "does not look
    like a digit" (a new user's trial: 1 of 10 yellow notes read). Yellow is dark in blue,
    so the note is also looked for by its lightness."""
    for seed, digit in enumerate(digits[:10]):
        photo = note_photo(digit, np.random.default_rng(seed), note)
        assert recognizer.recognize(photo).digit == FIRST_TEN[seed], seed


def test_a_note_the_digit_nearly_fills_is_read(digits, recognizer):
    """The digit written across the whole note, its ink 12 px from the note's edges, on
    wood and on a light grey desk. The strokes cut the note into pieces on the thumbnail
    where the sheet is looked for (so no sheet was found and the note was taken for the
    ink), and on a lit grey desk the desk was taken for the paper: 11 of these 20 were
    read before, 19 now. On ``renderings.note_on_desk`` (the ink 10-40 px from the edges
    of a larger note): 87 -> 95 % of 200, and 99.6 % of the suite's 500 once a note is
    also found by its outline (tests/test_robustness.py)."""
    read = [
        recognizer.recognize(
            note_photo(digit, np.random.default_rng(seed), (245, 245, 245), desk, margin=12)
        ).digit
        == FIRST_TEN[seed]
        for desk in ((38, 62, 92), (140, 140, 135))
        for seed, digit in enumerate(digits[:10])
    ]
    assert sum(read) >= 19, read


def askew_page(digit, rng, lines: bool = True, height: int = 130) -> bytes:
    """A phone photo (JPEG, 1200x1600) of a page of a lined exercise book turned 2-4 degrees,
    so that the desk shows in thin wedges along the picture's edges, with ``digit`` (or
    nothing) written on it ``height`` px tall with a pen."""
    page = np.full((1200, 1600, 3), (236, 240, 244), np.float32)
    if lines:
        for y in range(60, 1200, int(rng.integers(38, 52))):
            cv2.line(page, (0, y), (1599, y), (200, 170, 150), 2, cv2.LINE_AA)
    if digit is not None:
        ys, xs = np.nonzero(digit > 40)
        box = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        ink = cv2.resize(box, (max(2, round(box.shape[1] * height / box.shape[0])), height))
        ink = ink.astype(np.float32)[..., None] / 255
        top, left = int(rng.integers(300, 800)), int(rng.integers(300, 1200))
        region = page[top : top + height, left : left + ink.shape[1]]
        region[:] = region * (1 - ink) + np.float32([90, 40, 30]) * ink
    turn = cv2.getRotationMatrix2D((800, 600), float(rng.choice([-1, 1]) * rng.uniform(2, 4)), 1.02)
    photo = cv2.warpAffine(page, turn, (1600, 1200), borderValue=(200, 205, 210))
    yy, xx = np.mgrid[0:1200, 0:1600].astype(np.float32)
    light = 1 - 0.25 * ((xx - 700) ** 2 + (yy - 500) ** 2) / 1000**2
    photo = photo * light[..., None] + rng.normal(0, 3, photo.shape)
    _, jpeg = cv2.imencode(".jpg", np.clip(photo, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return jpeg.tobytes()


def test_a_blank_page_photographed_askew_is_blank(recognizer):
    """A blank page turned a little leaves the desk in thin wedges along the picture's
    edges; with nothing else to read, they were read as digits (a new user's blank pages
    came back as "51", 9 of 18) or, here, refused as "noise or texture" (all 16). A strip
    along an edge, touching it all along and thinner than a stroke of a digit cut close,
    is desk, and so is a speck at a corner: 11 of these 16 are "blank" now, none is a sure
    digit (what the rulings leave of a line is read as an unsure "7" or "1")."""
    blank = 0
    for lines in (True, False):
        for seed in range(8):
            try:
                assert recognizer.recognize(askew_page(None, np.random.default_rng(seed), lines)).uncertain
            except NoDigitFound as error:
                blank += "blank" in error.message
    assert blank >= 10, blank


def test_a_pen_digit_on_a_page_photographed_askew_is_read(digits, recognizer):
    """A digit about a tenth of the picture tall on a page turned a little: how clearly
    its strokes stand out was measured at the picture's own threshold, which the desk at
    the corners pulls down, and 7 of a new user's 40 pen digits on lined paper were
    refused as "noise or texture". Measured at the threshold that parts ink and paper best
    round the digit, they are read."""
    for seed, digit in enumerate(digits[:10]):
        assert (
            recognizer.recognize(askew_page(digit, np.random.default_rng(seed))).digit == FIRST_TEN[seed]
        ), seed


def form_with_label(digit, rng, label: str = "Number of children:") -> bytes:
    """A scanned form: a printed label, then a printed box with ``digit`` written in it."""
    page = np.full((480, 640), 245, np.uint8)
    cv2.putText(page, label, (30, 250), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 30, 2, cv2.LINE_AA)
    left = 50 + cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2)[0][0] + int(rng.integers(20, 80))
    cv2.rectangle(page, (left, 170), (left + 100, 310), 60, 2)
    ink = cv2.resize(digit, (110, 110))[8:-8, 8:-8].astype(np.float32) / 255
    region = page[190:284, left + 3 : left + 97].astype(np.float32)
    page[190:284, left + 3 : left + 97] = (region * (1 - ink) + 20 * ink).astype(np.uint8)
    _, jpeg = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return jpeg.tobytes()


@pytest.mark.parametrize("label", ["Number of children:", "Age", "Qty:"])
def test_a_form_box_beside_its_printed_label_is_read_without_the_label(digits, recognizer, label):
    """A form's box with its label printed beside it: the label was read with the digit,
    squeezed into a corner of the 28x28 ("does not look like a digit": 1 of a new user's 16
    forms read). A line of small print wholly beside the writing is not ink."""
    for seed, digit in enumerate(digits[:10]):
        photo = form_with_label(digit, np.random.default_rng(seed), label)
        assert recognizer.recognize(photo).digit == FIRST_TEN[seed], seed
