"""Shared fixtures: real MNIST digits, the shipped model, the Flask app and a live server.

MNIST is read from $DIGITREC_DATA (CI sets it to ../shared/mnist); without it the loader
downloads MNIST into the user cache, as `digitrec train` would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/renderings.py

from digitrec.engine.recognizer import Recognizer  # noqa: E402
from digitrec.training import mnist  # noqa: E402
from digitrec.web.app import create_app  # noqa: E402


@pytest.fixture(scope="session")
def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    return mnist.load_test_set(os.environ.get(mnist.DATA_ENV))


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    return Recognizer()


@pytest.fixture(scope="session")
def digit_images(mnist_test_set):
    """A few real MNIST test digits as canvas-like PNGs, keyed by label (first of each)."""
    import renderings

    images, labels = mnist_test_set
    rng = np.random.default_rng(0)
    first = {int(d): int(np.flatnonzero(labels == d)[0]) for d in range(10)}
    return {d: renderings.transparent_canvas(images[i], rng) for d, i in first.items()}


@pytest.fixture
def database_url(tmp_path) -> str:
    """A fresh SQLite database per test (the PostgreSQL variants live in test_feedback.py)."""
    return f"sqlite:///{tmp_path / 'feedback.sqlite3'}"


@pytest.fixture
def app(database_url):
    return create_app({"TESTING": True, "RATE_LIMIT": "off", "DATABASE_URL": database_url})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(extra_env: dict | None = None, workers: int = 2, port: int | None = None):
    """Start the real `digitrec serve` (gunicorn) on a free loopback port.

    Unless extra_env says otherwise, corrections go to a fresh SQLite file in a temporary
    data folder, never the user's.
    """
    port = port or free_port()
    env = {
        **os.environ,
        "DIGITREC_RATE_LIMIT": "off",
        "DIGITREC_DATA_DIR": tempfile.mkdtemp(prefix="digitrec-test-"),
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "digitrec", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a test can kill it whole
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(process, url)
    return process, url


def wait_until_ready(process: subprocess.Popen, url: str) -> None:
    """Return once the server at ``url`` says its model is loaded; raise if it exits or
    takes over 30 s."""
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stdout.read().decode()}")
        try:
            if httpx.get(url + "/api/v1/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not become ready in 30 s")


def stop_server(process) -> str:
    process.terminate()
    try:
        out, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out.decode(errors="replace")


@pytest.fixture(scope="session")
def live_server():
    process, url = start_server()
    yield url
    stop_server(process)
