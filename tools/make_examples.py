"""Write the example pictures the page offers to try with one click.

    DIGITREC_DATA=../shared/mnist python tools/make_examples.py

Real handwriting from the MNIST test set (LeCun, Cortes, Burges; CC BY-SA 3.0), rendered the
ways people send it, into src/digitrec/web/static/examples/ (a few KB each; committed).
The picks are fixed, so running it again writes the same files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digitrec.training import mnist, renderings

OUT = Path(__file__).resolve().parents[1] / "src" / "digitrec" / "web" / "static" / "examples"


def main() -> None:
    data = mnist.load()
    images, labels = data.test_images, data.test_labels

    def nth(digit: int, n: int = 0) -> np.ndarray:
        return images[np.flatnonzero(labels == digit)[n]]

    rng = np.random.default_rng(2026)
    examples = {
        "number-2024.png": renderings.compose_number([nth(2), nth(0), nth(2, 1), nth(4)], rng),
        "photo-7.jpg": renderings.photo_jpeg(nth(7, 2), rng),
        "marker-8.png": renderings.bold_marker(nth(8, 3), rng),
        "crop-5.png": renderings.tight_crop_32_binary(nth(5, 1), rng),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data_bytes in examples.items():
        (OUT / name).write_bytes(data_bytes)
        print(f"{OUT / name}: {len(data_bytes)} bytes")


if __name__ == "__main__":
    main()
