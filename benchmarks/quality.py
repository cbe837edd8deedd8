"""Quality report of a model on what users send: robustness variants, numbers, non-digits.

    python benchmarks/quality.py [--model FILE] [--count 500]

Prints Markdown tables: the whole MNIST test set as 28x28 PNG files through the engine (the
API's path); accuracy on MNIST test digits re-rendered as canvas drawings, scans, tight
crops, bold marker and small drawings, photos, photos of lined and squared paper, faint
pencil, and a digit in a printed box of a scanned form (with
how many are refused, and how many of those are asked to write bigger); straight ones;
narrow digits; bold digits read as numbers; whole-number accuracy on composed numbers; and
how often non-digits (letters, shapes, scribbles) are refused (422 no digit) or flagged
uncertain.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter

import numpy as np

from digitrec.engine import NoDigitFound, Recognizer
from digitrec.engine.preprocess import centre_of_mass
from digitrec.training import evaluate, hershey, mnist, not_digits, renderings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model")
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()

    recognizer = Recognizer(args.model, threads=0)
    images, labels = mnist.load_test_set(os.environ.get(mnist.DATA_ENV))
    picked = np.random.default_rng(2024).choice(len(images), args.count, replace=False)

    print(f"Model {recognizer.version}; uncertain below {recognizer.uncertain_below:.3f}\n")
    results = [recognizer.recognize(renderings.mnist_png(image)) for image in images]
    right = np.mean([r.digit == label for r, label in zip(results, labels)])
    probabilities = np.array([r.probabilities for r in results])
    ece = evaluate.expected_calibration_error(probabilities, labels)
    flagged = np.mean([r.uncertain for r in results])
    print(
        f"MNIST test set, all {len(labels):,} digits as 28x28 PNG files (the API's path): {right:.2%}, "
        f"ECE {ece:.2%}, flagged uncertain {flagged:.1%}\n"
    )

    print(
        f"| variant ({args.count} MNIST test digits each) | right | flagged uncertain | refused "
        "| refused: asked to write bigger | read as a number (`?multi=1`, the page): right |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, render in {
        **renderings.VARIANTS,
        **renderings.PAPER_VARIANTS,
        **renderings.WEAK_INK_VARIANTS,
        **renderings.FORM_VARIANTS,
    }.items():
        rng = np.random.default_rng(7)
        counts = Counter()
        for i in picked:
            data = render(images[i], rng)
            try:
                result = recognizer.recognize(data)
                counts["as number"] += recognizer.read_number(data).number == str(labels[i])
            except NoDigitFound as error:
                counts["refused"] += 1
                counts["bigger"] += "bigger" in error.message
                continue
            counts["right"] += result.digit == labels[i]
            counts["uncertain"] += result.uncertain
        n = len(picked)
        print(
            f"| {name} | {counts['right'] / n:.2%} | {counts['uncertain'] / n:.1%} | {counts['refused'] / n:.1%} "
            f"| {counts['bigger'] / n:.1%} | {counts['as number'] / n:.2%} |"
        )

    # Spoilt digits (outlined, scribbled over): read, or flagged, never confidently wrong.
    print("\n| spoilt digits | right | flagged uncertain | refused | wrong and not flagged |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, render in renderings.SPOILT_VARIANTS.items():
        rng = np.random.default_rng(7)
        counts = Counter()
        for i in picked:
            try:
                result = recognizer.recognize(render(images[i], rng))
            except NoDigitFound:
                counts["refused"] += 1
                continue
            counts["right"] += result.digit == labels[i]
            counts["uncertain"] += result.uncertain
            counts["sure and wrong"] += result.digit != labels[i] and not result.uncertain
        n = len(picked)
        print(
            f"| {name} | {counts['right'] / n:.1%} | {counts['uncertain'] / n:.1%} | {counts['refused'] / n:.1%} "
            f"| {counts['sure and wrong'] / n:.1%} |"
        )

    rng = np.random.default_rng(11)
    ones, worst = 0, 0.0
    for _ in range(args.count):
        result = recognizer.recognize(renderings.straight_one(rng))
        ones += result.digit == 1
        x, y = centre_of_mass(result.input_28x28)
        worst = max(worst, abs(x - 14), abs(y - 14))
    print(
        f"\nStraight ones ({args.count}, -20..+20 degrees, brush 8-30 px, anywhere on a 280 px canvas): "
        f"{ones / args.count:.2%} read as 1; centre of mass at most {worst:.2f} px from MNIST's (14, 14)"
    )

    rng = np.random.default_rng(3)
    narrow = Counter()
    for i in picked:
        result = recognizer.recognize(renderings.narrow_drawing(images[i], rng))
        narrow["right"] += result.digit == labels[i]
        narrow["uncertain"] += result.uncertain
        narrow["1"] += result.digit == 1 and labels[i] != 1
    print(
        f"Narrow digits (a quarter to two fifths as wide as tall, as squeezed into a number on a phone): "
        f"{narrow['right'] / len(picked):.2%} right, {narrow['uncertain'] / len(picked):.1%} flagged uncertain, "
        f"{narrow['1'] / len(picked):.1%} other digits read as 1"
    )

    rng = np.random.default_rng(5)
    right = 0
    for i in picked:
        right += recognizer.read_number(renderings.bold_marker(images[i], rng)).number == str(labels[i])
    print(
        f"Bold marker digits read as a number (?multi=1): the number is that one digit {right / len(picked):.2%}"
    )

    for title, compose, sizes in (
        ("Numbers of 2-6 digits", renderings.compose_number, (2, 7)),
        ("Numbers of 2-4 touching digits", renderings.compose_touching_number, (2, 5)),
        ("Numbers of 3-6 narrow digits across a phone's canvas", renderings.narrow_number, (3, 7)),
        ("Numbers of 2-5 digits in a row of a form's boxes", renderings.form_boxes_number, (2, 6)),
        ("Numbers of 2-5 digits in a form's comb field", renderings.comb_field, (2, 6)),
    ):
        rng = np.random.default_rng(42)
        right = 0
        for _ in range(args.count):
            chosen = rng.choice(len(images), int(rng.integers(*sizes)), replace=False)
            try:
                reading = recognizer.read_number(compose([images[i] for i in chosen], rng))
            except NoDigitFound:
                continue  # refused (broken strokes taken for texture): wrong
            right += reading.number == "".join(str(labels[i]) for i in chosen)
        print(f"\n{title} read exactly: {right / args.count:.2%} of {args.count}")
    print()

    outcomes: dict[str, Counter] = {}
    negatives = not_digits.rejection_set(300) + [
        (f"handwritten {name}", data) for name, data in hershey.letters(500, seed=2026)
    ]
    for name, data in negatives:
        kind = " ".join(name.split()[:2]) if name.startswith("handwritten") else name.split()[0]
        try:
            result = recognizer.recognize(data)
            outcome = (
                "not a digit"
                if not result.looks_like_digit
                else "uncertain"
                if result.uncertain
                else "confident digit"
            )
        except NoDigitFound:
            outcome = "no digit (422)"
        outcomes.setdefault(kind, Counter())[outcome] += 1
    print(
        f"| not a digit ({len(negatives)} in all) | refused: no digit (422) | 'does not look like a digit' "
        "| other digit flagged uncertain | reported as a confident digit |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    total = Counter()
    for kind, counts in [*outcomes.items(), ("all", None)]:
        counts = total if counts is None else counts
        n = sum(counts.values())
        print(
            f"| {kind} ({n}) | {counts['no digit (422)'] / n:.1%} | {counts['not a digit'] / n:.1%} "
            f"| {counts['uncertain'] / n:.1%} | {counts['confident digit'] / n:.1%} |"
        )
        if kind != "all":
            total.update(counts)
    caught = 1 - total["confident digit"] / sum(total.values())
    print(f"\nNon-digits refused or flagged: {caught:.1%}")


if __name__ == "__main__":
    main()
