"""Shared fixtures: a private home for the whole session, real MNIST digits, the shipped
model, databases (SQLite and a real PostgreSQL server), the Flask app and a live server.

MNIST is read from $DIGITREC_DATA (CI sets it to ../shared/mnist).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from digitrec import settings
from digitrec.engine.recognizer import Recognizer
from digitrec.storage import feedback
from digitrec.training import mnist, renderings
from digitrec.web.app import create_app

from postgres import PostgresServer, binaries
from servers import free_port, start_server, stop_server

# Where platformdirs (and so the default data folder) looks on Linux, macOS and Windows.
HOME_VARIABLES = ("HOME", "USERPROFILE", "APPDATA", "LOCALAPPDATA")
XDG_VARIABLES = ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME")
# Settings of the developer's shell that the tests keep: where MNIST and Chromium are.
KEPT_VARIABLES = (settings.MNIST_VARIABLE, "DIGITREC_CHROMIUM")


def _snapshot(folder: Path) -> dict[str, str] | None:
    """Every file under ``folder`` with its sha256; None if the folder does not exist."""
    if not folder.exists():
        return None
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="session", autouse=True)
def private_home(tmp_path_factory):
    """The whole suite runs with HOME (and the XDG and Windows folders) in a temporary
    folder and with no DIGITREC_* setting of the developer's, so nothing it does can reach
    the user's real data folder or database. At the end, the real data folder must be
    byte-identical to what it was."""
    import platformdirs

    real_data = Path(platformdirs.user_data_dir("digitrec"))
    before = _snapshot(real_data)
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        if not os.environ.get(settings.MNIST_VARIABLE) and mnist.cache_folder().is_dir():
            patch.setenv(settings.MNIST_VARIABLE, str(mnist.cache_folder()))  # MNIST already cached
        for name in [n for n in os.environ if n.startswith(settings.PREFIX) and n not in KEPT_VARIABLES]:
            patch.delenv(name)
        for name in HOME_VARIABLES:
            patch.setenv(name, str(home))
        for name in XDG_VARIABLES:
            patch.setenv(name, str(home / name.lower()))
        yield home
    assert _snapshot(real_data) == before, f"the test suite changed the user's data folder {real_data}"


@pytest.fixture(scope="session")
def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    return mnist.load_test_set(os.environ.get(mnist.DATA_ENV))


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    return Recognizer()


@pytest.fixture(scope="session")
def digit_images(mnist_test_set):
    """A few real MNIST test digits as canvas-like PNGs, keyed by label (first of each)."""
    images, labels = mnist_test_set
    rng = np.random.default_rng(0)
    first = {int(d): int(np.flatnonzero(labels == d)[0]) for d in range(10)}
    return {d: renderings.transparent_canvas(images[i], rng) for d, i in first.items()}


# ---- databases -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (Debian's `postgresql` package)."""
    if binaries() is None:
        if os.environ.get("CI"):
            raise RuntimeError("PostgreSQL is required in CI (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed")
    server = PostgresServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """An empty, migrated SQLite database, copied by the tests that need one."""
    path = tmp_path_factory.mktemp("template") / "feedback.sqlite3"
    feedback.upgrade(f"sqlite:///{path}")
    return path


def sqlite_copy(template: Path, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, folder / "feedback.sqlite3")
    return f"sqlite:///{folder / 'feedback.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, migrated_sqlite, tmp_path) -> str:
    """A fresh, migrated corrections database: SQLite, then the real PostgreSQL server."""
    if request.param == "sqlite":
        return sqlite_copy(migrated_sqlite, tmp_path / "data")
    url = request.getfixturevalue("postgres").new_database()
    feedback.upgrade(url)
    return url


# ---- the app -------------------------------------------------------------------------


@pytest.fixture
def make_app(recognizer, migrated_sqlite, tmp_path):
    """Build an app: create_app with the tests' defaults (rate limits off, a fresh migrated
    SQLite database, the session's model) overridden by ``config``."""

    def make(**config):
        config = {"TESTING": True, "RATE_LIMIT": "off", **config}
        if "DATABASE_URL" not in config:
            config["DATABASE_URL"] = sqlite_copy(migrated_sqlite, tmp_path / "app-data")
        own_model = "MODEL" in config or "MAX_PIXELS" in config
        return create_app(config, recognizer=None if own_model else recognizer)

    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def live_server():
    process, url = start_server()
    yield url
    stop_server(process)
