"""Proof that digitrec learns from its mistakes, through the live server.

    python benchmarks/bench_learning.py [--corrections 60] [--held-out 400] [--flood 500]

Starts `digitrec serve` (2 workers, a fresh SQLite database), then:

1. measures a writer style the model often gets wrong (training/styles.py: crossed 7s,
   flagged 1s with a base, slashed 0s, 9s with a base; MNIST *test* digits) on held-out
   drawings of that style, through POST /api/v1/predict;
2. sends ``--corrections`` other drawings of the style as a person would: predict, then
   POST /api/v1/feedback with the right digit and the request id;
3. runs `digitrec retrain --promote` (a real process) and times it;
4. waits for the server to answer with the new version and measures the held-out drawings
   again, and the MNIST test set through the API's path, before and after;
5. with ``--flood N``: a fresh database gets N wrong corrections (1s called 7, from many
   clients: every one with its own request id) plus the honest ones, `digitrec retrain
   --promote` runs, and the version in production is checked to be unchanged.

Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import httpx
import numpy as np

from digitrec.training import mnist, renderings, styles


def new_database(name: str) -> str:
    """A fresh SQLite database with the schema (`digitrec db upgrade`); its URL."""
    folder = tempfile.mkdtemp(prefix=f"digitrec-{name}-")
    database = f"sqlite:///{folder}/feedback.sqlite3"
    env = {**os.environ, "DIGITREC_DATABASE_URL": database}
    subprocess.run(
        [sys.executable, "-m", "digitrec", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    return database


def start(database: str) -> tuple[subprocess.Popen, str]:
    from bench_server import free_port

    port = free_port()
    env = {
        **os.environ,
        "DIGITREC_RATE_LIMIT": "off",
        "DIGITREC_FEEDBACK_RATE_LIMIT": "off",
        "DIGITREC_DATABASE_URL": database,
        "DIGITREC_MODEL_POLL": "1",
    }
    command = [sys.executable, "-m", "digitrec", "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/api/v1/ready", timeout=1).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


def accuracy(http: httpx.Client, url: str, drawings: list[tuple[int, bytes]]) -> tuple[float, set[str]]:
    right, models = 0, set()
    for label, png in drawings:
        body = http.post(url + "/api/v1/predict", content=png, headers={"Content-Type": "image/png"}).json()
        right += body.get("digit") == label
        models.add(body.get("model"))
    return right / len(drawings), models


def correct(
    http: httpx.Client, url: str, drawings: list[tuple[int, bytes]], label_of=lambda label: label
) -> None:
    for label, png in drawings:
        answer = http.post(url + "/api/v1/predict", content=png, headers={"Content-Type": "image/png"}).json()
        files = {"image": ("drawing.png", png, "image/png")}
        data = {
            "predicted": str(answer["digit"]),
            "correct": str(label_of(label)),
            "request_id": answer["request_id"],
        }
        http.post(url + "/api/v1/feedback", files=files, data=data).raise_for_status()


def retrain(database: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "digitrec", "retrain", "--promote"],
        env={**os.environ, "DIGITREC_DATABASE_URL": database},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return time.perf_counter() - started, done.stdout


def wait_for_model(http: httpx.Client, url: str, old: str, seconds: float = 15) -> str:
    deadline = time.time() + seconds
    while time.time() < deadline:
        model = http.get(url + "/api/v1/ready").json()["model"]
        if model != old:
            return model
        time.sleep(0.2)
    return old


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corrections", type=int, default=60)
    parser.add_argument("--held-out", type=int, default=400)
    parser.add_argument(
        "--flood", type=int, default=0, help="also run the flood test with N wrong corrections"
    )
    args = parser.parse_args()
    data = mnist.load(os.environ.get(mnist.DATA_ENV))
    drawings = styles.style_set(data.test_images, data.test_labels, args.corrections + args.held_out, seed=1)
    teach, held = drawings[: args.corrections], drawings[args.corrections :]
    picked = np.random.default_rng(3).choice(len(data.test_images), 2000, replace=False)
    mnist_pngs = [(int(data.test_labels[i]), renderings.mnist_png(data.test_images[i])) for i in picked]

    database = new_database("learning")
    server, url = start(database)
    try:
        with httpx.Client(timeout=30) as http:
            style_before, (old,) = accuracy(http, url, held)
            mnist_before, _ = accuracy(http, url, mnist_pngs)
            correct(http, url, teach)
            seconds, log = retrain(database)
            new = wait_for_model(http, url, old)
            style_after, models = accuracy(http, url, held)
            mnist_after, _ = accuracy(http, url, mnist_pngs)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"Learning a writer's style from {args.corrections} corrections sent through the live API\n")
    print("| measure | before | after |")
    print("| --- | ---: | ---: |")
    print(f"| model answering | {old} | {new} |")
    print(f"| held-out drawings of the style ({len(held)}) | {style_before:.1%} | {style_after:.1%} |")
    print(
        f"| MNIST test digits through the API ({len(mnist_pngs)}) | {mnist_before:.2%} | {mnist_after:.2%} |"
    )
    print(f"\n`digitrec retrain --promote`: {seconds / 60:.1f} min. Its log:\n")
    print("\n".join(f"    {line}" for line in log.strip().splitlines()))
    assert models == {new}, models

    if args.flood:
        database = new_database("flood")
        ones = np.flatnonzero(data.test_labels == 1)[: args.flood]
        rng = np.random.default_rng(9)
        flood = [(1, renderings.transparent_canvas(data.test_images[i], rng)) for i in ones]
        server, url = start(database)
        try:
            with httpx.Client(timeout=30) as http:
                before = http.get(url + "/api/v1/ready").json()["model"]
                correct(http, url, flood, label_of=lambda label: 7)
                correct(http, url, teach)
                seconds, log = retrain(database)
                time.sleep(3)
                after = http.get(url + "/api/v1/ready").json()["model"]
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(
            f"\nFlood: {args.flood} corrections calling 1s sevens (each its own request), plus the {args.corrections} honest ones\n"
        )
        print(
            f"| model in production before | after `retrain --promote` | retrain |\n| --- | --- | ---: |\n| {before} | {after} | {seconds / 60:.1f} min |"
        )
        print("\n".join(f"    {line}" for line in log.strip().splitlines()))


if __name__ == "__main__":
    main()
