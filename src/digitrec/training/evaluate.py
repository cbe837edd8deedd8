"""Measure a model: accuracy, per-class accuracy, confusion matrix, calibration, report PNGs.

Runs the exported ONNX model through the engine's Recognizer, the same path the server
uses; TensorFlow is not needed here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from digitrec.engine.preprocess import from_uint8_28x28
from digitrec.engine.recognizer import Recognizer

MAX_SHOWN = 200  # misclassified digits drawn in the report (the surest mistakes first)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T)."""
    from scipy.optimize import minimize_scalar

    def nll(t: float) -> float:
        p = softmax(logits / t)[np.arange(len(labels)), labels]
        return float(-np.log(np.clip(p, 1e-12, None)).mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def reliability_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 15
) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) of each non-empty confidence bin of equal width."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    out = []
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            out.append((float(confidence[in_bin].mean()), float(correct[in_bin].mean()), int(in_bin.sum())))
    return out


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """The count-weighted gap between confidence and accuracy over the bins."""
    return float(
        sum(
            count * abs(accuracy - confidence)
            for confidence, accuracy, count in reliability_bins(probabilities, labels, bins)
        )
        / max(len(labels), 1)
    )


def onnx_probabilities(model: Path | Recognizer | None, images: np.ndarray) -> np.ndarray:
    """Probabilities for MNIST-format uint8 images (N, 28, 28), through ONNX Runtime."""
    recognizer = model if isinstance(model, Recognizer) else Recognizer(model, threads=0)
    batches = [
        recognizer.predict_tensors(from_uint8_28x28(images[i : i + 1000]))
        for i in range(0, len(images), 1000)
    ]
    return np.concatenate(batches)


def metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy and calibration on digits: a model with a "not a digit" class (an 11th
    column) is scored on its ten digit columns, i.e. on which digit it would answer."""
    probabilities = probabilities[:, :10]
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    return {
        "accuracy": float((predicted == labels).mean()),
        "per_class_accuracy": [round(float(a), 5) for a in per_class],
        "confusion_matrix": confusion.tolist(),
        "ece": expected_calibration_error(probabilities, labels),
        "errors": int((predicted != labels).sum()),
        "count": int(len(labels)),
    }


def write_report(
    folder: Path, images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray
) -> list[Path]:
    """Confusion matrix, misclassified gallery and reliability diagram as PNGs in ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    result = metrics(probabilities, labels)
    predicted = probabilities.argmax(axis=1)
    written = []

    confusion = np.array(result["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    shown = np.log10(confusion + 1)
    ax.imshow(shown, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            colour = "white" if shown[i, j] > shown.max() / 2 else "black"
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color=colour)
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true")
    ax.set_title(f"Confusion matrix: {result['accuracy']:.2%} of {len(labels):,} correct")
    written.append(_save(fig, folder / "confusion_matrix.png"))

    errors = np.flatnonzero(predicted != labels)
    # The surest mistakes first, and no more than MAX_SHOWN of them: a weak model's thousands
    # made a picture 100,000 px tall that took minutes to draw and that viewers cannot open.
    wrong = errors[np.argsort(-probabilities[errors].max(axis=1), kind="stable")][:MAX_SHOWN]
    columns = 10
    rows = max(1, math.ceil(len(wrong) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, wrong):
        ax.imshow(images[index], cmap="gray_r")
        ax.set_title(
            f"#{index} {labels[index]}→{predicted[index]}\n{probabilities[index].max():.0%}",
            fontsize=7,
        )
    shown_how_many = f"the {len(wrong)} surest of " if len(wrong) < len(errors) else ""
    fig.suptitle(f"{shown_how_many}{len(errors)} misclassified test digits (true→predicted, confidence)")
    written.append(_save(fig, folder / "misclassified.png"))

    centres, accuracies, counts = (
        zip(*reliability_bins(probabilities, labels)) if len(labels) else ((), (), ())
    )
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot(centres, accuracies, "o-", label="model")
    for x, y, n in zip(centres, accuracies, counts):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(0, 6), fontsize=7)
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1.02), ylim=(0, 1.02))
    ax.set_title(f"Reliability (15 bins): ECE {result['ece']:.2%}")
    ax.legend(loc="upper left")
    written.append(_save(fig, folder / "reliability.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
