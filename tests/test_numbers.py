"""Numbers: several MNIST test digits side by side are read left to right, whole number right."""

from __future__ import annotations

import numpy as np
import pytest

import renderings

COUNT = 500
REQUIRED = 0.97


@pytest.mark.slow
def test_numbers_of_two_to_six_digits_are_read_exactly(mnist_test_set, recognizer):
    images, labels = mnist_test_set
    rng = np.random.default_rng(42)
    right = 0
    wrong_examples = []
    for _ in range(COUNT):
        picked = rng.choice(len(images), int(rng.integers(2, 7)), replace=False)
        truth = "".join(str(labels[i]) for i in picked)
        reading = recognizer.read_number(renderings.compose_number([images[i] for i in picked], rng))
        if reading.number == truth:
            right += 1
        elif len(wrong_examples) < 10:
            wrong_examples.append(f"{truth}→{reading.number}")
    accuracy = right / COUNT
    print(f"numbers read exactly: {accuracy:.2%} of {COUNT}; e.g. wrong: {wrong_examples}")
    assert accuracy >= REQUIRED, wrong_examples


TOUCHING_COUNT = 300
# Measured, not a promise: digits that touch form one piece, which is cut where the model
# reads the parts surely and the whole not (43 % were read right before cuts were tried,
# 76 % after). The rest are mostly 1s, too narrow to make a touching pair look wide.
TOUCHING_FLOOR = 0.70


@pytest.mark.slow
def test_touching_digits_are_cut_apart(mnist_test_set, recognizer):
    images, labels = mnist_test_set
    rng = np.random.default_rng(5)
    right = 0
    for _ in range(TOUCHING_COUNT):
        picked = rng.choice(len(images), int(rng.integers(2, 5)), replace=False)
        truth = "".join(str(labels[i]) for i in picked)
        data = renderings.compose_touching_number([images[i] for i in picked], rng)
        right += recognizer.read_number(data).number == truth
    print(f"touching numbers read exactly: {right / TOUCHING_COUNT:.2%} of {TOUCHING_COUNT}")
    assert right / TOUCHING_COUNT >= TOUCHING_FLOOR


def test_a_single_digit_reads_as_a_one_digit_number(mnist_test_set, recognizer):
    images, labels = mnist_test_set
    data = renderings.dark_on_white(images[0], None)
    reading = recognizer.read_number(data)
    assert reading.number == str(labels[0]) and len(reading.digits) == 1
    assert reading.digits[0].box.width > 0.3  # the box covers the digit
