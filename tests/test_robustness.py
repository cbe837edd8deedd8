"""The shipped model reads MNIST test digits re-rendered the way users send them.

For each variant, 500 official test digits are rendered into real image files (PNG or JPEG)
and go through the full path: decode -> preprocess -> ONNX model.
"""

from __future__ import annotations

import contextlib
import os

import cv2
import numpy as np
import pytest

from digitrec.engine import NoDigitFound
from digitrec.engine.preprocess import centre_of_mass
from digitrec.training import mnist_c, renderings

SAMPLE = 500
REQUIRED = 0.99  # on every variant read as it is
# Drawn small with the page's broad brush, most digits are blobs: they must be read right
# or refused with a request to write bigger, never guessed wrong.
SMALL = "small_drawing"


# MNIST-C (Mu & Gilmer 2019; training/mnist_c.py): what the shipped model reads through the
# API's path, on the 500 digits below, less about a point, so that a change that loses
# ground fails. Fog was 67 % before hazy thumbnails were levelled; zigzag, canny edges,
# motion blur and the artificial stripe are known weak (docs/model.md).
MNIST_C_FLOORS = {
    "shot_noise": 0.985,
    "impulse_noise": 0.975,
    "glass_blur": 0.94,
    "motion_blur": 0.875,
    "shear": 0.98,
    "scale": 0.98,
    "rotate": 0.955,
    "brightness": 0.985,
    "translate": 0.98,
    "stripe": 0.80,
    "fog": 0.98,
    "spatter": 0.965,
    "dotted_line": 0.985,
    "zigzag": 0.66,
    "canny_edges": 0.795,
}


# Paper variants allowed a few refusals (the others: none), below.
PAPER_REFUSALS = {"curled_notebook": 1, "paper_on_desk": 3, "shadow_across": 5, "note_on_desk": 2}


@pytest.fixture(scope="module")
def sample(mnist_test_set):
    images, labels = mnist_test_set
    picked = np.random.default_rng(2024).choice(len(images), SAMPLE, replace=False)
    return images[picked], labels[picked]


@pytest.mark.slow
@pytest.mark.parametrize("variant", [name for name in renderings.VARIANTS if name != SMALL])
def test_accuracy_on_user_style_images(variant, sample, recognizer):
    images, labels = sample
    render = renderings.VARIANTS[variant]
    rng = np.random.default_rng(7)
    predicted = np.array([recognizer.recognize(render(image, rng)).digit for image in images])
    accuracy = float((predicted == labels).mean())
    print(f"{variant}: {accuracy:.2%} of {SAMPLE}")
    assert accuracy >= REQUIRED, f"{variant}: {accuracy:.2%} < {REQUIRED:.0%}"


def test_small_drawings_are_read_right_or_refused_with_write_it_bigger(sample, recognizer):
    images, labels = sample
    rng = np.random.default_rng(7)
    outcomes = []
    for image, label in zip(images, labels):
        try:
            outcomes.append(
                "right"
                if recognizer.recognize(renderings.small_drawing(image, rng)).digit == label
                else "wrong"
            )
        except NoDigitFound as error:
            assert "write it bigger" in error.message
            outcomes.append("bigger")
    assert outcomes.count("wrong") <= 0.03 * SAMPLE, outcomes.count("wrong")


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(renderings.PAPER_VARIANTS))
def test_digits_photographed_on_lined_and_squared_paper(variant, sample, recognizer):
    """Exercise books: printed lines cross the strokes and run to the edges. Before the
    engine took them out, 69 % (lined) and 52 % (squared) were read right, and 20-42 %
    were refused as noise. Measured 99.7 % on 300 of each; the bar is 98 %, never refused.
    A page that curls towards the spine of its book (lines bent by up to 90 px near one
    side): 98.7 % of 300 when its lines were followed along a straight guess, 99.3 %
    along the curve they make; of these 500, 99.2 %, and 1 refused (a bold "8" whose
    loops closed into a blob: "write it bigger").

    The desk beyond the sheet (wood, grey or black, on one to four sides): 32.0 % of 300
    were read right and 83 refused before the sheet was told from the desk; of these 500,
    99.0 % and 2 refused (blobs). A soft shadow across the page that misses the digit:
    97.8 %, 7 refused, where the shadow darkened most of the border and the ink was taken
    for light on dark; 98.8 %, 4 refused once the strokes decide (docs/model.md).

    A sticky note the digit fills 60-85 % of, a fifth to half of the picture high: where
    the strokes cut the note into pieces on the thumbnail, no sheet was found and the note
    was read as the ink: 68.2 % of these 500 before, 93.4 % after. Where it was still
    cut into pieces, or the light on the desk spread too widely to tell it from the note,
    the note is found by its outline (a sharp edge all the way round): 99.6 %; the two
    still wrong are read wrong drawn plainly too."""
    images, labels = sample
    render = renderings.PAPER_VARIANTS[variant]
    rng = np.random.default_rng(7)
    predicted, refused = [], 0
    for image in images:
        try:
            predicted.append(recognizer.recognize(render(image, rng)).digit)
        except NoDigitFound:
            predicted.append(None)
            refused += 1
    accuracy = float(np.mean([p == label for p, label in zip(predicted, labels)]))
    print(f"{variant}: {accuracy:.2%} of {SAMPLE}, {refused} refused")
    assert accuracy >= 0.98, f"{variant}: {accuracy:.2%} < 98%"
    assert refused <= PAPER_REFUSALS.get(variant, 0), refused


@pytest.mark.slow
def test_faint_pencil_is_read_not_taken_for_a_blank_page(sample, recognizer):
    """Pencil or a faint ballpoint, 12-35 % darker than the paper, grainy, unevenly lit,
    sometimes hazy: all of it was refused as a blank page (the ink was under the 32 grey
    levels that made a page blank). Measured 97.0 % right and 2.4 % refused of 500 when
    ink had to stand 8 grey levels above the levelled paper; 99.0 % and 0.3 % of 300 at 6
    (the ink must still stand 10 times the picture's noise above it)."""
    images, labels = sample
    rng = np.random.default_rng(7)
    outcomes = []
    for image, label in zip(images, labels):
        try:
            outcomes.append(recognizer.recognize(renderings.faint_pencil(image, rng)).digit == label)
        except NoDigitFound:
            outcomes.append(None)
    right, refused = outcomes.count(True) / SAMPLE, outcomes.count(None) / SAMPLE
    print(f"faint pencil: {right:.1%} right, {refused:.1%} refused")
    assert right >= 0.98 and refused <= 0.01, (right, refused)


def test_a_blank_page_photographed_is_still_blank(recognizer):
    """The other side of reading faint ink: what is left of uneven light along the edges of
    an empty page is not a digit."""
    blank = np.zeros((28, 28), np.uint8)
    for render in (renderings.photo_jpeg, renderings.faint_pencil):
        rng = np.random.default_rng(1)
        for _ in range(20):
            with pytest.raises(NoDigitFound, match="blank"):
                recognizer.recognize(render(blank, rng))


def test_the_lines_of_the_paper_are_not_read_as_ink(sample, recognizer):
    """What the model sees of a digit on squared paper is the digit on plain paper: no
    line, no crossing left behind, and no stroke taken away where it crosses a line."""
    images, _ = sample
    for seed, image in enumerate(images[:20]):
        ruled = recognizer.recognize(renderings.squared_paper(image, np.random.default_rng(seed))).input_28x28
        plain = recognizer.recognize(renderings.photo_jpeg(image, np.random.default_rng(seed))).input_28x28
        overlap = (np.minimum(ruled, plain).sum()) / max(ruled.sum(), plain.sum())
        assert overlap > 0.6, (seed, overlap)


def test_a_straight_one_is_a_one_centred_by_mass(recognizer):
    """The way most people write a 1: one stroke, any slant to 20 degrees, any brush."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        result = recognizer.recognize(renderings.straight_one(rng))
        assert result.digit == 1 and not result.uncertain
        x, y = centre_of_mass(result.input_28x28)
        assert abs(x - 14) <= 0.5 and abs(y - 14) <= 0.5, (x, y)  # where MNIST puts it


@pytest.mark.parametrize("variant", ["tight_crop_16", "tight_crop_32_binary", "bold_marker"])
def test_digits_cut_close_to_their_ink_are_never_refused(variant, sample, recognizer):
    images, _ = sample
    rng = np.random.default_rng(3)
    for image in images[:200]:
        recognizer.recognize(renderings.VARIANTS[variant](image, rng))  # raises if refused


def test_a_bold_single_digit_is_never_split_into_a_number(sample, recognizer):
    images, labels = sample
    rng = np.random.default_rng(5)
    numbers = [recognizer.read_number(renderings.bold_marker(image, rng)).number for image in images]
    assert sum(len(n) > 1 for n in numbers) == 0, [n for n in numbers if len(n) > 1]
    assert np.mean([n == str(label) for n, label in zip(numbers, labels)]) >= REQUIRED


def test_handwritten_letters_come_from_fonts_kept_apart_for_testing():
    """The non-digit test set: Hershey single-stroke letters drawn as on the canvas, from
    fonts that a model is never trained on, and no letter that people write like a digit."""
    from digitrec.training import hershey

    if not hershey.folder_exists() and not os.environ.get("CI"):
        pytest.skip("the Hershey fonts are not installed (apt-get install hershey-fonts-data)")
    assert not set(hershey.TEST_FONTS) & set(hershey.TRAIN_FONTS)
    assert len(hershey.glyphs("futural")["A"]) == 3  # two slopes and the bar
    letters = hershey.letters(20, seed=1)
    assert letters == hershey.letters(20, seed=1)  # the same set every time
    for name, data in letters:
        char, font = name.split()[1], name.split("(")[1].rstrip(")")
        assert char not in hershey.LIKE_DIGITS and font in hershey.TEST_FONTS
        assert data.startswith(b"\x89PNG")


@pytest.mark.slow
@pytest.mark.parametrize("corruption", list(mnist_c.CORRUPTIONS))
def test_mnist_c_corruptions_do_not_lose_ground(corruption, sample, recognizer):
    images, labels = sample
    corrupt = mnist_c.CORRUPTIONS[corruption]
    rng = np.random.default_rng(7)
    right = 0
    for image, label in zip(images, labels):
        corrupted = corrupt(image, rng)
        assert corrupted.shape == (28, 28) and corrupted.dtype == np.uint8
        with contextlib.suppress(NoDigitFound):  # refused: not right
            right += recognizer.recognize(renderings.mnist_png(corrupted)).digit == label
    accuracy = right / SAMPLE
    print(f"{corruption}: {accuracy:.2%} of {SAMPLE}")
    assert accuracy >= MNIST_C_FLOORS[corruption], f"{corruption}: {accuracy:.2%}"


@pytest.mark.slow
def test_a_digit_written_in_a_form_box_is_read_not_the_box(sample, recognizer):
    """Scanned forms (``renderings.form_box``): the writing may touch or cross its box, so
    box and digit are one piece. Before the box's sides were taken out even there: 91.8 %
    right, 9.2 % flagged (the box read with the digit); measured 99.3 % of 300 after."""
    images, labels = sample
    rng = np.random.default_rng(7)
    right = 0
    for image, label in zip(images, labels):
        with contextlib.suppress(NoDigitFound):
            right += recognizer.recognize(renderings.form_box(image, rng)).digit == label
    print(f"form box: {right / SAMPLE:.1%}")
    assert right / SAMPLE >= 0.98


@pytest.mark.slow
@pytest.mark.parametrize(
    "render", [renderings.form_boxes_number, renderings.comb_field], ids=lambda f: f.__name__
)
def test_a_number_written_in_a_form_is_read_without_its_walls(render, mnist_test_set, recognizer):
    """A number in a row of printed boxes or a comb field: the walls between the boxes and
    the comb's ticks are print, not ones. Before: 64-67 % of such numbers read exactly
    (the walls read as "1"s, or the whole refused as texture); 95.5 % (boxes) and 96 %
    (combs) of 200 in session 10; measured 99.5 % of 200 each once a row scanned askew
    was looked at turned level."""
    images, labels = mnist_test_set
    rng = np.random.default_rng(8)
    right = 0
    for _ in range(100):
        chosen = rng.choice(len(images), int(rng.integers(2, 6)))
        with contextlib.suppress(NoDigitFound):
            reading = recognizer.read_number(render([images[i] for i in chosen], rng))
            right += reading.number == "".join(str(labels[i]) for i in chosen)
    print(f"{render.__name__}: {right} of 100 numbers read exactly")
    assert right >= 97, right


@pytest.mark.parametrize("angle", [0, -3, 3])
@pytest.mark.parametrize("comb", [False, True], ids=["boxes", "comb"])
def test_ones_written_in_a_row_of_boxes_are_not_its_walls(angle, comb, recognizer):
    """ "1171" in a row of four printed boxes or a comb field, scanned level or 3 degrees
    askew: the ones are upright and thin like the walls, but stand between them, off their
    spacing. (Refused as texture, or read with the walls as ones, before.)"""
    page = np.full((300, 520), 250, np.uint8)
    cv2.line(page, (20, 40), (500, 40), 120, 2)  # another line of the form
    for k in range(4):
        x = 60 + 100 * k
        if comb:
            cv2.line(page, (x, 200), (x + 100, 200), 90, 2)
            cv2.line(page, (x, 100 if k == 0 else 167), (x, 200), 90, 2)
            if k == 3:
                cv2.line(page, (x + 100, 100), (x + 100, 200), 90, 2)
        else:
            cv2.rectangle(page, (x, 100), (x + 100, 200), 90, 2)
        if k == 2:
            cv2.polylines(page, [np.int32([[x + 25, 120], [x + 75, 120], [x + 42, 185]])], False, 20, 7)
        else:
            cv2.line(page, (x + 50 + k, 118), (x + 48, 186), 20, 7)
    page = cv2.warpAffine(page, cv2.getRotationMatrix2D((260, 150), angle, 1), (520, 300), borderValue=250)
    assert recognizer.read_number(cv2.imencode(".png", page)[1].tobytes()).number == "1171"


def test_ones_written_evenly_between_digits_are_not_the_walls_of_a_form(recognizer):
    """The other side of taking out a form's walls: "14141" drawn on the page with upright
    ones, evenly spaced and standing on one line, as a careful hand writes it, is read
    with its ones."""
    page = np.full((220, 700), 255, np.uint8)
    for k in range(5):
        left = 60 + 120 * k + (k * 7) % 11  # a hand is not a printer: a few px off
        if k % 2 == 0:
            cv2.line(page, (left + 30, 50), (left + 28 + k % 3, 170), 0, 12)
        else:
            cv2.polylines(
                page,
                [np.int32([[left + 60, 170], [left + 60, 50], [left, 130], [left + 80, 130]])],
                False,
                0,
                12,
            )
    assert recognizer.read_number(cv2.imencode(".png", page)[1].tobytes()).number == "14141"


@pytest.mark.parametrize("width", [12, 16, 20, 24])
def test_a_square_drawn_alone_is_not_a_digit_nor_a_form(width, recognizer):
    """A square drawn on the canvas with a broad brush reaches past the band of a printed
    box, but not into its middle: it is not a form with writing in it (what was left of its
    stroke was refused as texture), but something that does not look like a digit."""
    page = np.full((280, 280), 255, np.uint8)
    cv2.polylines(page, [np.int32([[60, 60], [220, 60], [220, 220], [60, 220]])], True, 0, width, cv2.LINE_AA)
    assert recognizer.recognize(cv2.imencode(".png", page)[1].tobytes()).uncertain


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "least_right", "most_sure_and_wrong"),
    # Measured with the shipped model on 200: outlined 66.5 % right and 13 % wrong and not
    # flagged (30 % and 19.5 % before outlines were filled in); scribbled over 88.5 and
    # 3.0 %. Floors a little under, so that a change that loses ground fails.
    [("outlined_digit", 0.62, 0.15), ("scribbled_over", 0.86, 0.04)],
)
def test_spoilt_digits_are_read_or_flagged(variant, least_right, most_sure_and_wrong, sample, recognizer):
    images, labels = sample
    rng = np.random.default_rng(7)
    right = sure_and_wrong = 0
    for image, label in zip(images[:200], labels[:200]):
        with contextlib.suppress(NoDigitFound):
            result = recognizer.recognize(renderings.SPOILT_VARIANTS[variant](image, rng))
            right += result.digit == label
            sure_and_wrong += result.digit != label and not result.uncertain
    print(f"{variant}: {right / 200:.1%} right, {sure_and_wrong / 200:.1%} wrong and not flagged")
    assert right / 200 >= least_right and sure_and_wrong / 200 <= most_sure_and_wrong


def test_an_outlined_digit_is_read_filled_in_and_a_pen_zero_is_not(recognizer):
    """A bubble "7" (only the outline of a broad stroke) reads as 7 once filled; a narrow
    "0" drawn with a pen, whose inside is a few lines wide, stays a 0 (filled, it read as
    a sure "1" before oval insides were left alone)."""
    stroke = np.zeros((400, 400), np.uint8)
    cv2.polylines(stroke, [np.int32([[100, 90], [300, 90], [170, 330]])], False, 255, 40)
    contours, _ = cv2.findContours(stroke, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    page = np.full((400, 400), 255, np.uint8)
    cv2.drawContours(page, contours, -1, 0, 5, cv2.LINE_AA)
    assert recognizer.recognize(cv2.imencode(".png", page)[1].tobytes()).digit == 7
    for width in (34, 50, 90):
        page = np.full((400, 400), 255, np.uint8)
        cv2.ellipse(page, (200, 200), (width, 140), 0, 0, 360, 0, 11, cv2.LINE_AA)
        assert recognizer.recognize(cv2.imencode(".png", page)[1].tobytes()).digit == 0, width


@pytest.mark.parametrize("span", [0.5, 0.65, 0.8, 0.9, 0.98])
def test_a_tall_one_in_a_picture_is_not_taken_for_a_ruling(span, recognizer):
    """A "1" written with a pen and photographed or scanned so that it runs down most of
    the picture: from 60 % of the height it was taken out as a ruled line ("blank")."""
    page = np.full((400, 400), 255, np.uint8)
    cv2.line(page, (200, int(200 - 200 * span)), (205, int(200 + 200 * span)), 0, 4, cv2.LINE_AA)
    assert recognizer.recognize(cv2.imencode(".png", page)[1].tobytes()).digit == 1


def test_a_printed_box_and_line_of_a_form_are_not_read_as_ink(sample, recognizer):
    """A digit written inside a printed box without touching it, a rule of the form across
    the page: the box and the rule are print, not part of the digit."""
    images, labels = sample
    right = {"plain": 0, "form": 0}
    for image, label in zip(images[:60], labels[:60]):
        for kind in right:
            page = np.full((360, 480), 250, np.uint8)
            if kind == "form":
                cv2.rectangle(page, (180, 100), (300, 220), 60, 2)
                cv2.line(page, (30, 280), (450, 283), 60, 2)
            digit = cv2.resize(255 - image, (84, 84), interpolation=cv2.INTER_CUBIC)
            page[118:202, 198:282] = np.minimum(page[118:202, 198:282], digit)
            right[kind] += recognizer.recognize(cv2.imencode(".png", page)[1].tobytes()).digit == label
    # Before: the box was read with the digit (5 of 40 right).
    assert right["form"] >= right["plain"] - 1, right
