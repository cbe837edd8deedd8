"""The ``digitrec`` command: one sub-command per job, each a thin layer over the packages below.

Every error a user can cause (a typed ``DigitrecError``, or a file the system refuses) is
turned into one sentence on stderr and an exit code here, once, by ``Commands``; options
reach the app as an explicit mapping, never through the environment.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from digitrec import __version__, settings
from digitrec.errors import DigitrecError
from digitrec.web.server import DEFAULT_THREADS, run_server

EXIT_BAD_INPUT = 1  # a file could not be read or holds no digit
EXIT_SETUP = 2  # missing data, model, extra or permission; a bad option or setting
EXIT_UNAVAILABLE = 3  # the corrections database cannot be reached: try again later
EXIT_NOT_PROMOTED = 4  # retrain --promote: the new version failed the gate; nothing changed


class CommandFailed(click.ClickException):
    """A typed error (or a file the system refused) as one sentence and an exit code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"digitrec: {self.message}", err=True)


class Commands(click.Group):
    """The edge of the CLI: every error a user can cause ends here as one sentence."""

    def invoke(self, ctx: click.Context):
        from digitrec.storage.feedback import OutdatedSchema, StorageUnavailable

        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # the reader went away (`digitrec predict ... | head`)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_BAD_INPUT)
        except OutdatedSchema as error:  # waiting will not help: the user must act
            raise CommandFailed(error.message, EXIT_SETUP) from None
        except StorageUnavailable as error:
            raise CommandFailed(error.message, EXIT_UNAVAILABLE) from None
        except DigitrecError as error:
            raise CommandFailed(error.message, EXIT_SETUP) from None
        except OSError as error:  # e.g. an output folder that cannot be written
            where = f" {error.filename}" if error.filename else ""
            raise CommandFailed(f"cannot use{where}: {error.strerror or error}.", EXIT_SETUP) from None


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
    help="Python threads per worker (granian; waitress uses workers x threads in all).",
)
@click.option("--model", type=click.Path(dir_okay=False), help="ONNX model to serve.")
@click.option("--dev", is_flag=True, help="Flask's reloading development server, with debug.")
def serve(host: str, port: int, workers: int | None, threads: int, model: str | None, dev: bool) -> None:
    """Start the web app (granian; waitress on Windows)."""
    from digitrec.engine.recognizer import Recognizer
    from digitrec.storage import feedback

    config = {"MODEL": str(Path(model).resolve())} if model else {}
    values = settings.resolve(config)  # a bad DIGITREC_* value is refused here, once
    Recognizer(values["MODEL"])  # a missing or broken model is refused before any worker starts
    url = settings.database_url(values)
    try:
        # Create or upgrade the corrections database once, before any worker starts.
        feedback.upgrade(url)
    except feedback.StorageUnavailable as error:
        click.echo(
            f"digitrec: warning: {error.message} Serving predictions anyway; corrections answer "
            "503 and /api/v1/ready says not ready until the database is back (its schema is "
            "created or upgraded then).",
            err=True,
        )
        feedback.upgrade_when_back(url)
    run_server(host, port, workers or os.cpu_count() or 1, threads, dev, config)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--number", is_flag=True, help="Read several digits left to right.")
@click.option("--model", type=click.Path(dir_okay=False), help="ONNX model (default: shipped).")
def predict(files: tuple[str, ...], as_json: bool, number: bool, model: str | None) -> None:
    """Print the digit in each image FILE, one line per file ("-": standard input; a
    folder: every file in it).

    With --json, each line is the API's answer for that file, with "file" in place of
    "request_id" and "elapsed_ms"; with --number, as the API's ?multi=1."""
    from digitrec.engine.recognizer import Recognizer
    from digitrec.engine.results import answer_json

    if files.count("-") > 1:
        raise click.UsageError('"-" (standard input) can be given once only.')
    recognizer = Recognizer(model)
    failed = False
    for name in _files_in(files):
        try:
            if name != "-" and Path(name).is_dir():  # a folder with no files in it
                raise OSError(0, "the folder has no files")
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
            answer = answer_json(recognizer, data, number)
            if len(answer["digits"]) == 1 and answer["not_digit"] > answer["confidence"]:
                # Led by what it is, not by a digit the model gives under 50 %.
                text = f"{name}: does not look like a digit (best guess {answer['digit']}, {answer['confidence']:.1%})"
            elif all(d["not_digit"] > d["confidence"] for d in answer["digits"]):
                text = f"{name}: does not look like a number: none of its {len(answer['digits'])} marks looks like a digit"
            else:
                text = f"{name}: {answer['number']} ({answer['confidence']:.1%} sure)" + (
                    ", one of its digits does not look like a digit"
                    if any(d["not_digit"] > d["confidence"] for d in answer["digits"])
                    else ", not sure"
                    if answer["uncertain"]
                    else ""
                )
            if "looks_like_number" in answer:
                text += f"; it looks like the number {answer['looks_like_number']}: use --number"
            row = {"file": name, **answer, "model": recognizer.version}
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


def _files_in(names: tuple[str, ...]) -> list[str]:
    """The names given, each folder replaced by the files in it, by name (hidden ones and
    subfolders left out); an empty folder stays, to be reported."""
    out = []
    for name in names:
        folder = Path(name)
        inside = (
            sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
            if name != "-" and folder.is_dir()
            else None
        )
        out += [str(f) for f in inside] if inside else [name]
    return out


@main.command()
@click.option("--data", type=click.Path(file_okay=False), help="MNIST folder (or $DIGITREC_DATA).")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Default: the recipe's.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="ONNX file to write.")
@click.option("--limit", type=click.IntRange(100), help="Train on the first N images only (tests).")
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Random seed of the weights, shuffling and drawing (default: the recipe's); "
    "the validation split stays the recipe's.",
)
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

    from digitrec.errors import require
    from digitrec.storage.export import read_corrections

    extra = read_corrections(Path(extra_data)) if extra_data else None
    for module in ("tensorflow", "keras", "tf2onnx", "onnx", "scipy"):
        require(module, "train", "Training")
    from digitrec.training.train import Hyperparameters
    from digitrec.training.train import train as run_training

    hp = Hyperparameters()
    changes = {k: v for k, v in {"epochs": epochs, "training_seed": seed}.items() if v is not None}
    card = run_training(data, Path(out), dataclasses.replace(hp, **changes), limit=limit, extra=extra)
    click.echo(
        f"Wrote {out} and its model card: test accuracy {card['test_accuracy']:.2%}, "
        f"ECE {card['test_ece_15_bins']:.2%}, {card['training_seconds']:.0f} s."
    )


@main.command()
@click.argument("members", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--data", type=click.Path(file_okay=False), help="MNIST folder (or $DIGITREC_DATA).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="ONNX file to write.")
def ensemble(members: tuple[str, ...], data: str | None, out: str) -> None:
    """Average trained models (their ONNX files, weights beside them) into one ONNX model."""
    from digitrec.errors import require

    for module in ("tensorflow", "keras", "tf2onnx", "onnx", "scipy"):
        require(module, "train", "Combining models")
    from digitrec.training.ensemble import combine

    card = combine([Path(m) for m in members], data, Path(out))
    click.echo(
        f"Wrote {out} ({len(members)} models averaged) and its model card: test accuracy "
        f"{card['test_accuracy']:.2%}, through the engine {card['test_accuracy_through_engine']:.2%}, "
        f"ECE {card['test_ece_15_bins']:.2%}."
    )


@main.command()
@click.option("--data", type=click.Path(file_okay=False), help="MNIST folder (or $DIGITREC_DATA).")
@click.option("--model", type=click.Path(dir_okay=False), help="ONNX model (default: shipped).")
@click.option("--report", type=click.Path(file_okay=False), help="Also write PNG plots here.")
def evaluate(data: str | None, model: str | None, report: str | None) -> None:
    """Accuracy of a model on the 10,000 official MNIST test images, through ONNX Runtime."""
    from digitrec.engine.recognizer import Recognizer
    from digitrec.errors import require
    from digitrec.training import evaluate as measure
    from digitrec.training import mnist

    if report:  # say so before the evaluation, not after it
        require("matplotlib", "train", "Writing the report (--report)")
    recognizer = Recognizer(model, threads=0)  # a missing model is refused before MNIST is read
    images, labels = mnist.load_test_set(data)
    probabilities = measure.onnx_probabilities(recognizer, images)
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
    """The corrections database (DIGITREC_DATABASE_URL, default SQLite in the data folder)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or upgrade it to the newest version."""
    from digitrec.storage import feedback

    url = settings.database_url(settings.resolve())
    before, head = feedback.upgrade(url), feedback.head_revision()
    where = feedback.safe_url(url)
    if before == head:
        click.echo(f"Database is up to date (revision {head}): {where}")
    elif before is None:
        click.echo(f"Database created (revision {head}): {where}")
    else:
        click.echo(f"Database upgraded from revision {before} to {head}: {where}")


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

    store = feedback.FeedbackStore(settings.database_url(settings.resolve()))
    images, correct, predicted = store.export()
    fmt = fmt or ("idx" if not out.endswith(".npz") else "npz")
    for path in write_corrections(Path(out), images, correct, predicted, fmt):
        click.echo(f"Wrote {path}")
    click.echo(f"{len(images)} corrections exported.")


@main.group("model")
def model_group() -> None:
    """Model versions shared by every server on the database: list, promote, roll back."""


def shipped_path() -> Path:
    from digitrec.engine.recognizer import shipped_model_path

    return shipped_model_path()


def _model_versions():
    """The versions in the database of the settings; version 1 is the model servers start
    with (DIGITREC_MODEL, default the shipped one)."""
    from digitrec.engine.recognizer import Recognizer
    from digitrec.storage.feedback import FeedbackStore
    from digitrec.storage.models import ModelVersions

    values = settings.resolve()
    store = FeedbackStore(settings.database_url(values))
    store.check()  # a database from before model versions: say `digitrec db upgrade`
    return ModelVersions(store, Recognizer(values["MODEL"]).card)


def _who() -> str:
    import getpass

    try:
        return f"{getpass.getuser()} (cli)"
    except (KeyError, OSError):  # no user name in this environment
        return "cli"


@model_group.command("list")
def model_list() -> None:
    """Every version, newest first: number, status, MNIST test accuracy, when and why."""
    for v in _model_versions().list():
        accuracy = v.card.get("test_accuracy")
        score = f"{accuracy:.2%}" if isinstance(accuracy, float) else "-"
        when = v.promoted_at or v.created_at
        line = f"{v.number:>3}  {v.status:<9}  {v.name:<16}  MNIST {score:>7}"
        line += f"  {when:%Y-%m-%d %H:%M}" if when else "  shipped"
        line += f"  by {v.promoted_by}" if v.promoted_by else ""
        line += f"  ({v.reason})" if v.reason else ""
        click.echo(line)


class VersionNumber(click.ParamType):
    """A model version's number, as `digitrec model list` shows it."""

    name = "number"

    def convert(self, value, param, ctx):
        text = str(value)
        if text.isascii() and text.isdigit() and int(text) >= 1:
            return int(text)
        self.fail(
            f"{value!r} is not a version number: give one that `digitrec model list` shows, e.g. 2.",
            param,
            ctx,
        )


@model_group.command("promote")
@click.argument("number", type=VersionNumber())
def model_promote(number: int) -> None:
    """Make version NUMBER the one every server answers with (within DIGITREC_MODEL_POLL s)."""
    version = _model_versions().promote(number, _who())
    click.echo(f"Version {version.number} ({version.name}) is active.")


@model_group.command("rollback")
def model_rollback() -> None:
    """Go back to the version that was active before the active one."""
    version = _model_versions().rollback(_who())
    click.echo(f"Rolled back: version {version.number} ({version.name}) is active.")


@main.command()
@click.option("--data", type=click.Path(file_okay=False), help="MNIST folder (or $DIGITREC_DATA).")
@click.option("--promote", is_flag=True, help="Make the new version active if it passes the gate.")
def retrain(data: str | None, promote: bool) -> None:
    """Fine-tune the active model on the stored corrections and gate the result.

    The new version is kept in the database as a candidate (or as rejected, with the
    reason); with --promote, one that passed becomes active on every server."""
    from digitrec.errors import require

    for module in ("tensorflow", "keras", "tf2onnx", "onnx", "scipy"):
        require(module, "train", "Retraining")
    from digitrec.training.retrain import retrain as run_retrain

    versions = _model_versions()
    card = run_retrain(
        data,
        versions,
        versions.db,
        Path(settings.resolve()["MODEL"] or shipped_path()),
        promote=promote,
        by=_who(),
        log=lambda line: click.echo(line),
    )
    click.echo(f"Version {card['number']} is {card['status']}.")
    if promote and card["status"] != "active":
        click.echo("Not promoted: the active version is unchanged.", err=True)
        sys.exit(EXIT_NOT_PROMOTED)
