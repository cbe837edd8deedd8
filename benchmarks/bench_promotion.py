"""A model promotion and a rollback under load: no failed request, every worker follows.

    python benchmarks/bench_promotion.py [--seconds 40] [--concurrency 16] [--workers 2]

Starts `digitrec serve` (granian, ``--workers``) on a fresh SQLite database holding a
version 2 (the shipped network under a card of its own, so answers tell the versions
apart), puts it under `wrk` at ``--concurrency`` with a 280x280 canvas PNG, runs
`digitrec model promote 2` a quarter of the way in and `digitrec model rollback` halfway,
and meanwhile asks every 50 ms which version answered. Prints a Markdown table: requests,
failed requests, and how long after each command the last answer from the old version
came, counted from the moment the command was started (every worker polls the database every DIGITREC_MODEL_POLL seconds, default 2).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from bench_learning import new_database
from bench_server import free_port, start, wait_first_prediction, with_wrk

from digitrec.engine.recognizer import shipped_model_path
from digitrec.storage.feedback import FeedbackStore
from digitrec.storage.models import ModelVersions
from digitrec.training import mnist, renderings


def model_command(database: str, *args: str) -> float:
    """Run `digitrec model ARGS` against ``database``; the moment it was started (the
    change is committed some time before it returns: timing from the start is the safe side)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "digitrec", "model", *args],
        env={**os.environ, "DIGITREC_DATABASE_URL": database},
        check=True,
        capture_output=True,
    )
    return started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    database = new_database("promotion")
    card = json.loads(shipped_model_path().with_suffix(".json").read_text())
    ModelVersions(FeedbackStore(database), card).add(
        shipped_model_path().read_bytes(), {**card, "version": "promoted"}
    )

    images, _ = mnist.load_test_set(os.environ.get(mnist.DATA_ENV))
    body = renderings.transparent_canvas(images[0], np.random.default_rng(0))
    body_path = Path(tempfile.mkdtemp(prefix="digitrec-promotion-")) / "canvas.png"
    body_path.write_bytes(body)

    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/predict"
    server, started = start(args.workers, 2, port, {"DIGITREC_DATABASE_URL": database})
    seen: list[tuple[float, str, int]] = []  # (moment, version, status) of the probe's answers
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(headers={"Content-Type": "image/png"}, timeout=10) as http:
            while not stop.is_set():
                try:
                    response = http.post(url, content=body)
                    seen.append(
                        (time.perf_counter(), response.json().get("model", "?"), response.status_code)
                    )
                except httpx.HTTPError:
                    seen.append((time.perf_counter(), "?", 0))
                time.sleep(0.05)

    try:
        wait_first_prediction(url, body, started)
        load: dict = {}
        runner = threading.Thread(
            target=lambda: load.update(with_wrk(url, body_path, args.concurrency, args.seconds))
        )
        prober = threading.Thread(target=probe)
        runner.start()
        prober.start()
        time.sleep(args.seconds / 4)
        promoted = model_command(database, "promote", "2")
        time.sleep(args.seconds / 4)
        rolled_back = model_command(database, "rollback")
        runner.join()
        stop.set()
        prober.join()
    finally:
        server.terminate()
        server.wait(timeout=30)

    old, new = card["version"], "promoted"
    last_old = max((t for t, v, _ in seen if v == old and promoted < t < rolled_back), default=promoted)
    last_new = max((t for t, v, _ in seen if v == new and t > rolled_back), default=rolled_back)
    print(
        "| workers | concurrency | requests (wrk) | failed (wrk) | probe answers | probe failed "
        "| promote: last answer from the old version after | rollback: last answer from the promoted one after |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {args.workers} | {args.concurrency} | {load['requests']:,} ({load['rps']:.0f}/s) | {load['errors']} "
        f"| {len(seen)} | {sum(status != 200 for _, _, status in seen)} "
        f"| {last_old - promoted:.1f} s | {last_new - rolled_back:.1f} s |"
    )


if __name__ == "__main__":
    main()
