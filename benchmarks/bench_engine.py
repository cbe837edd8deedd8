"""Engine speed on one core: preprocessing + inference, inference alone, start-up, hostile files.

    python benchmarks/bench_engine.py [--repeat 300]

Prints a Markdown table (median and p90 of repeated runs against the targets). Never fails
on timing: it measures and reports.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# One core: pin the process and keep every library to one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import cv2
import numpy as np
from PIL import Image

from digitrec.engine import DigitrecError, Recognizer
from digitrec.training import (
    mnist,
    renderings,
)

cv2.setNumThreads(1)


def timed(function, repeat: int) -> list[float]:
    for _ in range(min(20, repeat)):
        function()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def startup_seconds(model: str | None, runs: int = 5) -> list[float]:
    code = (
        "import sys, time; t = time.perf_counter();"
        "from digitrec.engine import Recognizer; Recognizer(sys.argv[1] or None);"
        "print(time.perf_counter() - t)"
    )
    return [
        float(
            subprocess.run(
                [sys.executable, "-c", code, model or ""], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]


def largest_full_decode() -> tuple[float, float]:
    """Seconds and MB of peak memory added to a process with the model loaded, for the
    worst image still decoded in full: a 4,000 x 4,000 RGBA PNG bomb (16 MP, blank)."""
    code = (
        "import resource, sys, time; from digitrec.training import renderings;"
        "from digitrec.engine import NoDigitFound, Recognizer; r = Recognizer();"
        "data = renderings.png_bomb(4000, 4000, rgba=True);"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; t = time.perf_counter()\n"
        "try: r.recognize(data)\nexcept NoDigitFound: pass\n"
        "unit = 2**20 if sys.platform == 'darwin' else 2**10  # ru_maxrss: bytes on macOS, kB on Linux\n"
        "print(time.perf_counter() - t, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / unit)"
    )
    root = Path(__file__).parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    seconds, megabytes = map(float, out.stdout.split())
    return seconds, megabytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--model", help="ONNX model (default: the shipped one)")
    args = parser.parse_args()

    images, _ = mnist.load_test_set(os.environ.get(mnist.DATA_ENV))
    rng = np.random.default_rng(0)
    canvas = renderings.transparent_canvas(images[0], rng)
    photo = renderings.photo_jpeg(images[1], rng)
    squared = renderings.squared_paper(images[3], np.random.default_rng(0))  # rulings to take out
    recognizer = Recognizer(args.model, threads=1)
    tensor = images[2].astype(np.float32)[None] / 255

    rows = [
        (
            "280×280 canvas PNG: decode + preprocess + inference",
            timed(lambda: recognizer.recognize(canvas), args.repeat),
            2.0,
        ),
        (
            "640×480 JPEG photo: decode + preprocess + inference",
            timed(lambda: recognizer.recognize(photo), args.repeat),
            8.0,
        ),
        (
            "640×480 JPEG photo on squared paper: the same, rulings taken out",
            timed(lambda: recognizer.recognize(squared), args.repeat),
            8.0,
        ),
        (
            "inference alone (one 28×28)",
            timed(lambda: recognizer.predict_tensors(tensor), args.repeat * 3),
            0.5,
        ),
    ]
    startup = startup_seconds(args.model)
    full_seconds, full_megabytes = largest_full_decode()

    seven = Image.fromarray(cv2.cvtColor(255 - cv2.resize(images[0], (300, 200)), cv2.COLOR_GRAY2RGB))
    hostile = []
    for name, (data, _) in renderings.hostile_files(seven).items():

        def attempt(data=data):
            with contextlib.suppress(DigitrecError):
                recognizer.recognize(data)

        hostile.append((name, statistics.median(timed(attempt, 20))))

    print(f"Engine benchmark: one core ({os.cpu_count()} present), {args.repeat} runs each\n")
    print("| what | median | p90 | target |")
    print("| --- | ---: | ---: | ---: |")
    for name, times, target in rows:
        q = statistics.quantiles(times, n=10)
        print(f"| {name} | {statistics.median(times):.2f} ms | {q[8]:.2f} ms | ≤ {target} ms |")
    print(
        f"| import + model load | {statistics.median(startup) * 1000:.0f} ms | {max(startup) * 1000:.0f} ms (max) | ≤ 500 ms |"
    )
    worst = max(hostile, key=lambda item: item[1])
    print(
        f"| hostile files ({len(hostile)} kinds): slowest typed error ({worst[0]}) | {worst[1]:.2f} ms | | ≤ 100 ms |"
    )
    print(
        f"| largest image decoded in full (4,000 × 4,000 RGBA PNG bomb, blank → no digit) | "
        f"{full_seconds * 1000:.0f} ms, +{full_megabytes:.0f} MB peak memory | | |"
    )
    print("\nHostile files, median time to the typed error:")
    for name, ms in hostile:
        print(f"  {name:<24} {ms:7.2f} ms")


if __name__ == "__main__":
    main()
