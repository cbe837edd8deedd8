"""Train several recipes at once on one GPU with any Keras backend, then export them here.

Three steps on two machines (docs/model.md, "Runs on a GPU"); FOLDER travels between them:

    python tools/gpu_train.py prepare FOLDER                 # here (TensorFlow): the arrays
    KERAS_BACKEND=jax python tools/gpu_train.py train FOLDER OUT [NAME,...]   # on the GPU
    python tools/gpu_train.py export FOLDER OUT NAME... --to DIR   # here: ONNX + card each

``prepare`` writes FOLDER/prepared.npz (digits as they are, as the engine makes them and
spoilt; non-digits; flagged ones; the validation split: ~13 min on 2 cores) and copies the
teachers' weights (RUNS/NAME/digitrec.weights.npz) to FOLDER/teachers. Round 1's recipes
trained from these arrays see the flagged ones too (session 17's round 1 had none in its
arrays: its cards say flagged_ones 0). ``train`` runs every recipe in its own process on the
one GPU, each as many epochs (up to 40) as fit before BUDGET seconds (default 480), and
writes OUT/NAME.weights.npz and OUT/log.txt. The GPU machine needs Keras 3, JAX, NumPy,
OpenCV, Pillow and pyspng, and this checkout on PYTHONPATH (no TensorFlow).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

DATA_SEED = 20261204  # the non-digits and spoilt copies in prepared.npz
R12 = {"thin_probability": 0.1, "coarse_probability": 0.2, "narrow_probability": 0.1}  # run 12's
TEACHERS = {  # FOLDER/teachers/NAME.weights.npz: trained runs (docs/model.md, experiments)
    "run6": "the model shipped in sessions 7-16",
    "run10": "run 10 (session 13)",
    "run12": "run 12 (session 15)",
    "run13": "run 13 (session 16)",
    "d6": "session 17, round 1 (below)",
    "d4h": "session 17, round 1 (below)",
}
# Session 17's runs, all with run 12's augmentation and 15 % spoilt digits: name ->
# (teachers, Hyperparameters changes). Round 2 (and the shipped fg2) also show half of the
# ones again with a flag; round 1 did not.
ROUND_1 = {"flagged_ones": 0.0}
RECIPES = {
    "d6": (("run6",), {**ROUND_1, "training_seed": 20261208}),
    "d4h": (("run6", "run10", "run12", "run13"), {**ROUND_1, "training_seed": 20261207, "distillation": 0.8}),
    "f6a": (("run6",), {"training_seed": 20261210}),
    "f6b": (("run6",), {"training_seed": 20261211}),
    "fg2": (("run6", "d6", "d4h"), {"training_seed": 20261210}),
    "f6h": (("run6",), {"training_seed": 20261213, "distillation": 0.8}),
    "fpl": ((), {"training_seed": 20261210}),
}


def hyperparameters(name: str, folder: Path):
    from digitrec.training.augment import Augmentation
    from digitrec.training.train import Hyperparameters

    teachers, changes = RECIPES[name]
    settings = {"epochs": int(os.environ.get("MAX_EPOCHS", 40)), "spoiled_share": 0.15, "flagged_ones": 0.5}
    return Hyperparameters(
        augmentation=Augmentation(**R12),
        teachers=tuple(str(folder / "teachers" / f"{t}.weights.npz") for t in teachers),
        **{**settings, **changes},
    )


def load_prepared(folder: Path, data=None):
    from digitrec.training.train import Prepared

    z = np.load(folder / "prepared.npz")
    return Prepared(data, z["versions"], z["labels"], z["x_val"], z["y_val"], int(z["digits_val"]), 0, 0)


def prepare(folder: Path, data_folder: str | None, runs: Path) -> None:
    from digitrec.training.train import Hyperparameters
    from digitrec.training.train import prepare as arrays

    p = arrays(data_folder, Hyperparameters(spoiled_share=0.15, flagged_ones=0.5, training_seed=DATA_SEED))
    (folder / "teachers").mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        folder / "prepared.npz",
        versions=p.versions,
        labels=p.labels,
        x_val=p.x_val,
        y_val=p.y_val,
        digits_val=p.digits_val,
    )
    for name in TEACHERS:
        source = runs / name / "digitrec.weights.npz"
        if source.exists():
            shutil.copy(source, folder / "teachers" / f"{name}.weights.npz")


def train_all(folder: Path, out: Path, names: list[str]) -> None:
    """One process per recipe on the one GPU, stopped by the deadline; weights to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + float(os.environ.get("BUDGET", 480))
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "PYTHONUNBUFFERED": "1"}
    work = Path(os.environ.get("TMPDIR", "/tmp"))
    procs = {
        name: subprocess.Popen(
            [sys.executable, __file__, "worker", str(folder), name, str(deadline), str(work)],
            stdout=open(work / f"{name}.log", "w"),  # noqa: SIM115 (open while it runs)
            stderr=subprocess.STDOUT,
            env=env,
        )
        for name in names
    }
    while any(p.poll() is None for p in procs.values()) and time.time() < deadline + 30:
        time.sleep(3)
    with open(out / "log.txt", "w") as log:
        for name, p in procs.items():
            if p.poll() is None:
                p.kill()
            log.write(f"===== {name} rc={p.poll()}\n{(work / f'{name}.log').read_text()[-20000:]}\n")
            if (work / f"{name}.weights.npz").exists():
                shutil.copy(work / f"{name}.weights.npz", out / f"{name}.weights.npz")
    print((out / "log.txt").read_text()[-11000:])


def worker(folder: Path, name: str, deadline: float, work: Path) -> None:
    import keras

    from digitrec.training.train import fit, save_weights

    hp = hyperparameters(name, folder)
    prepared = load_prepared(folder)
    print(name, keras.backend.backend(), prepared.versions.shape, hp, flush=True)

    # A throwaway run of 60 steps, timed after its compile, says how many epochs fit.
    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 9:
                self.start = time.time()
            self.last, self.batches = time.time(), batch - 9

    started, timer, n = time.time(), Timer(), 60 * hp.batch_size
    probe = replace(prepared, versions=prepared.versions[:n], labels=prepared.labels[:n])
    fit(
        replace(probe, x_val=prepared.x_val[:256], y_val=prepared.y_val[:256]),
        replace(hp, epochs=1),
        0,
        [timer],
    )
    compile_s = time.time() - started - (timer.last - timer.start)
    epoch_s = (
        (timer.last - timer.start) / timer.batches * math.ceil(len(prepared.labels) / hp.batch_size) * 1.08
    )
    epochs = min(hp.epochs, max(2, int((deadline - time.time() - compile_s - 15) / epoch_s)))
    print(f"{name}: compile {compile_s:.1f} s, epoch ~{epoch_s:.1f} s -> {epochs} epochs", flush=True)

    class Keep(keras.callbacks.Callback):  # the weights after every epoch, in case of a stop
        def on_epoch_end(self, epoch, logs=None):
            save_weights(self.model.get_layer("digitrec_cnn"), work / f"{name}.part.npz")
            os.replace(work / f"{name}.part.npz", work / f"{name}.weights.npz")
            shown = {k: round(float(v), 5) for k, v in (logs or {}).items()}
            print(name, "epoch", epoch + 1, shown, f"{time.time() - started:.0f} s", flush=True)

    fit(prepared, replace(hp, epochs=epochs), 0, [Keep()])
    print(name, "done", epochs, "epochs", f"{time.time() - started:.0f} s", flush=True)


def export(out: Path, names: list[str], to: Path, folder: Path, data_folder: str | None) -> None:
    """Each NAME.weights.npz in ``out`` calibrated and exported as to/NAME/digitrec.onnx."""
    from digitrec.training import mnist
    from digitrec.training.train import finish, load_model

    prepared = load_prepared(folder, mnist.load(data_folder))
    prepared = replace(prepared, versions=prepared.versions[:0], negatives=int((prepared.labels == 10).sum()))
    for name in names:
        hp = hyperparameters(name, folder)
        model = load_model(out / f"{name}.weights.npz", hp.dropout)
        card = finish(
            model, prepared, hp, to / name / "digitrec.onnx", trained_on="one GPU, KERAS_BACKEND=jax"
        )
        print(
            name,
            {k: card[k] for k in ("test_accuracy", "test_accuracy_through_engine", "validation_accuracy")},
        )


if __name__ == "__main__":
    verb, args = sys.argv[1], sys.argv[2:]
    data = os.environ.get("DIGITREC_DATA")
    if verb == "prepare":
        prepare(Path(args[0]), data, Path(os.environ.get("RUNS", "runs")))
    elif verb == "train":
        train_all(Path(args[0]), Path(args[1]), args[2].split(",") if len(args) > 2 else list(RECIPES))
    elif verb == "worker":
        worker(Path(args[0]), args[1], float(args[2]), Path(args[3]))
    elif verb == "export":
        to = args.index("--to")
        export(Path(args[1]), args[2:to], Path(args[to + 1]), Path(args[0]), data)
    else:
        sys.exit(__doc__)
