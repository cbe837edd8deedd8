"""A fleet on one machine, for real: Debian's nginx (with deploy/nginx.conf, only the
addresses changed), redis-server, PostgreSQL, and several `digitrec serve` instances on
loopback ports, configured as deploy/compose.yaml configures them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from servers import free_port, start_server, stop_server

DEPLOY = Path(__file__).parents[1] / "deploy"


class Redis:
    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> Redis:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
                ).stdout.strip()
                == "PONG"
            ):
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


class Nginx:
    """Debian's nginx with deploy/nginx.conf: its upstreams, port and paths made local."""

    def __init__(self, upstream_ports: list[int]):
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="digitrec-nginx-"))
        os.chmod(self.folder, 0o777)  # nginx's workers (nobody, when run as root) write here
        conf = (DEPLOY / "nginx.conf").read_text()
        servers = "\n".join(
            f"        server 127.0.0.1:{p} max_fails=3 fail_timeout=2s;" for p in upstream_ports
        )
        conf = re.sub(r"(        server app\d:8000[^\n]*\n)+", servers + "\n", conf)
        conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{self.port};")
        conf = conf.replace("/tmp/digitrec-nginx", str(self.folder / "nginx"))
        assert conf.count("127.0.0.1:") == len(upstream_ports) + 1
        (self.folder / "nginx.conf").write_text(conf)
        self.process: subprocess.Popen | None = None

    def start(self) -> Nginx:
        self.process = subprocess.Popen(
            ["nginx", "-c", str(self.folder / "nginx.conf"), "-p", str(self.folder), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                httpx.get(self.url + "/api/v1/health", timeout=1)
                return self
            except httpx.HTTPError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode()}") from None
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Fleet:
    """``count`` instances of `digitrec serve` (one worker each) behind nginx."""

    def __init__(self, database: str, redis: Redis, count: int = 3, extra_env: dict | None = None):
        self.env = {
            "DIGITREC_DATABASE_URL": database,
            "DIGITREC_RATE_LIMIT_STORAGE": redis.url,
            "DIGITREC_TRUSTED_PROXIES": "1",
            "DIGITREC_MODEL_POLL": "1",
            "DIGITREC_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        self.ports = [free_port() for _ in range(count)]
        self.processes: list[subprocess.Popen | None] = [None] * count
        self.nginx = Nginx(self.ports)

    def start(self) -> Fleet:
        for i in range(len(self.ports)):
            self.start_instance(i)
        self.nginx.start()
        return self

    def start_instance(self, i: int) -> None:
        self.processes[i], _ = start_server(self.env, workers=1, port=self.ports[i])

    def stop_instance(self, i: int, sig=signal.SIGTERM) -> None:
        process = self.processes[i]
        os.killpg(process.pid, sig)
        process.wait(timeout=20)

    def stop(self) -> list[str]:
        self.nginx.stop()
        return [stop_server(p) for p in self.processes if p is not None and p.poll() is None]


class Load:
    """``clients`` threads sending one request after another through the proxy; every
    request's start, end and status is kept (0: no answer at all)."""

    def __init__(self, url: str, body: bytes, clients: int = 8, path: str = "/api/v1/predict"):
        self.url, self.body, self.path = url, body, path
        self.results: list[tuple[float, float, int, str | None]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(timeout=30, headers={"Content-Type": "image/png"}) as http:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = http.post(self.url + self.path, content=self.body)
                    model = response.json().get("model") if response.status_code == 200 else None
                    self.results.append((started, time.monotonic(), response.status_code, model))
                except (httpx.HTTPError, ValueError):
                    self.results.append((started, time.monotonic(), 0, None))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def failed(self, after: float = 0.0) -> list[tuple[float, float, int, str | None]]:
        return [r for r in self.results if r[2] != 200 and r[0] >= after]
