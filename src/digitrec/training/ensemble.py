"""Several trained models as one: their calibrated probabilities averaged, in one ONNX graph.

    digitrec ensemble --out src/digitrec/models/digitrec.onnx run6/digitrec.onnx run10/digitrec.onnx

Models trained apart make different mistakes, so their average makes fewer than any of
them (docs/model.md). Each member is calibrated on the validation split first (its own
temperature, folded into its last layer), so that a sure member and a shy one weigh
alike; then the whole is calibrated again and exported like any model, with its weights
beside it for `digitrec retrain`, which fine-tunes the ensemble as one network.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from digitrec.engine.preprocess import from_uint8_28x28
from digitrec.errors import DigitrecError
from digitrec.training import evaluate, mnist, negatives
from digitrec.training.train import (
    NOT_A_DIGIT,
    Hyperparameters,
    build_model,
    calibrate_and_export,
    load_model,
    negative_counts,
    save_weights,
    split,
    through_engine,
    weights_path,
    write_card,
)


class CannotCombine(DigitrecError):
    """Members that do not make an ensemble: fewer than two, one without its weights, or
    one that is an ensemble itself."""


def combine(
    members: list[Path],
    data_folder: str | None,
    out: Path,
    hp: Hyperparameters = Hyperparameters(),
    limit: int | None = None,
) -> dict:
    """Write the ensemble of ``members`` (ONNX files with their weights beside them, or the
    .weights.npz files) to ``out``, with its weights and card; returns the card. ``limit``:
    validate on as few digits as training with that ``limit`` does (tests)."""
    import keras

    if len(members) < 2:
        raise CannotCombine("An ensemble needs two models or more.")
    sources = [Path(m) if str(m).endswith(".npz") else weights_path(Path(m)) for m in members]
    for member, source in zip(members, sources):
        if not source.is_file():
            raise CannotCombine(
                f"{member} has no weights beside it ({source.name}): `digitrec train` writes them."
            )
    started = time.time()
    keras.utils.set_random_seed(hp.seed)
    data = mnist.load(data_folder)
    _, val_idx = split(data, hp, limit)
    count = negative_counts((hp.validation_negatives,), limit)[0]
    neg_val = negatives.images(count, seed=hp.seed + 1)  # training's
    x_val = np.concatenate([through_engine(data.train_images[val_idx]), neg_val])
    y_val = np.concatenate([data.train_labels[val_idx], np.full(len(neg_val), NOT_A_DIGIT, np.uint8)])

    weights, temperatures = [], []
    for member, source in zip(members, sources):
        model = load_model(source, hp.dropout)
        if any(isinstance(layer, keras.Model) for layer in model.layers):  # networks inside it
            raise CannotCombine(f"{member} is an ensemble already: give its members instead.")
        logits = model.predict(from_uint8_28x28(x_val)[..., None], batch_size=512, verbose=0)
        temperature = evaluate.fit_temperature(logits, y_val)
        member_weights = model.get_weights()
        member_weights[-2] = member_weights[-2] / temperature  # the last layer's kernel...
        member_weights[-1] = member_weights[-1] / temperature  # ...and bias: logits / T
        weights += member_weights
        temperatures.append(round(float(temperature), 4))

    ensemble = build_model(hp.dropout, len(members))
    ensemble.set_weights(weights)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_weights(ensemble, weights_path(out))
    calibration = calibrate_and_export(ensemble, x_val, y_val, len(val_idx), out, hp.uncertain_share)
    return write_card(
        out,
        data,
        ensemble,
        calibration,
        y_val,
        len(val_idx),
        hp,
        members=[_described(Path(m), t) for m, t in zip(members, temperatures)],
        training_seconds=round(time.time() - started, 1),
    )


def _described(member: Path, temperature: float) -> dict:
    """A member as the ensemble's card records it: its file, the version and figures its
    own card gives (when it has one beside it), and its temperature here."""
    card_file = member.with_suffix(".json") if member.suffix == ".onnx" else None
    card = json.loads(card_file.read_text()) if card_file and card_file.is_file() else {}
    keep = ("version", "test_accuracy", "test_accuracy_through_engine", "validation_accuracy", "seed")
    return {"file": member.name, **{k: card[k] for k in keep if k in card}, "temperature": temperature}
