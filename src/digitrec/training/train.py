"""Train the digit CNN on MNIST with Keras, export it to ONNX and write its model card.

Reads top to bottom: hyper-parameters, data, model, training, calibration, export, card.
This package (training/) is the only place that imports TensorFlow.
"""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from digitrec.engine.errors import NoDigitFound
from digitrec.engine.preprocess import from_uint8_28x28, to_mnist_28x28, to_uint8_28x28
from digitrec.training import evaluate, habits, mnist, negatives, spoilers
from digitrec.training.augment import Augmentation

NOT_A_DIGIT = 10  # the eleventh class
CLASSES = 11


@dataclass(frozen=True)
class Hyperparameters:
    epochs: int = 40
    batch_size: int = 128
    peak_learning_rate: float = 3e-3
    warmup_epochs: int = 1
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    dropout: float = 0.3
    validation_size: int = 5000  # held out from the 60k training images, for choosing
    uncertain_share: float = 0.005  # share of validation digits we accept to flag "not sure"
    seed: int = 20261121  # the validation split (the same for every run), and by default...
    training_seed: int | None = None  # ...the initial weights, shuffling and drawing
    # The "not a digit" class: this many drawings of letters, shapes and scribbles
    # (training.negatives), and a separate set for validation.
    negatives: int = 10000
    validation_negatives: int = 2000
    # Share of training digits shown as the engine turns them into 28x28 again (what the
    # server gives the model for an MNIST digit sent as a PNG) instead of as they are.
    engine_share: float = 0.5
    # Share of training digits shown spoilt (a stroke across, a hollow outline, blur:
    # training.spoilers), each digit with its own spoiler drawn once before training.
    # Run 7 (docs/model.md) used 0.15; the shipped model (run 6) none.
    spoiled_share: float = 0.0
    # Share of the training ones shown a second time with a flag (training.habits): many
    # people write a "1" so, MNIST's writers seldom did. Runs 1-13 (docs/model.md) none.
    flagged_ones: float = 0.0
    # Fine-tuning: start from these weights (a .weights.npz of an earlier run) instead of
    # random ones; the schedule is the same, so give a lower peak rate and fewer epochs.
    initial_weights: str | None = None
    # Distillation: the .weights.npz of trained runs whose averaged probabilities are blended
    # into the targets, ``distillation`` of them and the rest the (smoothed) labels.
    teachers: tuple[str, ...] = ()
    distillation: float = 0.5
    augmentation: Augmentation = field(default_factory=Augmentation)

    @property
    def run_seed(self) -> int:
        """The seed of this run's weights, shuffling and drawing."""
        return self.seed if self.training_seed is None else self.training_seed


def build_model(dropout: float, members: int = 1, name: str = "digitrec_cnn"):
    """Batch-normalised conv stacks with strided 5x5 convs instead of pooling; logits out.

    With ``members`` > 1, that many such networks side by side (an ensemble, one graph):
    the log of their averaged probabilities comes out, which softmax turns back into
    that average, so training, calibration and export treat it as one model's logits."""
    import keras
    from keras import layers

    if members > 1:
        inputs = keras.Input((28, 28, 1), name="image")
        each = [layers.Softmax()(build_model(dropout, name=f"member_{i}")(inputs)) for i in range(members)]
        mean = layers.Average()(each)
        logits = layers.Lambda(lambda p: keras.ops.log(keras.ops.maximum(p, 1e-12)), name="logits")(mean)
        return keras.Model(inputs, logits, name=f"digitrec_ensemble_{members}")

    def conv(x, filters, size, strides=1, padding="valid"):
        x = layers.Conv2D(filters, size, strides=strides, padding=padding, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = keras.Input((28, 28, 1), name="image")
    x = conv(inputs, 32, 3)
    x = conv(x, 32, 3)
    x = conv(x, 32, 5, strides=2, padding="same")
    x = layers.Dropout(dropout)(x)
    x = conv(x, 64, 3)
    x = conv(x, 64, 3)
    x = conv(x, 64, 5, strides=2, padding="same")
    x = layers.Dropout(dropout)(x)
    x = conv(x, 128, 4)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    logits = layers.Dense(CLASSES, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


@dataclass
class Prepared:
    """Everything a training run feeds the model, as numpy arrays (see ``prepare``)."""

    data: mnist.Mnist
    versions: np.ndarray  # (N, 28, 28, 3) uint8: each training image as it is, engine-made, spoilt
    labels: np.ndarray  # (N,) 0-9, or NOT_A_DIGIT
    x_val: np.ndarray  # (M, 28, 28) uint8: validation digits as the engine makes them, then non-digits
    y_val: np.ndarray
    digits_val: int  # how many of x_val are digits
    negatives: int  # how many training images are non-digits
    corrections: int  # how many training images came from ``extra``


def prepare(
    data_folder: str | None,
    hp: Hyperparameters = Hyperparameters(),
    limit: int | None = None,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
) -> Prepared:
    """The training and validation arrays of a run: digits (and ``extra`` ones), non-digits,
    and the versions the training model picks from. CPU work, done once before training."""
    seed = hp.run_seed
    # --- data: hold out a validation split; the test set is only for the final report.
    data = mnist.load(data_folder)
    train_idx, val_idx = split(data, hp, limit)
    x_train, y_train = data.train_images[train_idx], data.train_labels[train_idx]
    if extra is not None:
        x_train = np.concatenate([x_train, extra[0]])
        y_train = np.concatenate([y_train, extra[1]])
    if hp.flagged_ones:
        flagged = habits.flagged_ones(x_train, y_train, hp.flagged_ones, np.random.default_rng(seed + 2))
        x_train = np.concatenate([x_train, flagged])
        y_train = np.concatenate([y_train, np.ones(len(flagged), y_train.dtype)])
    # Validation digits are given as the server gives them to the model.
    x_val = through_engine(data.train_images[val_idx])
    y_val = data.train_labels[val_idx]
    shares = negative_counts((hp.negatives, hp.validation_negatives), limit)
    neg_train = negatives.images(shares[0], seed=seed)
    neg_val = negatives.images(shares[1], seed=hp.seed + 1)

    engine_made = np.concatenate([through_engine(x_train), neg_train])
    spoilt = None  # with spoiled_share: one spoilt copy of every digit, half as the engine makes them
    if hp.spoiled_share:
        rng = np.random.default_rng(seed)
        copy = spoilers.spoil(x_train, 1.0, rng)
        remade = rng.random(len(copy)) < hp.engine_share
        copy[remade] = through_engine(copy[remade])
        spoilt = np.concatenate([copy, neg_train])
    as_is = np.concatenate([x_train, neg_train])
    return Prepared(
        data=data,
        versions=np.stack([as_is, engine_made, as_is if spoilt is None else spoilt], axis=-1),
        labels=np.concatenate([y_train, np.full(len(neg_train), NOT_A_DIGIT, y_train.dtype)]),
        x_val=np.concatenate([x_val, neg_val]),
        y_val=np.concatenate([y_val, np.full(len(neg_val), NOT_A_DIGIT, y_val.dtype)]),
        digits_val=len(x_val),
        negatives=len(neg_train),
        corrections=0 if extra is None else len(extra[0]),
    )


def fit(prepared: Prepared, hp: Hyperparameters, verbose: int = 1, callbacks=()):
    """Train the network on ``prepared``; returns (model, history). Keras 3 only, no
    TensorFlow: runs on any backend (``KERAS_BACKEND=jax`` on a GPU machine). The training
    model is an ``Augment`` layer (augment.augment_layer) before the network; with
    ``hp.teachers``, the targets are the labels blended with the teachers' probabilities."""
    import keras

    from digitrec.training.augment import augment_layer

    seed = hp.run_seed
    keras.utils.set_random_seed(seed)
    model = (
        load_model(Path(hp.initial_weights), hp.dropout) if hp.initial_weights else build_model(hp.dropout)
    )
    versions = keras.Input((28, 28, 3), dtype="uint8", name="versions")
    image = augment_layer(hp.augmentation, hp.engine_share, hp.spoiled_share, seed)(versions)
    logits = model(image)
    if hp.teachers:
        teachers = [load_model(Path(p), hp.dropout, f"teacher_{i}") for i, p in enumerate(hp.teachers)]
        for teacher in teachers:
            teacher.trainable = False
        taught = [keras.layers.Softmax()(teacher(image, training=False)) for teacher in teachers]
        taught = taught[0] if len(taught) == 1 else keras.layers.Average()(taught)
        logits = keras.layers.Concatenate(name="student_and_teachers")([logits, taught])
    trainer = keras.Model(versions, logits)

    steps_per_epoch = math.ceil(len(prepared.labels) / hp.batch_size)
    warmup = min(hp.warmup_epochs, hp.epochs - 1) * steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=hp.peak_learning_rate / 10 if warmup else hp.peak_learning_rate,
        decay_steps=max(hp.epochs * steps_per_epoch - warmup, 1),
        warmup_target=hp.peak_learning_rate if warmup else None,
        warmup_steps=warmup,
    )
    trainer.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=hp.weight_decay),
        loss=distillation_loss(hp.label_smoothing, hp.distillation)
        if hp.teachers
        else keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=hp.label_smoothing),
        metrics=[student_accuracy],
    )
    one_hot = lambda y: np.eye(CLASSES, dtype=np.float32)[y]  # noqa: E731
    val_versions = np.repeat(prepared.x_val[..., None], 3, axis=-1)
    history = trainer.fit(
        prepared.versions,
        one_hot(prepared.labels),
        batch_size=hp.batch_size,
        epochs=hp.epochs,
        validation_data=(val_versions, one_hot(prepared.y_val)),
        shuffle=True,
        verbose=verbose,
        callbacks=list(callbacks),
    )
    return model, history


def student_accuracy(y_true, y_pred):
    """Accuracy of the network being trained (the first CLASSES outputs of the training model)."""
    import keras

    return keras.metrics.categorical_accuracy(y_true, y_pred[:, :CLASSES])


def distillation_loss(label_smoothing: float, weight: float):
    """Cross-entropy of the student's logits against the smoothed labels blended with the
    teachers' averaged probabilities (``weight`` of the teachers', the rest the labels')."""
    from keras import ops

    def loss(y_true, y_pred):
        student, taught = y_pred[:, :CLASSES], y_pred[:, CLASSES:]
        smoothed = y_true * (1 - label_smoothing) + label_smoothing / CLASSES
        target = (1 - weight) * smoothed + weight * taught
        return -ops.sum(target * ops.log_softmax(student, axis=-1), axis=-1)

    return loss


def train(
    data_folder: str | None,
    out: Path,
    hp: Hyperparameters = Hyperparameters(),
    limit: int | None = None,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    verbose: int = 1,
) -> dict:
    """Train, calibrate and export; returns the model card (also written beside ``out``)."""
    started = time.time()
    prepared = prepare(data_folder, hp, limit, extra)
    model, history = fit(prepared, hp, verbose)
    return finish(
        model,
        prepared,
        hp,
        Path(out),
        history={k: [round(float(v), 5) for v in vals] for k, vals in history.history.items()},
        training_seconds=round(time.time() - started, 1),
    )


def finish(model, prepared: Prepared, hp: Hyperparameters, out: Path, **specific) -> dict:
    """Keep the trained weights beside ``out`` (what `digitrec retrain` fine-tunes), calibrate,
    export to ONNX and write the model card; returns the card."""
    out.parent.mkdir(parents=True, exist_ok=True)
    save_weights(model, weights_path(out))
    # --- calibration and export: the ONNX file outputs calibrated probabilities.
    calibration = calibrate_and_export(
        model, prepared.x_val, prepared.y_val, prepared.digits_val, out, hp.uncertain_share
    )
    # --- the model card: measured through ONNX Runtime, the path the server uses.
    return write_card(
        out,
        prepared.data,
        model,
        calibration,
        prepared.y_val,
        prepared.digits_val,
        hp,
        negatives=prepared.negatives,
        epochs=hp.epochs,
        hyperparameters=asdict(hp),
        train_images=int(len(prepared.labels)),
        corrections_used=prepared.corrections,
        **specific,
    )


def write_card(
    out: Path, data, model, calibration: dict, y_val, digits_val: int, hp: Hyperparameters, **specific
):
    """The model card of the exported ``out`` (written beside it as .json, and returned):
    what every model has, measured through ONNX Runtime, then ``specific``."""
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf

    val_probs = calibration["validation_probabilities"]
    card = {
        "name": "digitrec-cnn",
        "version": time.strftime("%Y%m%d-%H%M%S", time.gmtime()),
        "model_file": out.name,
        "input": "float32 (N, 28, 28, 1), ink 1.0 on background 0.0, MNIST-style centring",
        "output": "float32 (N, 11), calibrated probabilities of digits 0-9 and of not a digit",
        "classes": [str(d) for d in range(10)] + ["not a digit"],
        **test_figures(out, data),
        "validation_accuracy": float((val_probs[:digits_val].argmax(1) == y_val[:digits_val]).mean()),
        "validation_ece_15_bins": evaluate.expected_calibration_error(val_probs, y_val),
        "validation_not_digits_refused": float(calibration["not_digits_refused"]),
        "temperature": calibration["temperature"],
        "uncertain_below": calibration["uncertain_below"],
        "uncertain_rule": (
            f"'not a digit' wins, or the best digit's confidence is below the threshold that "
            f"together refuse {hp.uncertain_share:.1%} of validation digits"
        ),
        "parameters": int(model.count_params()),
        "seed": hp.seed,
        "validation_images": int(len(y_val)),
        **specific,
        "data_md5": data.md5,
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
        },
        "dataset": "MNIST (LeCun, Cortes, Burges), CC BY-SA 3.0",
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def split(data: mnist.Mnist, hp: Hyperparameters, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation) indices of the 60,000 training images: the same split for
    training, `retrain` and `harden`, so validation digits are never trained on. ``limit``
    keeps the first ``limit`` for training and a fifth as many (at least 100) to validate."""
    order = np.random.default_rng(hp.seed).permutation(len(data.train_images))
    val_idx, train_idx = order[: hp.validation_size], order[hp.validation_size :]
    if limit:
        train_idx, val_idx = train_idx[:limit], val_idx[: max(limit // 5, 100)]
    return train_idx, val_idx


def negative_counts(counts: tuple[int, int], limit: int | None) -> tuple[int, ...]:
    """How many non-digits to draw for (training, validation): with ``limit`` digits only,
    as many in proportion to the 55,000 (at least 20 each)."""
    return tuple(max(n * limit // 55000, 20) for n in counts) if limit else counts


def test_figures(model_file: Path, data: mnist.Mnist) -> dict:
    """The model card's MNIST test figures, measured through ONNX Runtime (the server's
    path): on the test digits as they are, and as the engine makes them from files."""
    test = evaluate.metrics(evaluate.onnx_probabilities(model_file, data.test_images), data.test_labels)
    served = evaluate.onnx_probabilities(model_file, through_engine(data.test_images))
    return {
        "test_accuracy": test["accuracy"],
        "test_per_class_accuracy": test["per_class_accuracy"],
        "test_confusion_matrix": test["confusion_matrix"],
        "test_ece_15_bins": test["ece"],
        "test_errors": test["errors"],
        "test_accuracy_through_engine": evaluate.metrics(served, data.test_labels)["accuracy"],
    }


def digit_scores(probabilities: np.ndarray) -> np.ndarray:
    """(N, 11) probabilities -> how sure each is a digit: 0 where "not a digit" wins, else
    the best digit's probability. The uncertainty threshold is a quantile of these."""
    best = probabilities[:, :NOT_A_DIGIT].max(axis=1)
    return np.where(probabilities.argmax(1) == NOT_A_DIGIT, 0.0, best)


def calibrate_and_export(
    model, x_val: np.ndarray, y_val: np.ndarray, digits_val: int, out: Path, uncertain_share: float
) -> dict:
    """Fit one temperature on the validation logits, choose the uncertainty threshold, and
    export logits / T -> softmax to ``out`` as ONNX. ``x_val`` holds ``digits_val`` digits
    first, then non-digits (label NOT_A_DIGIT)."""
    import keras

    val_logits = model.predict(from_uint8_28x28(x_val)[..., None], batch_size=512, verbose=0)
    temperature = evaluate.fit_temperature(val_logits, y_val)
    val_probs = evaluate.softmax(val_logits / temperature)
    # A digit is refused when "not a digit" wins or the best digit is less sure than this:
    # the threshold makes the two together refuse ``uncertain_share`` of validation digits.
    digit_score = digit_scores(val_probs)
    uncertain_below = float(np.quantile(digit_score[:digits_val], uncertain_share))
    negatives_seen = len(x_val) > digits_val
    caught = float((digit_score[digits_val:] < uncertain_below).mean()) if negatives_seen else 0.0

    inputs = keras.Input((28, 28, 1), name="image")
    probabilities = keras.layers.Softmax(name="probabilities")(
        keras.layers.Rescaling(1.0 / temperature)(model(inputs))
    )
    exported = keras.Model(inputs, probabilities)
    exported.predict(np.zeros((1, 28, 28, 1), "float32"), verbose=0)
    exported.export(str(out), format="onnx", verbose=False)
    return {
        "temperature": temperature,
        "uncertain_below": uncertain_below,
        "validation_probabilities": val_probs,
        "not_digits_refused": caught,
    }


def through_engine(images: np.ndarray) -> np.ndarray:
    """MNIST uint8 28x28 digits as the engine makes them again when they are sent as files
    (found, cropped, scaled and centred anew); a digit the engine refuses stays as it is."""
    out = images.copy()
    for i, image in enumerate(images):
        try:
            out[i] = to_uint8_28x28(to_mnist_28x28(image))
        except NoDigitFound:
            continue
    return out


def weights_path(model_file: Path) -> Path:
    """Where the weights of an exported model are kept: digitrec.onnx -> digitrec.weights.npz."""
    return model_file.with_suffix(".weights.npz")


def save_weights(model, path: Path) -> None:
    """The model's weights (not the optimiser's), in layer order, as a compressed npz: any
    Keras backend can load them into ``build_model``."""
    weights = model.get_weights()
    np.savez_compressed(path, **{f"w{i:03d}": w for i, w in enumerate(weights)})


def load_model(path, dropout: float, name: str = "digitrec_cnn"):
    """The network whose weights ``save_weights`` wrote to ``path`` (a file or a file-like
    object): one model, or an ensemble of as many as the weights hold (``name``: the
    network's, where several are used together, as teachers)."""
    with np.load(path) as stored:
        weights = [stored[f"w{i:03d}"] for i in range(len(stored.files))]
    # Each network starts with one convolution of the 1-channel image. Counted, not built:
    # building a spare network would draw random numbers, and change what follows them.
    members = sum(1 for w in weights if w.ndim == 4 and w.shape[2] == 1)
    model = build_model(dropout, max(members, 1), name)
    model.set_weights(weights)  # refuses weights that are not this network's
    return model
