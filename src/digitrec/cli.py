"""The ``digitrec`` command: one sub-command per job, each a thin layer over the packages below.

Engine errors are turned into a message on stderr and a non-zero exit code here, once.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from digitrec import __version__
from digitrec.engine.errors import DigitrecError
from digitrec.web.server import DEFAULT_THREADS, run_server

EXIT_BAD_INPUT = 1  # a file could not be read or holds no digit
EXIT_SETUP = 2  # missing data, missing model, wrong options


def _fail(error: DigitrecError) -> None:
    click.echo(f"digitrec: {error.message}", err=True)
    sys.exit(EXIT_SETUP)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digitrec")
def main() -> None:
    """Recognise handwritten digits: serve the web app, predict files, train, evaluate."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes (default: the number of CPU cores).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=DEFAULT_THREADS,
    show_default=True,
    help="Threads per worker (gunicorn gthread; waitress uses workers x threads in all).",
)
@click.option("--model", type=click.Path(dir_okay=False), help="ONNX model to serve.")
@click.option("--dev", is_flag=True, help="Flask's reloading development server, with debug.")
def serve(
    host: str, port: int, workers: int | None, threads: int, model: str | None, dev: bool
) -> None:
    """Start the web app (gunicorn; waitress where gunicorn cannot run, e.g. Windows)."""
    from digitrec.storage import feedback

    if model:
        os.environ["DIGITREC_MODEL"] = str(Path(model).resolve())
    try:
        # Create or upgrade the corrections database once, before any worker starts.
        feedback.upgrade(feedback.default_url())
        os.environ["DIGITREC_SKIP_DB_UPGRADE"] = "1"
        run_server(host, port, workers or os.cpu_count() or 1, threads, dev)
    except DigitrecError as error:
        _fail(error)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--number", is_flag=True, help="Read several digits left to right.")
@click.option("--model", type=click.Path(dir_okay=False), help="ONNX model (default: shipped).")
def predict(files: tuple[str, ...], as_json: bool, number: bool, model: str | None) -> None:
    """Print the digit in each image FILE, one line per file."""
    from digitrec.engine.recognizer import Recognizer

    try:
        recognizer = Recognizer(model)
    except DigitrecError as error:
        _fail(error)
    failed = False
    for name in files:
        try:
            data = Path(name).read_bytes()
            if number:
                reading = recognizer.read_number(data)
                row = {
                    "file": name,
                    "number": reading.number,
                    "uncertain": reading.uncertain,
                    "confidences": [round(d.confidence, 4) for d in reading.digits],
                }
                text = f"{name}: {reading.number}" + (" (not sure)" if reading.uncertain else "")
            else:
                result = recognizer.recognize(data)
                row = {
                    "file": name,
                    "digit": result.digit,
                    "confidence": round(result.confidence, 4),
                    "uncertain": result.uncertain,
                    "probabilities": [round(p, 4) for p in result.probabilities],
                }
                text = f"{name}: {result.digit} ({result.confidence:.1%} sure)" + (
                    ", not sure" if result.uncertain else ""
                )
        except OSError as error:
            failed = True
            row = {"file": name, "error": {"code": "unreadable", "message": error.strerror}}
            text = f"{name}: error: cannot read the file ({error.strerror})"
        except DigitrecError as error:
            failed = True
            row = {"file": name, "error": {"code": error.code, "message": error.message}}
            text = f"{name}: error: {error.message}"
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(text, err="error" in row)
    sys.exit(EXIT_BAD_INPUT if failed else 0)


@main.command()
@click.option("--data", type=click.Path(file_okay=False), help="MNIST folder (or $DIGITREC_DATA).")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Default: the recipe's.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="ONNX file to write.")
@click.option("--limit", type=click.IntRange(100), help="Train on the first N images only (tests).")
@click.option("--seed", type=int, default=None, help="Random seed (default: the recipe's).")
@click.option(
    "--extra-data",
    type=click.Path(dir_okay=False, exists=True),
    help="Corrections exported by `digitrec feedback export` (.npz or IDX images file), mixed in.",
)
def train(
    data: str | None,
    epochs: int | None,
    out: str,
    limit: int | None,
    seed: int | None,
    extra_data: str | None,
):
    """Train the CNN on MNIST, export ONNX and write the model card beside it."""
    import dataclasses

    from digitrec.storage.export import read_corrections

    try:
        from digitrec.training.train import Hyperparameters
        from digitrec.training.train import train as run_training
    except ImportError as error:
        click.echo(
            f"digitrec: training needs TensorFlow ({error.name} is missing): "
            "pip install 'digitrec[train]'",
            err=True,
        )
        sys.exit(EXIT_SETUP)
    hp = Hyperparameters()
    changes = {k: v for k, v in {"epochs": epochs, "seed": seed}.items() if v is not None}
    try:
        extra = read_corrections(Path(extra_data)) if extra_data else None
        card = run_training(
            data, Path(out), dataclasses.replace(hp, **changes), limit=limit, extra=extra
        )
    except DigitrecError as error:
        _fail(error)
    click.echo(
        f"Wrote {out} and its model card: test accuracy {card['test_accuracy']:.2%}, "
        f"ECE {card['test_ece_15_bins']:.2%}, {card['training_seconds']:.0f} s."
    )


@main.command()
@click.option("--data", type=click.Path(file_okay=False), help="MNIST folder (or $DIGITREC_DATA).")
@click.option("--model", type=click.Path(dir_okay=False), help="ONNX model (default: shipped).")
@click.option("--report", type=click.Path(file_okay=False), help="Also write PNG plots here.")
def evaluate(data: str | None, model: str | None, report: str | None) -> None:
    """Accuracy of a model on the 10,000 official MNIST test images, through ONNX Runtime."""
    from digitrec.training import evaluate as measure
    from digitrec.training import mnist

    try:
        images, labels = mnist.load_test_set(data)
        probabilities = measure.onnx_probabilities(model, images)
    except DigitrecError as error:
        _fail(error)
    result = measure.metrics(probabilities, labels)
    click.echo(f"Accuracy: {result['accuracy']:.2%} ({result['errors']} errors in {result['count']:,})")
    click.echo(f"Calibration error (ECE, 15 bins): {result['ece']:.2%}")
    click.echo("Per-class accuracy:")
    for digit, accuracy in enumerate(result["per_class_accuracy"]):
        click.echo(f"  {digit}: {accuracy:.2%}")
    click.echo("Confusion matrix (rows: true digit, columns: predicted):")
    click.echo("      " + "".join(f"{d:>6}" for d in range(10)))
    for digit, row in enumerate(result["confusion_matrix"]):
        click.echo(f"  {digit}:  " + "".join(f"{n:>6}" for n in row))
    if report:
        for path in measure.write_report(Path(report), images, labels, probabilities):
            click.echo(f"Wrote {path}")


@main.group()
def db() -> None:
    """The corrections database ($DIGITREC_DATABASE_URL, default SQLite in the data folder)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or upgrade it to the newest version."""
    from digitrec.storage import feedback

    url = feedback.default_url()
    feedback.upgrade(url)
    click.echo(f"Database is up to date: {_safe_url(url)}")


@main.group("feedback")
def feedback_group() -> None:
    """Corrections sent by users."""


@feedback_group.command("export")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="File to write.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["npz", "idx"]),
    default=None,
    help="npz (default for .npz) or idx (gzip IDX images + labels files, like MNIST).",
)
def feedback_export(out: str, fmt: str | None) -> None:
    """Write all corrections (28x28 images, correct labels) for `digitrec train --extra-data`."""
    from digitrec.storage import feedback
    from digitrec.storage.export import write_corrections

    store = feedback.FeedbackStore(feedback.default_url())
    images, correct, predicted = store.export()
    fmt = fmt or ("idx" if not out.endswith(".npz") else "npz")
    for path in write_corrections(Path(out), images, correct, predicted, fmt):
        click.echo(f"Wrote {path}")
    click.echo(f"{len(images)} corrections exported.")


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
