"""Real processes for the tests: `digitrec serve` on a free loopback port, and the CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 300, python_code: str = "", cwd=None
) -> subprocess.CompletedProcess:
    """`digitrec ARGS` as a real process. ``python_code`` runs first in that process (e.g. to
    make an installed package unimportable, as if it were missing)."""
    launcher = f"{python_code}\nfrom digitrec.cli import main\nmain(prog_name='digitrec')"
    return subprocess.run(
        [sys.executable, "-c", launcher, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def start_server(
    extra_env: dict | None = None,
    workers: int = 2,
    port: int | None = None,
    args: tuple = (),
    ready: bool = True,
):
    """Start the real `digitrec serve` (gunicorn) on a free loopback port.

    Unless extra_env says otherwise, corrections go to a fresh SQLite file in a temporary
    data folder. With ``ready=False``, returns once it answers at all (its database may be down)."""
    port = port or free_port()
    env = {
        **os.environ,
        "DIGITREC_RATE_LIMIT": "off",
        "DIGITREC_DATA_DIR": tempfile.mkdtemp(prefix="digitrec-test-"),
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "digitrec", "serve", "--port", str(port), "--workers", str(workers), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a test can kill it whole
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(process, url, ready)
    return process, url


def wait_until_serving(process: subprocess.Popen, url: str, ready: bool = True) -> None:
    """Return once the server at ``url`` answers /api/v1/health (and, with ``ready``, says
    it is ready); raise if it exits or takes over 30 s."""
    deadline = time.time() + 30
    path = "/api/v1/ready" if ready else "/api/v1/health"
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stdout.read().decode()}")
        try:
            if httpx.get(url + path, timeout=1).status_code == 200:
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
