"""Run the app: granian in production (its HTTP handling is Rust, outside the GIL),
waitress on Windows (where granian runs one worker only), Flask's reloading server with --dev.
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
from functools import partial

from digitrec.errors import DigitrecError

# The work is CPU-bound and holds the GIL most of the time, so one process per core does it
# all; a second thread lets a worker start on a request while another waits on the database.
DEFAULT_THREADS = 2
GRACEFUL_SECONDS = 10  # on SIGTERM, requests in flight get this long to finish
# granian serves on Linux and macOS; on Windows it runs a single worker, so waitress does.
GRANIAN = sys.platform != "win32"


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
    if not GRANIAN:
        _run_waitress(host, port, workers * threads, config)
        return
    _run_granian(host, port, workers, threads, config)


def _run_granian(host: str, port: int, workers: int, threads: int, config: dict) -> None:
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    _share_metrics()
    print(
        f"digitrec: serving on http://{_url_host(host)}:{port} with granian "
        f"({workers} worker{'s' if workers > 1 else ''} × {threads} thread{'s' if threads > 1 else ''})",
        file=sys.stderr,
    )
    Server(
        "digitrec",  # what the workers load: _worker_app(config), not an import path
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        # Requests are read and answers written by granian's own (Rust) threads; these are
        # the Python threads per worker that run the app, one request each.
        blocking_threads=threads,
        websockets=False,
        http1_settings=HTTP1Settings(header_read_timeout=30_000, keep_alive=True),
        log_level="warning",
        log_access=False,  # the app logs a line per request itself (edge.py)
        workers_kill_timeout=GRACEFUL_SECONDS,  # SIGTERM: requests in flight get this long
        respawn_failed_workers=True,  # a worker that dies is replaced
    ).serve(target_loader=partial(_worker_app, config))


def _worker_app(config: dict, target: str):
    """Runs in each worker: the model is loaded once per worker, never per request, and
    each worker follows the active model version (hotswap)."""
    from digitrec.web import hotswap
    from digitrec.web.app import create_app

    atexit.register(_leave_quietly)
    app = create_app(config)
    hotswap.start(app)
    return app


def _leave_quietly() -> None:
    """A worker leaves without running C++ static destructors: one of the native libraries
    (a thread pool) aborts with std::system_error when torn down in a forked worker, which
    turned every graceful stop into a SIGABRT. Everything worth keeping is written by now
    (requests are drained, the database commits per request)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _share_metrics() -> None:
    """Workers share Prometheus samples through files in a folder of their own.

    prometheus_client takes the folder only from this variable (read when it is imported),
    so this is the one place digitrec sets one: in the server process, for that library,
    before any worker imports it. digitrec's own settings never travel through the
    environment."""
    metrics_dir = tempfile.mkdtemp(prefix="digitrec-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    master = os.getpid()

    @atexit.register
    def _remove_metrics_dir():  # workers inherit this: only the server process cleans up
        if os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)


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
