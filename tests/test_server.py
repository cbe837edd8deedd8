"""The real `digitrec serve` (granian, 2 workers) on a loopback port, and its waitress fallback."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from servers import free_port, start_server, stop_server, wait_until_serving


def test_real_images_in_every_input_form(live_server, digit_images):
    with httpx.Client(base_url=live_server, timeout=10) as http:
        multipart = http.post("/api/v1/predict", files={"image": ("d.png", digit_images[8], "image/png")})
        raw = http.post("/api/v1/predict", content=digit_images[6], headers={"Content-Type": "image/png"})
        data_url = "data:image/png;base64," + base64.b64encode(digit_images[0]).decode()
        as_json = http.post("/api/v1/predict?explain=1", json={"image": data_url})
    assert [r.status_code for r in (multipart, raw, as_json)] == [200, 200, 200]
    assert [r.json()["digit"] for r in (multipart, raw, as_json)] == [8, 6, 0]
    assert as_json.json()["input_28x28"].startswith("data:image/png;base64,")
    assert multipart.headers["X-Request-ID"]


def test_errors_are_json_on_the_live_server(live_server):
    with httpx.Client(base_url=live_server, timeout=10) as http:
        not_image = http.post("/api/v1/predict", files={"image": ("x.pdf", b"%PDF-1.4", "application/pdf")})
        too_big = http.post(
            "/api/v1/predict", content=b"\0" * (11 * 1024 * 1024), headers={"Content-Type": "image/png"}
        )
        missing = http.get("/api/v1/missing")
    assert (not_image.status_code, not_image.json()["error"]["code"]) == (415, "unsupported_image")
    assert (too_big.status_code, too_big.json()["error"]["code"]) == (413, "body_too_large")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


def test_concurrent_users_get_their_own_answers(live_server, digit_images):
    """Uploads are processed in memory per request: answers never get mixed up."""
    jobs = [(d, digit_images[d]) for d in range(10)] * 6

    def ask(job):
        digit, data = job
        response = httpx.post(
            live_server + "/api/v1/predict", content=data, headers={"Content-Type": "image/png"}, timeout=20
        )
        return digit, response.json()["digit"]

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(ask, jobs))
    assert all(sent == answered for sent, answered in answers)


def test_metrics_add_up_across_workers(live_server, digit_images):
    before = httpx.get(live_server + "/metrics").text
    for _ in range(6):
        httpx.post(
            live_server + "/api/v1/predict", content=digit_images[9], headers={"Content-Type": "image/png"}
        )
    text = httpx.get(live_server + "/metrics").text

    def count(text: str) -> float:
        for line in text.splitlines():
            if line.startswith('digitrec_predictions_total{digit="9"}'):
                return float(line.split()[-1])
        return 0.0

    assert count(text) - count(before) == 6


def test_keep_alive_connections_are_shared_among_workers(digit_images):
    """16 clients that keep their connections open must keep both workers busy, not one."""
    process, url = start_server(workers=2)
    try:
        workers = psutil.Process(process.pid).children()
        assert len(workers) == 2
        before = [sum(w.cpu_times()[:2]) for w in workers]

        def user(_):
            with httpx.Client(base_url=url, timeout=20) as http:  # one kept-alive connection
                for _ in range(10):
                    http.post(
                        "/api/v1/predict", content=digit_images[3], headers={"Content-Type": "image/png"}
                    ).raise_for_status()

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(user, range(16)))
        busy = [sum(w.cpu_times()[:2]) - b for w, b in zip(workers, before)]
    finally:
        stop_server(process)
    # Each worker accepts connections as it can; neither may be left idle.
    assert min(busy) > 0.08 * sum(busy), busy


def test_a_second_server_on_a_busy_port_is_refused(digit_images):
    process, url = start_server(workers=1)
    try:
        port = url.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "digitrec", "serve", "--port", port],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert f"Cannot listen on 127.0.0.1:{port}: Address already in use" in second.stderr
        # The first server still has the port to itself and answers.
        response = httpx.post(
            url + "/api/v1/predict", content=digit_images[4], headers={"Content-Type": "image/png"}
        )
        assert response.json()["digit"] == 4
    finally:
        stop_server(process)


def test_the_waitress_fallback_serves_predictions(digit_images, tmp_path):
    """On Windows (granian runs one worker there), `digitrec serve` runs waitress: the same app."""
    port = free_port()
    launcher = (
        "import digitrec.web.server; digitrec.web.server.GRANIAN = False  # as on Windows\n"
        "from digitrec.cli import main; main(prog_name='digitrec')"
    )
    env = {**os.environ, "DIGITREC_RATE_LIMIT": "off", "DIGITREC_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-c", launcher, "serve", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(process, url)
        response = httpx.post(
            url + "/api/v1/predict", content=digit_images[6], headers={"Content-Type": "image/png"}
        )
        assert response.status_code == 200 and response.json()["digit"] == 6
        assert "nosniff" in response.headers["X-Content-Type-Options"]
        assert (
            httpx.post(
                url + "/api/v1/predict", content=b"not an image", headers={"Content-Type": "image/png"}
            ).status_code
            == 415
        )
    finally:
        process.terminate()
        out = process.communicate(timeout=15)[0].decode()
    assert f"serving on http://127.0.0.1:{port} with waitress" in out


def test_request_ids_appear_in_the_log(digit_images):
    process, url = start_server({"DIGITREC_RATE_LIMIT": "off"}, workers=1)
    try:
        response = httpx.post(
            url + "/api/v1/predict",
            content=digit_images[2],
            headers={"Content-Type": "image/png", "X-Request-ID": "trace-me-42"},
        )
        assert response.headers["X-Request-ID"] == "trace-me-42"
    finally:
        log = stop_server(process)
    assert "[trace-me-42] POST /api/v1/predict 200" in log
    assert "SIGABRT" not in log and "terminate called" not in log  # workers stop cleanly


def test_rate_limit_on_the_live_server(digit_images):
    process, url = start_server({"DIGITREC_RATE_LIMIT": "2 per minute"}, workers=1)
    try:
        statuses = [
            httpx.post(
                url + "/api/v1/predict", content=digit_images[1], headers={"Content-Type": "image/png"}
            ).status_code
            for _ in range(3)
        ]
    finally:
        stop_server(process)
    assert statuses == [200, 200, 429]


@pytest.mark.slow
def test_openapi_conformance_with_schemathesis(live_server, tmp_path):
    """schemathesis generates requests from our OpenAPI document; none may break it."""
    executable = Path(sys.executable).parent / "schemathesis"
    command = [str(executable) if executable.exists() else shutil.which("schemathesis")]
    result = subprocess.run(
        [
            *command,
            "run",
            f"{live_server}/api/v1/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            "40",
            "--seed",
            "1",
            "--no-color",
            # One worker: CPython 3.11's ast.parse is not thread-safe (SystemError in hypothesis).
            "--workers",
            "1",
            "--request-timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:]


def test_a_chunked_body_over_the_limit_is_refused_not_cut(live_server, digit_images):
    """A raw body sent chunked has no length to check up front; it must still be 413."""

    def chunks():
        yield digit_images[7]  # a valid PNG, then 11 MB of padding after its end
        for _ in range(11):
            yield b"\0" * (1024 * 1024)

    response = httpx.post(
        live_server + "/api/v1/predict", content=chunks(), headers={"Content-Type": "image/png"}, timeout=30
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"


def test_a_chunked_json_body_over_the_limit_is_413_too(live_server, digit_images):
    payload = (
        b'{"image": "'
        + base64.b64encode(digit_images[7])
        + b'", "padding": "'
        + b"x" * (11 * 1024 * 1024)
        + b'"}'
    )

    def chunks():
        for start in range(0, len(payload), 1024 * 1024):
            yield payload[start : start + 1024 * 1024]

    response = httpx.post(
        live_server + "/api/v1/predict",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"
    small = b'{"image": "' + base64.b64encode(digit_images[7]) + b'"}'
    response = httpx.post(
        live_server + "/api/v1/predict", content=iter([small]), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200 and response.json()["digit"] == 7


def test_a_chunked_json_correction_is_stored(live_server, digit_images):
    """A correction's JSON body is read for its labels, then for its image: sent chunked, it
    can be read from the connection only once, and must still be whole the second time."""
    body = b'{"image": "' + base64.b64encode(digit_images[7]) + b'", "predicted": 1, "correct": 7}'
    response = httpx.post(
        live_server + "/api/v1/feedback", content=iter([body]), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
