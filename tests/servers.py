"""Real processes for the tests: `digitrec serve` on a free loopback port, and the CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(
    *args: str,
    env: dict | None = None,
    timeout: float = 300,
    python_code: str = "",
    cwd=None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess:
    """`digitrec ARGS` as a real process, its output as text. ``python_code`` runs first in
    that process (e.g. to make an installed package unimportable, as if it were missing);
    ``input`` is sent to its standard input."""
    launcher = f"{python_code}\nfrom digitrec.cli import main\nmain(prog_name='digitrec')"
    result = subprocess.run(
        [sys.executable, "-c", launcher, *args],
        capture_output=True,
        input=input,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def start_server(
    extra_env: dict | None = None,
    workers: int = 2,
    port: int | None = None,
    args: tuple = (),
    ready: bool = True,
):
    """Start the real `digitrec serve` (granian) on a free loopback port.

    Unless extra_env says otherwise, corrections go to a fresh SQLite file in a temporary
    data folder. With ``ready=False``, returns once it answers at all (its database may be down)."""
    port = port or free_port()
    env = {
        **os.environ,
        "DIGITREC_RATE_LIMIT": "off",
        "DIGITREC_DATA_DIR": tempfile.mkdtemp(prefix="digitrec-test-"),
        **(extra_env or {}),
    }
    # The log goes to a file, not a pipe: a pipe nobody reads fills up (64 KB, a few
    # hundred request lines) and then every logging call in the server blocks.
    with tempfile.NamedTemporaryFile(prefix="digitrec-server-", suffix=".log", delete=False) as log:
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
                *args,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a test can kill it whole
        )
    process.log_path = log.name
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
            raise RuntimeError(f"server exited: {server_log(process)}")
        try:
            if httpx.get(url + path, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not become ready in 30 s")


def server_log(process) -> str:
    """Everything the server has written so far (stdout and stderr)."""
    return Path(process.log_path).read_text(errors="replace")


def stop_server(process) -> str:
    """Stop the server (SIGTERM, then SIGKILL after 15 s); its whole log."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return server_log(process)
