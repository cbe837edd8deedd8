"""The real server when its corrections database goes away and comes back: predictions go
on, corrections answer 503 JSON, /ready says not ready, and it all recovers without a
restart, losing no acknowledged correction. On a real PostgreSQL server and on SQLite."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import text

from digitrec.storage.feedback import FeedbackStore
from digitrec.training import renderings

from postgres import PostgresServer, binaries
from servers import free_port, start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def images(mnist_test_set):
    """60 real digits as data URLs, each with its label."""
    digits, labels = mnist_test_set
    rng = np.random.default_rng(7)
    return [
        (
            "data:image/png;base64," + base64.b64encode(renderings.dark_on_white(digits[i], rng)).decode(),
            int(labels[i]),
        )
        for i in range(60)
    ]


class Corrections:
    """Sends corrections one after another from a thread; remembers which were acknowledged."""

    def __init__(self, url: str, images):
        self.url, self.images = url, images
        self.acknowledged: list[str] = []
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def send(self, request_id: str, index: int) -> httpx.Response:
        image, label = self.images[index % len(self.images)]
        payload = {"image": image, "predicted": (label + 1) % 10, "correct": label, "request_id": request_id}
        response = httpx.post(self.url + "/api/v1/feedback", json=payload, timeout=30)
        self.statuses.append(response.status_code)
        if response.status_code == 201:
            self.acknowledged.append(request_id)
        return response

    def _run(self) -> None:
        index = 0
        while not self._stop.is_set():
            self.send(f"burst-{index}", index)
            index += 1
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=60)


def wait_for(url: str, path: str, status: int, seconds: float = 20) -> float:
    """Seconds until GET ``path`` answers ``status``; fails after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if httpx.get(url + path, timeout=5).status_code == status:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{path} did not answer {status} within {seconds} s")


def assert_down_but_predicting(url: str, images, digit_images) -> None:
    predicted = httpx.post(
        url + "/api/v1/predict", content=digit_images[4], headers={"Content-Type": "image/png"}
    )
    assert predicted.status_code == 200 and predicted.json()["digit"] == 4
    correction = Corrections(url, images).send("while-down", 0)
    assert correction.status_code == 503
    assert correction.json()["error"]["code"] == "storage_unavailable"
    assert "try again" in correction.json()["error"]["message"].lower()
    ready = httpx.get(url + "/api/v1/ready")
    assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"


def stored_request_ids(url: str) -> list[str]:
    with FeedbackStore(url).engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT request_id FROM corrections"))]


@pytest.fixture
def outage_postgres():
    """A PostgreSQL server of this test's own, which the test stops and starts."""
    if binaries() is None:
        pytest.skip("PostgreSQL is not installed")
    server = PostgresServer(free_port()).start()
    yield server
    server.stop()


def test_postgres_down_at_start_and_during_a_burst(outage_postgres, images, digit_images):
    """The database is new and empty, and down when the server starts: when it comes back,
    the server creates the schema by itself and becomes ready."""
    database = outage_postgres.new_database()
    outage_postgres.pause()
    # The server starts although the database is down, and says so.
    process, url = start_server({"DIGITREC_DATABASE_URL": database}, workers=2, ready=False)
    try:
        assert_down_but_predicting(url, images, digit_images)
        outage_postgres.resume()
        wait_for(url, "/api/v1/ready", 200, seconds=30)
        with Corrections(url, images) as burst:
            while len(burst.acknowledged) < 10:
                time.sleep(0.05)
            outage_postgres.pause()  # the database goes away in the middle of the burst
            time.sleep(1.0)
            assert_down_but_predicting(url, images, digit_images)
            outage_postgres.resume()
            recovered_in = wait_for(url, "/api/v1/ready", 200)
            count = len(burst.acknowledged)
            while len(burst.acknowledged) < count + 10:
                time.sleep(0.05)
    finally:
        log = stop_server(process)
    assert "is unavailable" in log and "Serving predictions anyway" in log
    assert recovered_in < 10
    assert set(burst.statuses) <= {201, 503}, burst.statuses  # never a 500
    assert 503 in burst.statuses
    assert set(burst.acknowledged) <= set(stored_request_ids(database))  # none lost
    assert "Traceback" not in log


def test_sqlite_data_folder_gone_and_back(tmp_path, images, digit_images):
    data = tmp_path / "data"
    process, url = start_server({"DIGITREC_DATA_DIR": str(data)}, workers=2)
    try:
        with Corrections(url, images) as burst:
            while len(burst.acknowledged) < 10:
                time.sleep(0.05)
            data.rename(tmp_path / "unmounted")  # the volume goes away under the server
            time.sleep(0.5)
            assert_down_but_predicting(url, images, digit_images)
            (tmp_path / "unmounted").rename(data)
            wait_for(url, "/api/v1/ready", 200)
            count = len(burst.acknowledged)
            while len(burst.acknowledged) < count + 10:
                time.sleep(0.05)
    finally:
        log = stop_server(process)
    assert set(burst.statuses) <= {201, 503}, burst.statuses
    assert 503 in burst.statuses
    stored = stored_request_ids(f"sqlite:///{Path(data) / 'feedback.sqlite3'}")
    assert set(burst.acknowledged) <= set(stored)
    assert "Traceback" not in log


def test_a_corrupt_sqlite_file_is_an_outage_not_a_crash(make_app, tmp_path, digit_images):
    (tmp_path / "feedback.sqlite3").write_bytes(b"garbage garbage " * 100)
    client = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'feedback.sqlite3'}").test_client()
    ready = client.get("/api/v1/ready")
    assert ready.status_code == 503 and ready.get_json()["error"]["code"] == "not_ready"
    payload = {
        "image": "data:image/png;base64," + base64.b64encode(digit_images[3]).decode(),
        "predicted": 5,
        "correct": 3,
    }
    stored = client.post("/api/v1/feedback", json=payload)
    assert stored.status_code == 503 and stored.get_json()["error"]["code"] == "storage_unavailable"
    assert (
        client.post("/api/v1/predict", data=digit_images[3], content_type="image/png").get_json()["digit"]
        == 3
    )
