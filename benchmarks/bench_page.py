"""How fast the page answers a drawing, in real Chromium against the real server.

    python benchmarks/bench_page.py [--digits 20] [--workers 2]

Starts `digitrec serve` on a loopback port, opens the page in Debian's Chromium (Playwright)
at a desktop and a phone viewport (device pixel ratio 1 and 3), and draws the digits 0-9
(the Hershey `futural` glyphs, `apt-get install hershey-fonts-data`) with the mouse at a
person's pace (a pointer sample every ~8 ms, ~25 px/sample at most). For each digit it takes
the time from the last pen up (the page's own `pointerup`) to the moment the answer for the
finished drawing is on the screen (the page's `digitrec:answer` event), and counts the
requests sent while the pen was down. Prints a Markdown table: median and p90 of pen up to
answer, answers shown while drawing, and requests per second of drawing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
import numpy as np

from digitrec.training import hershey

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {
    "desktop 1280x800": {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1},
    "phone 390x844 (3x)": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 3,
        "is_mobile": True,
        "has_touch": True,
    },
}
HOOK = """
window.__bench = { ups: [], answers: [] };
document.getElementById("draw-canvas").addEventListener(
  "pointerup", () => window.__bench.ups.push(performance.now()), true);
document.addEventListener("digitrec:answer", (e) =>
  window.__bench.answers.push({ t: performance.now(), whileDrawing: e.detail.whileDrawing }));
"""


def digit_strokes(digit: int) -> list[np.ndarray]:
    """The glyph's strokes in canvas fractions: about 60 % of the canvas tall, centred."""
    strokes = hershey.glyphs("futural")[str(digit)]
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = 0.6 / max(high - low)
    return [(s - (low + high) / 2) * scale + 0.5 for s in strokes]


def draw(page, strokes: list[np.ndarray]) -> None:
    box = page.get_by_test_id("draw-canvas").bounding_box()
    for stroke in strokes:
        points = stroke * [box["width"], box["height"]] + [box["x"], box["y"]]
        page.mouse.move(*points[0])
        page.mouse.down()
        for a, b in zip(points[:-1], points[1:]):
            steps = max(1, int(np.linalg.norm(b - a) / 25))
            for k in range(1, steps + 1):
                page.mouse.move(*(a + (b - a) * k / steps))
                time.sleep(0.008)
        page.mouse.up()


def measure(browser, url: str, options: dict, digits: int) -> dict:
    context = browser.new_context(**options)
    page = context.new_page()
    requests: list[float] = []
    page.on("request", lambda r: requests.append(time.perf_counter()) if "/predict" in r.url else None)
    page.goto(url)
    page.evaluate(HOOK)
    latencies, live, rates = [], 0, []
    for i in range(digits):
        page.keyboard.press("Escape")  # a clean canvas for every digit
        page.evaluate("window.__bench.ups = []; window.__bench.answers = []")
        before, started = len(requests), time.perf_counter()
        draw(page, digit_strokes(i % 10))
        drawing_seconds = time.perf_counter() - started
        page.wait_for_function(
            "() => { const b = window.__bench; const up = b.ups[b.ups.length - 1];"
            " return b.answers.some((a) => !a.whileDrawing && a.t >= up); }",
            # Polled on a timer, not on animation frames: a frame loop would keep the page
            # painting, which hid a second-long wait in canvas.toBlob after pen up.
            polling=25,
            timeout=10_000,
        )
        bench = page.evaluate("window.__bench")
        last_up = bench["ups"][-1]
        final = min(a["t"] for a in bench["answers"] if not a["whileDrawing"] and a["t"] >= last_up)
        latencies.append(final - last_up)
        live += sum(1 for a in bench["answers"] if a["whileDrawing"])
        rates.append((len(requests) - before) / drawing_seconds)
    context.close()
    q = statistics.quantiles(latencies, n=10)
    return {
        "median_ms": statistics.median(latencies),
        "p90_ms": q[8],
        "live_answers": live / digits,
        "requests_per_s": statistics.mean(rates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--digits", type=int, default=20, help="drawings per viewport")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from bench_server import free_port
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {
        **os.environ,
        "DIGITREC_RATE_LIMIT": "off",
        "DIGITREC_DATA_DIR": tempfile.mkdtemp(prefix="digitrec-bench-"),
    }
    command = [sys.executable, "-m", "digitrec", "serve", "--port", str(port), "--workers", str(args.workers)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            rows = {name: measure(browser, url, options, args.digits) for name, options in VIEWPORTS.items()}
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"Pen up to answer on screen, {args.digits} drawings per viewport (Chromium, {args.workers} workers)\n"
    )
    print("| viewport | median | p90 | answers while drawing (per digit) | requests per second of drawing |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in rows.items():
        print(
            f"| {name} | {r['median_ms']:.0f} ms | {r['p90_ms']:.0f} ms | {r['live_answers']:.1f} "
            f"| {r['requests_per_s']:.1f} |"
        )


if __name__ == "__main__":
    main()
