"""Learn from corrections: fine-tune the active model on them, check the result, keep it.

`digitrec retrain` reads top to bottom here: the active version and its weights; the
corrections, a share of drawings held out; a few epochs of fine-tuning on the corrections
mixed with MNIST (replayed so nothing is forgotten) and non-digits; calibration and export;
then the **gate**, which measures the candidate and the active model on the same inputs:

- MNIST test accuracy through the engine (the API's path) may drop by at most 0.05 points,
  and no digit's own accuracy by more than 0.5 points (a flood of wrong labels, such as
  hundreds of 1s called 7, cannot hide in the average);
- no robustness variant (MNIST test digits drawn as canvases, scans, photos...) may drop by
  more than 0.3 points;
- accuracy on the held-out corrections must rise.

A candidate that passes is stored as ``candidate`` (and made active with ``promote``);
one that fails is stored as ``rejected`` with the reason. Either way production is
unchanged until someone, or ``--promote``, promotes a version that passed.
"""

from __future__ import annotations

import io
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from digitrec.engine.decode import decode
from digitrec.engine.errors import NoDigitFound
from digitrec.engine.preprocess import from_uint8_28x28, to_mnist_28x28, to_uint8_28x28
from digitrec.engine.recognizer import Recognizer
from digitrec.errors import DigitrecError
from digitrec.storage.feedback import FeedbackStore
from digitrec.storage.models import SHIPPED, ModelVersions
from digitrec.training import mnist, negatives, renderings
from digitrec.training.augment import augment_array
from digitrec.training.train import (
    CLASSES,
    NOT_A_DIGIT,
    Hyperparameters,
    calibrate_and_export,
    load_model,
    save_weights,
    split,
    through_engine,
    weights_path,
)


class CannotRetrain(DigitrecError):
    code = "cannot_retrain"


@dataclass(frozen=True)
class RetrainSettings:
    epochs: int = 4
    learning_rate: float = 3e-4  # a tenth of training's peak: adjust, do not relearn
    replay: int = 15000  # MNIST training digits per epoch, so nothing is forgotten
    negatives: int = 1500  # non-digits per epoch, so "not a digit" is not forgotten
    validation_negatives: int = 500  # for calibrating
    corrections_share: float = 0.15  # of each epoch, the corrections repeated to fill it
    holdout_share: float = 0.2  # of the drawings corrected, kept out to judge the result
    min_corrections: int = 10
    mnist_drop: float = 0.0005  # the gate, as fractions
    class_drop: float = 0.005
    variant_drop: float = 0.003
    variant_count: int = 300  # MNIST test digits per robustness variant in the gate
    seed: int = 20261125


def retrain(
    data_folder: str | None,
    versions: ModelVersions,
    store: FeedbackStore,
    base_model: Path,
    rs: RetrainSettings = RetrainSettings(),
    promote: bool = False,
    by: str = "retrain",
    log=print,
) -> dict:
    """Make a candidate from the corrections and gate it; returns its card (with
    ``number``, ``status`` and ``gate``)."""
    import keras

    started = time.time()
    keras.utils.set_random_seed(rs.seed)
    rng = np.random.default_rng(rs.seed)

    # --- the active version and the weights to start from.
    active = versions.active_number()
    if active == SHIPPED:
        weights_file = weights_path(base_model)
        if not weights_file.is_file():
            raise CannotRetrain(
                f"Version 1 ({base_model.name}) has no weights to fine-tune ({weights_file.name} is "
                "missing): train it with `digitrec train`, which writes them beside the model."
            )
        weights = weights_file.read_bytes()
        active_model = Recognizer(base_model)
    else:
        onnx, weights, card = versions.files(active)
        if weights is None:
            raise CannotRetrain(f"Version {active} has no weights to fine-tune.")
        active_model = Recognizer(model_bytes=onnx, card=card)

    # --- the corrections: whole drawings held out to judge the result.
    images, labels, groups = store.for_training()
    if len(images) < rs.min_corrections:
        raise CannotRetrain(
            f"There are {len(images)} corrections; retraining needs at least {rs.min_corrections}."
        )
    unique = sorted(set(groups))
    held = set(rng.choice(unique, max(1, round(len(unique) * rs.holdout_share)), replace=False))
    is_held = np.array([g in held for g in groups])
    x_fix, y_fix = images[~is_held], labels[~is_held]
    x_held, y_held = images[is_held], labels[is_held]
    log(
        f"{len(images)} corrections: {len(x_fix)} to learn from, {len(x_held)} held out ({len(held)} drawings)."
    )

    # --- data: MNIST replay (as it is, and as the engine makes it), non-digits, corrections.
    data = mnist.load(data_folder)
    hp = Hyperparameters()
    train_idx, val_idx = split(data, hp)
    # Different digits within an epoch; across epochs they may come again (4 x 15,000 is
    # more than the 55,000 training digits).
    per_epoch_replay = min(rs.replay, len(train_idx))
    replay_idx = np.concatenate(
        [rng.choice(train_idx, per_epoch_replay, replace=False) for _ in range(rs.epochs)]
    )
    x_replay = data.train_images[replay_idx]
    half = len(x_replay) // 2
    x_replay = np.concatenate([x_replay[:half], through_engine(x_replay[half:])])
    y_replay = data.train_labels[replay_idx]
    neg = negatives.images(rs.negatives, seed=rs.seed)
    neg_val = negatives.images(rs.validation_negatives, seed=rs.seed + 1)
    per_epoch = per_epoch_replay + len(neg)
    repeats = max(
        1, round(rs.corrections_share * per_epoch / (1 - rs.corrections_share) / max(len(x_fix), 1))
    )
    x_train = np.concatenate(
        [x_replay, np.repeat(neg, rs.epochs, axis=0), np.tile(x_fix, (rs.epochs * repeats, 1, 1))]
    )
    y_train = np.concatenate(
        [y_replay, np.full(len(neg) * rs.epochs, NOT_A_DIGIT, np.uint8), np.tile(y_fix, rs.epochs * repeats)]
    )
    x_val = np.concatenate([through_engine(data.train_images[val_idx]), neg_val])
    y_val = np.concatenate([data.train_labels[val_idx], np.full(len(neg_val), NOT_A_DIGIT, np.uint8)])

    # --- fine-tuning: the active weights, a small constant rate, a few passes.
    model = load_model(io.BytesIO(weights), hp.dropout)
    model.compile(
        optimizer=keras.optimizers.AdamW(rs.learning_rate, weight_decay=hp.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=hp.label_smoothing),
    )
    shuffled = rng.permutation(len(x_train))
    x_in = augment_array(from_uint8_28x28(x_train[shuffled])[..., None], hp.augmentation)
    y_in = keras.ops.one_hot(y_train[shuffled], CLASSES)
    log(f"Fine-tuning on {len(x_train)} images ({rs.epochs} passes of {len(x_train) // rs.epochs})...")
    model.fit(x_in, y_in, batch_size=hp.batch_size, epochs=1, verbose=0, shuffle=False)

    # --- calibration, export, and the gate (candidate and active, on the same inputs).
    folder = Path(tempfile.mkdtemp(prefix="digitrec-retrain-"))
    out = folder / "candidate.onnx"
    calibration = calibrate_and_export(model, x_val, y_val, len(val_idx), out, hp.uncertain_share)
    buffer = io.BytesIO()
    save_weights(model, buffer)
    card = {
        **{
            k: v
            for k, v in active_model.card.items()
            if k in ("name", "input", "output", "classes", "dataset")
        },
        "version": time.strftime("%Y%m%d-%H%M%S", time.gmtime()),
        "fine_tuned_from": active,
        "temperature": calibration["temperature"],
        "uncertain_below": calibration["uncertain_below"],
        "validation_not_digits_refused": calibration["not_digits_refused"],
        "corrections_used": int(len(x_fix)),
        "corrections_held_out": int(len(x_held)),
        "retrain_settings": asdict(rs),
    }
    candidate = Recognizer(model_bytes=out.read_bytes(), card=card)
    gate = run_gate(candidate, active_model, data, x_held, y_held, rs, log)
    card.update(
        test_accuracy=gate["mnist"]["candidate"],
        test_accuracy_through_engine=gate["mnist"]["candidate"],
        test_per_class_accuracy=gate["per_class"]["candidate"],
        gate=gate,
        training_seconds=round(time.time() - started, 1),
    )
    status = "candidate" if gate["passed"] else "rejected"
    number = versions.add(out.read_bytes(), card, buffer.getvalue(), status=status, reason=gate["verdict"])
    log(f"Version {number}: {status} (the gate's verdict above); {card['training_seconds']:.0f} s.")
    if promote and gate["passed"]:
        versions.promote(number, by)
        log(f"Version {number} is active: every server answers with it within seconds.")
    return {**card, "number": number, "status": "active" if promote and gate["passed"] else status}


def held_out_reason(active: float, candidate: float) -> str | None:
    """Why the held-out corrections fail the gate, or None: they must be read better where
    the active model gets some of them wrong; where it reads them all right already
    (confirmations, or mistakes it no longer makes), they must stay right."""
    if candidate < active or candidate == active < 1.0:
        how = "fell" if candidate < active else "did not improve"
        return f"held-out corrections {how} ({active:.1%} -> {candidate:.1%})"
    return None


def _points(fraction: float) -> str:
    """A drop in accuracy, in percentage points."""
    return f"{fraction * 100:.2f} points"


def run_gate(candidate, active, data, x_held, y_held, rs: RetrainSettings, log) -> dict:
    """Measure both models on the same inputs; the verdict and every figure."""
    test_28 = through_engine(data.test_images)
    scores: dict = {"mnist": {}, "per_class": {}, "held_out": {}, "variants": {}}
    variant_inputs = _variant_inputs(data, rs)
    for name, model in (("candidate", candidate), ("active", active)):
        predicted = _digits(model, test_28)
        scores["mnist"][name] = float((predicted == data.test_labels).mean())
        scores["per_class"][name] = [float((predicted[data.test_labels == d] == d).mean()) for d in range(10)]
        scores["held_out"][name] = float((_digits(model, x_held) == y_held).mean()) if len(x_held) else 0.0
        for variant, (x, y) in variant_inputs.items():
            scores["variants"].setdefault(variant, {})[name] = float((_digits(model, x) == y).mean())
    reasons = []
    drop = scores["mnist"]["active"] - scores["mnist"]["candidate"]
    if drop > rs.mnist_drop:
        reasons.append(f"MNIST test accuracy fell {_points(drop)}")
    for d in range(10):
        fell = scores["per_class"]["active"][d] - scores["per_class"]["candidate"][d]
        if fell > rs.class_drop:
            reasons.append(f"digit {d} fell {_points(fell)} on MNIST")
    for variant, both in scores["variants"].items():
        fell = both["active"] - both["candidate"]
        # More than one digit, too: with a few hundred digits per variant one digit is
        # already 0.2-0.3 points, and a single flip either way is chance, not a trend.
        if fell > rs.variant_drop and fell * len(variant_inputs[variant][1]) > 1.5:
            reasons.append(f"{variant} fell {_points(fell)}")
    if reason := held_out_reason(scores["held_out"]["active"], scores["held_out"]["candidate"]):
        reasons.append(reason)
    passed = not reasons
    verdict = (
        "passed: "
        + f"MNIST {scores['mnist']['active']:.2%} -> {scores['mnist']['candidate']:.2%}, held-out corrections "
        + f"{scores['held_out']['active']:.1%} -> {scores['held_out']['candidate']:.1%}"
        if passed
        else "; ".join(reasons)
    )
    log(f"Gate: {verdict}")
    return {**scores, "passed": passed, "verdict": verdict}


def _digits(model: Recognizer, images: np.ndarray) -> np.ndarray:
    if not len(images):
        return np.zeros(0, int)
    probabilities = np.concatenate(
        [model.predict_tensors(from_uint8_28x28(images[i : i + 1000])) for i in range(0, len(images), 1000)]
    )
    return probabilities[:, :10].argmax(axis=1)


def _variant_inputs(data, rs: RetrainSettings) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The engine's 28x28 of ``variant_count`` MNIST test digits drawn each way users send
    them (digits the engine refuses are left out; both models see the same)."""
    picked = np.random.default_rng(7).choice(len(data.test_images), rs.variant_count, replace=False)
    out = {}
    for name, render in renderings.VARIANTS.items():
        rng = np.random.default_rng(7)
        x, y = [], []
        for i in picked:
            try:
                x.append(to_uint8_28x28(to_mnist_28x28(decode(render(data.test_images[i], rng)))))
                y.append(data.test_labels[i])
            except NoDigitFound:
                continue
        if x:  # small drawings are all refused ("write it bigger"): nothing to compare
            out[name] = (np.array(x, np.uint8).reshape(-1, 28, 28), np.array(y))
    return out
