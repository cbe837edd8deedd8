"""Corrections through the live server (granian): concurrency and crash safety, on SQLite and
on a real PostgreSQL server."""

from __future__ import annotations

import base64
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from sqlalchemy import text

from digitrec.engine import decode, to_mnist_28x28
from digitrec.storage.feedback import FeedbackStore
from digitrec.training import renderings

from servers import start_server, stop_server


@pytest.fixture
def server_database(database):
    """(environment for the server, SQLAlchemy URL to inspect the same database)."""
    return {"DIGITREC_DATABASE_URL": database}, database


@pytest.fixture(scope="module")
def corrections(mnist_test_set, recognizer):
    """300 distinct real images, each with its own label to store (a varied one, so that a
    row mixed up with another shows), and what the server reads in it (stored as
    ``predicted``, whatever the client claims)."""
    images, labels = mnist_test_set
    rng = np.random.default_rng(3)
    items = []
    for i in range(300):
        data = renderings.dark_on_white(images[i], rng)
        items.append(
            {
                "request_id": f"c{i}",
                "image": "data:image/png;base64," + base64.b64encode(data).decode(),
                "predicted": int(labels[i]),
                "correct": int((labels[i] + 1 + i % 8) % 10),
                "read": recognizer.recognize(data).digit,
                "expected_28x28": to_mnist_28x28(decode(data)),
            }
        )
    return items


def post(url: str, item: dict, timeout: float = 30) -> httpx.Response:
    payload = {k: item[k] for k in ("image", "predicted", "correct", "request_id")}
    return httpx.post(url + "/api/v1/feedback", json=payload, timeout=timeout)


def assert_rows_match(store: FeedbackStore, corrections: list[dict], ids: dict[str, int]) -> None:
    by_request = {item["request_id"]: item for item in corrections}
    with store.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, request_id, predicted, correct, image_28x28 FROM corrections")
        ).all()
    stored = {row.id: row for row in rows}
    for request_id, correction_id in ids.items():
        row = stored[correction_id]
        item = by_request[request_id]
        assert row.request_id == request_id
        assert (row.predicted, row.correct) == (item["read"], item["correct"])
        image = np.frombuffer(bytes(row.image_28x28), np.uint8).reshape(28, 28) / 255.0
        assert np.abs(image - item["expected_28x28"]).max() <= 1 / 255 + 1e-6, request_id
    for row in rows:  # no partial rows of any kind
        assert len(bytes(row.image_28x28)) == 784 and 0 <= row.predicted <= 9 and 0 <= row.correct <= 9


def test_200_concurrent_corrections_are_stored_exactly_once_and_unmixed(server_database, corrections):
    env, url = server_database
    process, server = start_server(env)
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            responses = list(pool.map(lambda item: post(server, item), corrections[:200]))
    finally:
        stop_server(process)
    assert [r.status_code for r in responses] == [201] * 200
    ids = {item["request_id"]: r.json()["id"] for item, r in zip(corrections, responses)}
    assert len(set(ids.values())) == 200
    store = FeedbackStore(url)
    assert store.count() == 200
    assert_rows_match(store, corrections[:200], ids)


def test_a_server_killed_mid_burst_loses_no_acknowledged_write(server_database, corrections):
    env, url = server_database
    process, server = start_server(env)
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(items):
        for item in items:
            if stop.is_set():
                return
            try:
                response = post(server, item, timeout=5)
            except httpx.HTTPError:
                continue  # the server died under this request: not acknowledged
            if response.status_code == 201:
                with lock:
                    acknowledged[item["request_id"]] = response.json()["id"]

    threads = [threading.Thread(target=writer, args=(corrections[i::12],)) for i in range(12)]
    for thread in threads:
        thread.start()
    deadline = time.time() + 30
    while len(acknowledged) < 60 and time.time() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)  # master and workers, mid-burst
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    process.wait(timeout=10)
    assert len(acknowledged) >= 60

    # Restart on the same database: it opens cleanly and keeps every acknowledged write.
    process, server = start_server(env)
    try:
        assert httpx.get(server + "/api/v1/ready").status_code == 200
        assert post(server, corrections[-1]).status_code == 201
    finally:
        stop_server(process)
    store = FeedbackStore(url)
    if url.startswith("sqlite"):
        with store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    assert_rows_match(store, corrections, acknowledged)
    assert store.count() >= len(acknowledged) + 1
