"""MNIST-C through the live API: the 15 corruptions of Mu & Gilmer (2019), applied to MNIST
test digits (``digitrec.training.mnist_c``, written from the paper), each sent to a real
`digitrec serve` on loopback as a 28x28 PNG.

    python benchmarks/mnist_c.py [--count 2000] [--multi] [--concurrency 8]

Prints a Markdown table: per corruption, how many are read right, refused (422), flagged
uncertain, and wrong while sure; then the mean over the 14 corruptions other than the
artificial ``stripe``, and the lowest of them. The same digits and seeds every run.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
from bench_server import free_port, start, wait_first_prediction

from digitrec.training import mnist, mnist_c, renderings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="test digits per corruption")
    parser.add_argument("--multi", action="store_true", help="ask as the page does (?multi=1)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    images, labels = mnist.load_test_set(os.environ.get(mnist.DATA_ENV))
    picked = np.random.default_rng(2019).choice(len(images), args.count, replace=False)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/predict" + ("?multi=1" if args.multi else "")
    process, started = start(args.workers, 2, port)
    try:
        wait_first_prediction(url, renderings.mnist_png(images[0]), started, timeout=60)
        with httpx.Client(timeout=30) as client, ThreadPoolExecutor(args.concurrency) as pool:
            print(f"MNIST-C through {url}, {args.count:,} MNIST test digits per corruption\n")
            print("| corruption | right | refused | flagged uncertain | wrong and sure |")
            print("| --- | ---: | ---: | ---: | ---: |")
            scores = {}
            for name, corrupt in mnist_c.CORRUPTIONS.items():
                rng = np.random.default_rng(5)
                bodies = [renderings.mnist_png(corrupt(images[i], rng)) for i in picked]

                def ask(body: bytes) -> httpx.Response:
                    return client.post(url, content=body, headers={"Content-Type": "image/png"})

                counts = Counter()
                for response, label in zip(pool.map(ask, bodies), labels[picked]):
                    if response.status_code == 422:
                        counts["refused"] += 1
                        continue
                    response.raise_for_status()
                    answer = response.json()
                    right = answer["number"] == str(label)
                    counts["right"] += right
                    counts["flagged"] += answer["uncertain"]
                    counts["wrong and sure"] += not right and not answer["uncertain"]
                scores[name] = counts["right"] / args.count
                shown = f"{name} (artificial)" if name in mnist_c.ARTIFICIAL else name
                print(
                    f"| {shown} | {scores[name]:.1%} | {counts['refused']} | {counts['flagged']} "
                    f"| {counts['wrong and sure']} |",
                    flush=True,
                )
        counted = {k: v for k, v in scores.items() if k not in mnist_c.ARTIFICIAL}
        lowest = min(counted, key=counted.get)
        print(
            f"\nMean over the {len(counted)} corruptions other than {', '.join(mnist_c.ARTIFICIAL)}: "
            f"{np.mean(list(counted.values())):.2%}; lowest: {lowest} {counted[lowest]:.1%}"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
