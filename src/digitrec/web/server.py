"""Run the app: gunicorn in production, waitress where gunicorn cannot run (Windows),
Flask's reloading server with --dev.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile


def run_server(host: str, port: int, workers: int, dev: bool = False) -> None:
    if dev:
        from digitrec.web.app import create_app

        create_app().run(host=host, port=port, debug=True, use_reloader=True)
        return
    try:
        import gunicorn.app.base  # noqa: F401  (absent on Windows)
    except ImportError:
        _run_waitress(host, port, workers)
        return
    _run_gunicorn(host, port, workers)


def _run_gunicorn(host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    # Workers share Prometheus samples through files in this folder; set before any
    # worker imports prometheus_client.
    metrics_dir = tempfile.mkdtemp(prefix="digitrec-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    master = os.getpid()

    @atexit.register
    def _remove_metrics_dir():  # workers are forked and inherit this: only the master cleans
        if os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)

    def child_exit(server, worker):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    class Application(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            self.cfg.set("workers", workers)
            # Threads let one worker overlap reading a request with running the model; the
            # model itself runs one thread per request (see Recognizer).
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("keepalive", 5)
            self.cfg.set("timeout", 30)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("child_exit", child_exit)
            self.cfg.set("accesslog", None)
            self.cfg.set("proc_name", "digitrec")
            self.cfg.set("control_socket_disable", True)  # several servers may run side by side

        def load(self):
            # Runs in each worker: the model is loaded once per worker, never per request.
            from digitrec.web.app import create_app

            return create_app()

    Application().run()


def _run_waitress(host: str, port: int, workers: int) -> None:
    import waitress

    from digitrec.web.app import create_app

    print(f"digitrec: serving on http://{host}:{port} with waitress", file=sys.stderr)
    waitress.serve(create_app(), host=host, port=port, threads=max(4, workers * 2))
