"""Numbers: several MNIST test digits side by side are read left to right, whole number right."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from digitrec.training import renderings


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def read_exactly(mnist_test_set, recognizer, compose, count, sizes, seed) -> float:
    """Share of ``count`` composed numbers (``sizes``: digits, as a range) read exactly."""
    images, labels = mnist_test_set
    rng = np.random.default_rng(seed)
    right, wrong_examples = 0, []
    for _ in range(count):
        picked = rng.choice(len(images), int(rng.integers(*sizes)), replace=False)
        truth = "".join(str(labels[i]) for i in picked)
        number = recognizer.read_number(compose([images[i] for i in picked], rng)).number
        right += number == truth
        if number != truth and len(wrong_examples) < 10:
            wrong_examples.append(f"{truth}→{number}")
    print(f"{compose.__name__}: {right / count:.2%} of {count} read exactly; e.g. wrong: {wrong_examples}")
    return right / count


@pytest.mark.slow
def test_numbers_of_two_to_six_digits_are_read_exactly(mnist_test_set, recognizer):
    accuracy = read_exactly(mnist_test_set, recognizer, renderings.compose_number, 500, (2, 7), 42)
    assert accuracy >= 0.97


@pytest.mark.slow
def test_touching_digits_are_cut_apart(mnist_test_set, recognizer):
    # Measured, not a promise: digits that touch form one piece, which is cut where the
    # model reads the parts surely and the whole not (43 % were read right before cuts were
    # tried, 76 % after). The rest are mostly 1s, too narrow to make a pair look wide.
    compose = renderings.compose_touching_number
    assert read_exactly(mnist_test_set, recognizer, compose, 300, (2, 5), 5) >= 0.70


def test_a_single_digit_reads_as_a_one_digit_number(mnist_test_set, recognizer):
    images, labels = mnist_test_set
    data = renderings.dark_on_white(images[0], None)
    reading = recognizer.read_number(data)
    assert reading.number == str(labels[0]) and len(reading.digits) == 1
    assert reading.digits[0].box.width > 0.3  # the box covers the digit


def test_pieces_of_one_digit_stacked_one_above_the_other_are_one_digit(recognizer):
    """A "1" with a gap in its stroke, and a "5" whose top bar floats beside it, are each
    one digit, not a number."""
    page = np.full((200, 200), 255, np.uint8)
    cv2.line(page, (104, 30), (96, 95), 0, 9)
    cv2.line(page, (93, 115), (86, 175), 0, 9)  # the lower half, slightly to the left
    assert recognizer.read_number(png(page)).number == "1"

    five = np.full((200, 240), 255, np.uint8)
    cv2.line(five, (70, 40), (68, 100), 0, 10)
    cv2.ellipse(five, (100, 135), (40, 38), 0, -150, 150, 0, 10)
    cv2.line(five, (112, 36), (170, 30), 0, 10)  # the bar, drawn apart, off to the right
    assert recognizer.read_number(png(five)).number == "5"
