"""Harden a trained model against what spoils a digit: a stroke across it, a hollow outline,
blur. A few epochs of fine-tuning from its weights on MNIST, where a share of the digits get
one of the spoilers below, the rest as they are.

    python -m digitrec.training.harden --out run/digitrec.onnx [--from src/digitrec/models/digitrec.onnx]

The spoilers are ``spoilers``' (also used by training, ``Hyperparameters.spoiled_share``),
and differ on purpose from the test renderings of ``mnist_c``. Non-digits (``negatives``)
stay in every epoch, so "not a digit" is not forgotten; calibration and export are
training's.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from digitrec.engine.preprocess import from_uint8_28x28
from digitrec.training import mnist, negatives
from digitrec.training.augment import augment_array
from digitrec.training.spoilers import spoil
from digitrec.training.train import (
    CLASSES,
    NOT_A_DIGIT,
    Hyperparameters,
    calibrate_and_export,
    load_model,
    negative_counts,
    save_weights,
    split,
    test_figures,
    through_engine,
    weights_path,
)


@dataclass(frozen=True)
class HardenSettings:
    epochs: int = 5
    learning_rate: float = 4e-4  # cosine-decayed to zero over the epochs
    spoiled_share: float = 0.4  # of the training digits, each epoch
    negatives: int = 10000
    validation_negatives: int = 2000
    seed: int = 20261126


def harden(
    data_folder: str | None,
    base: Path,
    out: Path,
    hs: HardenSettings = HardenSettings(),
    limit: int | None = None,
    log=print,
) -> dict:
    """Fine-tune ``base`` (an ONNX file with its weights beside it) into ``out``; returns the
    card. ``limit``: train on that many digits only, and fewer non-digits (tests)."""
    import keras

    started = time.time()
    keras.utils.set_random_seed(hs.seed)
    rng = np.random.default_rng(hs.seed)
    hp = Hyperparameters()
    data = mnist.load(data_folder)
    train_idx, val_idx = split(data, hp, limit)  # training's split
    x_digits, y_digits = data.train_images[train_idx], data.train_labels[train_idx]
    shares = negative_counts((hs.negatives, hs.validation_negatives), limit)
    neg = negatives.images(shares[0], seed=hs.seed)
    neg_val = negatives.images(shares[1], seed=hs.seed + 1)
    x_val = np.concatenate([through_engine(data.train_images[val_idx]), neg_val])
    y_val = np.concatenate([data.train_labels[val_idx], np.full(len(neg_val), NOT_A_DIGIT, np.uint8)])

    model = load_model(weights_path(base), hp.dropout)
    epoch_size = len(x_digits) + len(neg)
    steps = hs.epochs * -(-epoch_size // hp.batch_size)
    model.compile(
        optimizer=keras.optimizers.AdamW(
            keras.optimizers.schedules.CosineDecay(hs.learning_rate, steps), weight_decay=hp.weight_decay
        ),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=hp.label_smoothing),
    )
    for epoch in range(hs.epochs):
        # Each epoch its own spoilt digits; half of all digits as the engine makes them.
        x = spoil(x_digits, hs.spoiled_share, rng)
        half = rng.random(len(x)) < hp.engine_share
        x[half] = through_engine(x[half])
        x = np.concatenate([x, neg])
        y = np.concatenate([y_digits, np.full(len(neg), NOT_A_DIGIT, np.uint8)])
        shuffled = rng.permutation(len(x))
        x_in = augment_array(from_uint8_28x28(x[shuffled])[..., None], hp.augmentation)
        history = model.fit(
            x_in, keras.ops.one_hot(y[shuffled], CLASSES), batch_size=hp.batch_size, epochs=1, verbose=0
        )
        log(
            f"epoch {epoch + 1}/{hs.epochs}: loss {history.history['loss'][-1]:.4f} ({time.time() - started:.0f} s)"
        )

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_weights(model, weights_path(out))
    calibration = calibrate_and_export(model, x_val, y_val, len(val_idx), out, hp.uncertain_share)
    figures = test_figures(out, data)
    base_card = json.loads(base.with_suffix(".json").read_text())
    card = {
        **{
            k: v
            for k, v in base_card.items()
            if k in ("name", "input", "output", "classes", "parameters", "dataset")
        },
        "version": time.strftime("%Y%m%d-%H%M%S", time.gmtime()),
        "model_file": out.name,
        "hardened_from": base_card.get("version"),
        **figures,
        "temperature": calibration["temperature"],
        "uncertain_below": calibration["uncertain_below"],
        "validation_not_digits_refused": calibration["not_digits_refused"],
        "uncertain_rule": base_card.get("uncertain_rule"),
        "harden_settings": asdict(hs),
        "training_seconds": round(time.time() - started, 1),
        "data_md5": data.md5,
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    log(
        f"MNIST test: {figures['test_accuracy']:.2%} as given, "
        f"{figures['test_accuracy_through_engine']:.2%} through the engine."
    )
    return card


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=None, help=f"MNIST folder (default: ${mnist.DATA_ENV})")
    parser.add_argument(
        "--from", dest="base", default=None, help="ONNX model to start from (default: shipped)"
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=HardenSettings.epochs)
    parser.add_argument("--share", type=float, default=HardenSettings.spoiled_share, help="of digits spoilt")
    parser.add_argument("--learning-rate", type=float, default=HardenSettings.learning_rate)
    parser.add_argument("--limit", type=int, default=None, help="train on this many digits only (tests)")
    args = parser.parse_args()
    from digitrec.engine.recognizer import shipped_model_path

    base = Path(args.base) if args.base else shipped_model_path()
    harden(
        args.data,
        base,
        Path(args.out),
        HardenSettings(epochs=args.epochs, spoiled_share=args.share, learning_rate=args.learning_rate),
        limit=args.limit,
    )


if __name__ == "__main__":
    main()
