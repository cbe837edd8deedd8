"""Load benchmark of the real server (`digitrec serve`, granian) on loopback.

    python benchmarks/bench_server.py [--workers 2] [--threads 2] [--seconds 15] [--concurrency 16]

Measures, for a 280x280 canvas PNG: cold start (process start to first successful
prediction), latency at concurrency 1, throughput and latency at concurrency 16 (with
`wrk` when installed, else an asyncio httpx client), and peak RSS per worker. Prints a
Markdown table. Traffic goes to 127.0.0.1 only, and every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import httpx
import numpy as np
import psutil

from digitrec.training import (
    mnist,
    renderings,
)
from digitrec.web.server import DEFAULT_THREADS

WRK_SCRIPT = """
local f = io.open(os.getenv("BENCH_BODY"), "rb")
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "image/png"
local bad = 0
response = function(status, headers, body) if status ~= 200 then bad = bad + 1 end end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, "errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    workers: int, threads: int, port: int, extra_env: dict | None = None
) -> tuple[subprocess.Popen, float]:
    """Start the server and return it with the moment it was started (perf_counter)."""
    env = {
        **os.environ,
        # One client from one address would hit the rate limit; requests are logged at the
        # default level (a line per request), as in production.
        "DIGITREC_RATE_LIMIT": "off",
        "DIGITREC_DATA_DIR": tempfile.mkdtemp(prefix="digitrec-bench-"),
        **(extra_env or {}),
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "digitrec",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, started


def wait_first_prediction(url: str, body: bytes, started: float, timeout: float = 30) -> float:
    while time.perf_counter() - started < timeout:
        try:
            response = httpx.post(url, content=body, headers={"Content-Type": "image/png"}, timeout=2)
            if response.status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            time.sleep(0.005)
    raise RuntimeError("the server did not answer in time")


def sequential(url: str, body: bytes, seconds: float) -> dict:
    latencies = []
    with httpx.Client(headers={"Content-Type": "image/png"}) as http:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            http.post(url, content=body).raise_for_status()
            latencies.append((time.perf_counter() - t) * 1000)
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "p50_ms": q[49], "p99_ms": q[98], "client": "httpx"}


def with_wrk(url: str, body_path: Path, concurrency: int, seconds: int, threads: int = 2) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "-s", script.name, url],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_BODY": str(body_path)},
        timeout=seconds + 30,
    ).stdout
    os.unlink(script.name)
    line = next(row for row in out.splitlines() if row.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    result["rps"] = result["requests"] / result["seconds"]
    result["client"] = "wrk"
    return result


def with_asyncio(url: str, body: bytes, concurrency: int, seconds: int) -> dict:
    async def run() -> dict:
        latencies, errors = [], 0
        end = time.perf_counter() + seconds
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, headers={"Content-Type": "image/png"}) as http:

            async def user():
                nonlocal errors
                while time.perf_counter() < end:
                    t = time.perf_counter()
                    try:
                        response = await http.post(url, content=body)
                        errors += response.status_code != 200
                    except httpx.HTTPError:
                        errors += 1
                    latencies.append((time.perf_counter() - t) * 1000)

            started = time.perf_counter()
            await asyncio.gather(*(user() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
        q = statistics.quantiles(latencies, n=100)
        return {
            "requests": len(latencies),
            "rps": len(latencies) / elapsed,
            "p50_ms": q[49],
            "p99_ms": q[98],
            "errors": errors,
            "client": "httpx asyncio",
        }

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    images, _ = mnist.load_test_set(os.environ.get(mnist.DATA_ENV))
    body = renderings.transparent_canvas(images[0], np.random.default_rng(0))
    body_path = Path(tempfile.mkstemp(suffix=".png")[1])
    body_path.write_bytes(body)

    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/predict"
    process, started = start(args.workers, args.threads, port)
    try:
        cold = wait_first_prediction(url, body, started)
        time.sleep(1.0)  # let every worker finish loading
        for _ in range(50):
            httpx.post(url, content=body, headers={"Content-Type": "image/png"})
        # wrk (C) adds almost nothing to each request; a Python client adds ~0.5 ms of its
        # own and takes CPU from the server on the same cores.
        if shutil.which("wrk"):
            single = with_wrk(url, body_path, 1, 5, threads=1)
            load = partial(with_wrk, url, body_path, args.concurrency, args.seconds)
        else:
            single = sequential(url, body, seconds=5)
            load = partial(with_asyncio, url, body, args.concurrency, args.seconds)
        workers = psutil.Process(process.pid).children()
        before = [sum(w.cpu_times()[:2]) for w in workers]
        loaded = load()
        # Keep-alive connections stay with the worker that accepted them: the CPU each
        # worker used under load shows whether the connections were shared out evenly.
        busy = [sum(w.cpu_times()[:2]) - b for w, b in zip(workers, before)]
        peak_rss = []
        for worker in workers:
            status = Path(f"/proc/{worker.pid}/status")
            if status.exists():  # VmHWM: the peak resident set size (Linux)
                kb = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM"))
                peak_rss.append(int(kb.split()[1]) / 1024)
            else:
                peak_rss.append(worker.memory_info().rss / 2**20)
    finally:
        process.terminate()
        process.wait(timeout=15)
        body_path.unlink()

    print(
        f"Server benchmark: granian, {args.workers} workers × {args.threads} threads, {os.cpu_count()} cores, 280×280 canvas PNG, loopback\n"
    )
    print("| what | measured | target |")
    print("| --- | ---: | ---: |")
    print(f"| cold start (process start → first prediction) | {cold:.2f} s | ≤ 1.5 s |")
    print(
        f"| latency at concurrency 1: p50 / p99 ({single['requests']} requests, {single['client']}) | {single['p50_ms']:.2f} / {single['p99_ms']:.2f} ms | p50 ≤ 3 ms |"
    )
    print(
        f"| throughput at concurrency {args.concurrency} for {args.seconds} s ({loaded['client']}) | {loaded['rps']:.0f} req/s | ≥ 600 req/s |"
    )
    print(
        f"| latency at concurrency {args.concurrency}: p50 / p99 | {loaded['p50_ms']:.1f} / {loaded['p99_ms']:.1f} ms | |"
    )
    print(f"| errors at concurrency {args.concurrency} | {loaded['errors']} of {loaded['requests']} | 0 |")
    print(
        f"| CPU seconds per worker at concurrency {args.concurrency} | {' / '.join(f'{b:.1f}' for b in busy)} | even |"
    )
    print(f"| peak RSS per worker | {max(peak_rss):.0f} MB (max of {len(peak_rss)}) | ≤ 150 MB |")


if __name__ == "__main__":
    main()
