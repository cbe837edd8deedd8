"""Quality report of a model on what users send: robustness variants, numbers, non-digits.

    python benchmarks/quality.py [--model FILE] [--count 500]

Prints Markdown tables: accuracy on MNIST test digits re-rendered as canvas drawings, scans
and photos; whole-number accuracy on composed numbers; and how often non-digits (letters,
shapes, scribbles) are refused (422 no digit) or flagged uncertain.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter

import numpy as np

from digitrec.engine import NoDigitFound, Recognizer
from digitrec.training import mnist, not_digits, renderings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model")
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()

    recognizer = Recognizer(args.model, threads=0)
    images, labels = mnist.load_test_set(os.environ.get(mnist.DATA_ENV))
    picked = np.random.default_rng(2024).choice(len(images), args.count, replace=False)

    print(f"Model {recognizer.version}; uncertain below {recognizer.uncertain_below:.3f}\n")
    print(f"| variant ({args.count} MNIST test digits each) | accuracy | flagged uncertain |")
    print("| --- | ---: | ---: |")
    for name, render in renderings.VARIANTS.items():
        rng = np.random.default_rng(7)
        results = [recognizer.recognize(render(images[i], rng)) for i in picked]
        accuracy = np.mean([r.digit == labels[i] for r, i in zip(results, picked)])
        uncertain = np.mean([r.uncertain for r in results])
        print(f"| {name} | {accuracy:.2%} | {uncertain:.1%} |")

    for title, compose, sizes in (
        ("Numbers of 2-6 digits", renderings.compose_number, (2, 7)),
        ("Numbers of 2-4 touching digits", renderings.compose_touching_number, (2, 5)),
    ):
        rng = np.random.default_rng(42)
        right = 0
        for _ in range(args.count):
            chosen = rng.choice(len(images), int(rng.integers(*sizes)), replace=False)
            reading = recognizer.read_number(compose([images[i] for i in chosen], rng))
            right += reading.number == "".join(str(labels[i]) for i in chosen)
        print(f"\n{title} read exactly: {right / args.count:.2%} of {args.count}")
    print()

    outcomes: dict[str, Counter] = {}
    for name, data in not_digits.rejection_set(300):
        kind = name.split()[0]
        try:
            result = recognizer.recognize(data)
            outcome = "uncertain" if result.uncertain else "confident digit"
        except NoDigitFound:
            outcome = "no digit (422)"
        outcomes.setdefault(kind, Counter())[outcome] += 1
    print(
        "| not a digit (300 in all) | refused: no digit | flagged uncertain | reported as a confident digit |"
    )
    print("| --- | ---: | ---: | ---: |")
    total = Counter()
    for kind, counts in outcomes.items():
        total.update(counts)
        n = sum(counts.values())
        print(
            f"| {kind} ({n}) | {counts['no digit (422)'] / n:.0%} | {counts['uncertain'] / n:.0%} | {counts['confident digit'] / n:.0%} |"
        )
    n = sum(total.values())
    caught = (total["no digit (422)"] + total["uncertain"]) / n
    print(
        f"| all ({n}) | {total['no digit (422)'] / n:.0%} | {total['uncertain'] / n:.0%} | {total['confident digit'] / n:.0%} |"
    )
    print(f"\nNon-digits refused or flagged: {caught:.0%}")


if __name__ == "__main__":
    main()
