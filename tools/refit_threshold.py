"""Refit the uncertainty threshold of a model card on the validation split.

    python tools/refit_threshold.py [--model FILE]

Rebuilds the validation split that training held out (same seed, 5,000 MNIST training
digits put through the engine, and the validation non-digits), runs the exported model on
it with ONNX Runtime, and prints, for several shares of validation digits to flag, the
threshold and how many validation non-digits are then caught. The card's
``uncertain_below`` is the line chosen; `train.py`'s ``uncertain_share`` is its share.
Needs the `train` extra (it uses the training code's split and non-digits).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from digitrec.engine import Recognizer
from digitrec.engine.preprocess import from_uint8_28x28
from digitrec.training import mnist, negatives
from digitrec.training.train import Hyperparameters, digit_scores, through_engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model")
    args = parser.parse_args()

    hp = Hyperparameters()
    data = mnist.load(os.environ.get(mnist.DATA_ENV))
    val_idx = np.random.default_rng(hp.seed).permutation(len(data.train_images))[: hp.validation_size]
    digits = through_engine(data.train_images[val_idx])
    others = negatives.images(hp.validation_negatives, seed=hp.seed + 1)
    recognizer = Recognizer(args.model, threads=0)

    d, n = (digit_scores(recognizer.predict_tensors(from_uint8_28x28(x))) for x in (digits, others))
    print(f"Model {recognizer.version}, card threshold {recognizer.uncertain_below:.4f}\n")
    print("| share of validation digits flagged | threshold | validation non-digits caught |")
    print("| ---: | ---: | ---: |")
    for share in (0.01, 0.0075, 0.005, 0.003):
        threshold = float(np.quantile(d, share))
        print(f"| {share:.2%} | {threshold:.4f} | {(n < threshold).mean():.2%} |")


if __name__ == "__main__":
    main()
