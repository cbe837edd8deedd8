"""Run the app: gunicorn in production, waitress where gunicorn cannot run (Windows),
Flask's reloading server with --dev.
"""

from __future__ import annotations

import atexit
import errno
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Mapping

from digitrec.errors import DigitrecError

# The work is CPU-bound and holds the GIL most of the time, so one process per core does it
# all; a second thread lets a worker take a new request while another is still being read
# or written (a slow client), at a small cost in throughput (benchmarks/bench_server.py).
DEFAULT_THREADS = 2
# Where the kernel shares connections out among sockets bound with SO_REUSEPORT (Linux).
# Elsewhere (macOS, BSD) one socket would take them all, so the workers share one socket.
REUSE_PORT = sys.platform == "linux"


class CannotListen(DigitrecError):
    """The server cannot listen on the address and port asked for (in use, unknown host)."""

    code = "cannot_listen"


def run_server(
    host: str,
    port: int,
    workers: int,
    threads: int = DEFAULT_THREADS,
    dev: bool = False,
    config: Mapping | None = None,
) -> None:
    """Serve ``create_app(config)`` until stopped; ``config`` as for ``create_app``."""
    config = dict(config or {})
    if os.environ.get("WERKZEUG_RUN_MAIN") != "true":  # not in the reloader's child, which
        port = _check_free(host, port)  # finds the port held by its parent, as it should
    if dev:
        from digitrec.web import hotswap
        from digitrec.web.app import create_app

        app = create_app(config)
        if os.environ.get("WERKZEUG_RUN_MAIN") == "true":  # the reloader's child serves
            hotswap.start(app)
        app.run(host=host, port=port, debug=True, use_reloader=True)
        return
    try:
        import gunicorn.app.base  # noqa: F401  (absent on Windows)
    except ImportError:
        _run_waitress(host, port, workers * threads, config)
        return
    _run_gunicorn(host, port, workers, threads, config)


def _run_gunicorn(host: str, port: int, workers: int, threads: int, config: dict) -> None:
    from gunicorn.app.base import BaseApplication

    # Workers share Prometheus samples through files in this folder. prometheus_client takes
    # the folder only from this variable (read when it is imported), so this is the one
    # place digitrec sets one: in the server process, for that library, before any worker
    # imports it. digitrec's own settings never travel through the environment.
    metrics_dir = tempfile.mkdtemp(prefix="digitrec-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    master = os.getpid()

    @atexit.register
    def _remove_metrics_dir():  # workers are forked and inherit this: only the master cleans
        if os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)

    def worker_exit(server, worker):
        # Leave without running C++ static destructors: one of the native libraries (a
        # thread pool) aborts with std::system_error when torn down in a forked worker,
        # which turned every graceful stop into a SIGABRT. Everything worth keeping is
        # written by now (requests are drained, the database commits per request).
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def child_exit(server, worker):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    class Application(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{_url_host(host)}:{port}")
            self.cfg.set("workers", workers)
            # A keep-alive connection stays with the worker that accepted it. On one shared
            # socket, whichever worker wakes first accepts, and under load one worker was
            # seen holding all 16 connections while the other idled (half the throughput).
            # With a socket per worker, the kernel deals new connections out evenly.
            self.cfg.set("reuse_port", REUSE_PORT)
            # gthread keeps idle keep-alive connections off the threads; the model itself
            # runs one thread per request (see Recognizer).
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("keepalive", 5)
            self.cfg.set("timeout", 30)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("child_exit", child_exit)
            self.cfg.set("worker_exit", worker_exit)
            self.cfg.set("accesslog", None)
            self.cfg.set("proc_name", "digitrec")
            self.cfg.set("control_socket_disable", True)  # several servers may run side by side

        def load(self):
            # Runs in each worker: the model is loaded once per worker, never per request,
            # and each worker follows the active model version (hotswap).
            from digitrec.web import hotswap
            from digitrec.web.app import create_app

            app = create_app(config)
            hotswap.start(app)
            return app

    print(
        f"digitrec: serving on http://{_url_host(host)}:{port} with gunicorn "
        f"({workers} worker{'s' if workers > 1 else ''} × {threads} thread{'s' if threads > 1 else ''})",
        file=sys.stderr,
    )
    Application().run()


def _check_free(host: str, port: int) -> int:
    """``port`` (for 0: a free one) if nothing listens there yet; CannotListen otherwise.

    Sockets bound with SO_REUSEPORT would quietly share a port with another server run by
    the same user, so a plain socket tries it first."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise CannotListen(f"Cannot listen on '{host}': {error.strerror}.") from None
    with socket.socket(family, kind, proto) as probe:
        if os.name == "posix":  # ignore old TIME_WAIT connections, as servers do; on
            # Windows this option would instead allow binding a port that is in use
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            hint = (
                " Is another server running there? Stop it or choose another --port."
                if error.errno == errno.EADDRINUSE
                else ""
            )
            raise CannotListen(
                f"Cannot listen on {_url_host(host)}:{port}: {error.strerror}.{hint}"
            ) from None
        return probe.getsockname()[1]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _run_waitress(host: str, port: int, threads: int, config: dict) -> None:
    import waitress

    from digitrec.web import hotswap
    from digitrec.web.app import create_app

    app = create_app(config)
    hotswap.start(app)
    print(f"digitrec: serving on http://{_url_host(host)}:{port} with waitress", file=sys.stderr)
    waitress.serve(app, host=host, port=port, threads=threads)
