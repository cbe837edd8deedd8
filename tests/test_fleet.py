"""Runs as a fleet: three `digitrec serve` instances behind Debian's nginx (deploy/nginx.conf),
sharing a real PostgreSQL and a real Redis, under load from bounded clients while things
fail: an instance killed, a rolling restart, the database stopped, Redis stopped, a model
promoted. Everything listens on 127.0.0.1 and is started by the tests."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import threading
import time

import httpx
import numpy as np
import pytest
from fleet import Fleet, Load, Redis

from digitrec.engine.recognizer import shipped_model_path
from digitrec.storage import feedback
from digitrec.storage.models import ModelVersions
from digitrec.training import renderings

from postgres import PostgresServer, binaries
from servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def services():
    missing = [name for name in ("nginx", "redis-server") if shutil.which(name) is None]
    if missing or binaries() is None:
        if os.environ.get("CI"):
            raise RuntimeError(
                f"CI needs nginx, redis-server and postgresql; missing: {missing or 'postgresql'}"
            )
        pytest.skip(
            f"not installed: {missing or 'postgresql'} (apt-get install nginx redis-server postgresql)"
        )
    pg = PostgresServer(free_port()).start()
    redis = Redis().start()
    database = pg.new_database()
    feedback.upgrade(database)
    yield pg, redis, database
    redis.stop()
    pg.stop()


@pytest.fixture(scope="module")
def fleet(services):
    _, redis, database = services
    # Rate limits on (counted in Redis) but far above what the load sends.
    fleet = Fleet(
        database,
        redis,
        3,
        {"DIGITREC_RATE_LIMIT": "100000 per minute", "DIGITREC_FEEDBACK_RATE_LIMIT": "100000 per minute"},
    ).start()
    yield fleet
    fleet.stop()


@pytest.fixture(scope="module")
def canvas(mnist_test_set) -> bytes:
    images, _ = mnist_test_set
    return renderings.transparent_canvas(images[0], np.random.default_rng(0))


def test_rate_limits_count_once_across_instances(services, canvas):
    """Two instances, one Redis: a client gets the limit once, not once per instance; the
    client is the one nginx saw (X-Forwarded-For), a forged header changes nothing."""
    _, redis, database = services
    small = Fleet(database, redis, 2, {"DIGITREC_RATE_LIMIT": "10 per minute"}).start()
    try:
        with httpx.Client(headers={"Content-Type": "image/png", "X-Forwarded-For": "198.51.100.1"}) as http:
            statuses = [
                http.post(small.nginx.url + "/api/v1/predict", content=canvas).status_code for _ in range(16)
            ]
    finally:
        small.stop()
    assert statuses.count(200) == 10 and statuses[10:] == [429] * 6


def test_an_instance_killed_under_load(fleet, canvas):
    with Load(fleet.nginx.url, canvas) as load:
        time.sleep(2)
        killed_at = time.monotonic()
        fleet.stop_instance(0, signal.SIGKILL)
        time.sleep(4)
    fleet.start_instance(0)
    in_flight = [r for r in load.results if r[0] <= killed_at <= r[1]]
    assert len(load.results) > 100
    assert len(load.failed()) <= len(in_flight), load.failed()
    assert not load.failed(after=killed_at + 0.5)


def test_a_rolling_restart_fails_no_request(fleet, canvas):
    with Load(fleet.nginx.url, canvas) as load:
        for i in range(len(fleet.ports)):
            time.sleep(3)  # as docs/deploy.md says: the next one once this one is back
            fleet.stop_instance(i, signal.SIGTERM)  # graceful: requests in flight finish
            fleet.start_instance(i)  # returns once it answers /api/v1/ready
        time.sleep(1)
    assert len(load.results) > 100 and load.failed() == []


def test_the_database_stopped_during_a_burst_of_corrections(services, fleet, mnist_test_set):
    pg, _, database = services
    images, labels = mnist_test_set
    rng = np.random.default_rng(1)
    bodies = [
        {
            "image": "data:image/png;base64,"
            + base64.b64encode(renderings.dark_on_white(images[i], rng)).decode(),
            "predicted": int((labels[i] + 1) % 10),
            "correct": int(labels[i]),
        }
        for i in range(20)
    ]
    acknowledged, statuses, stop = [], [], threading.Event()

    def burst():
        with httpx.Client(timeout=30) as http:
            n = 0
            while not stop.is_set():
                request_id = f"fleet-{n}"
                response = http.post(
                    fleet.nginx.url + "/api/v1/feedback", json={**bodies[n % 20], "request_id": request_id}
                )
                statuses.append(response.status_code)
                if response.status_code == 201:
                    acknowledged.append(request_id)
                elif response.status_code == 503:
                    assert response.json()["error"]["code"] == "storage_unavailable"
                n += 1
                time.sleep(0.02)

    thread = threading.Thread(target=burst)
    thread.start()
    try:
        time.sleep(1)
        pg.pause()
        down_at = time.monotonic()
        time.sleep(2)
        assert httpx.get(fleet.nginx.url + "/api/v1/ready").status_code == 503
        predicted = httpx.post(
            fleet.nginx.url + "/api/v1/predict",
            content=renderings.mnist_png(images[0]),
            headers={"Content-Type": "image/png"},
        )
        assert predicted.status_code == 200  # predictions do not need the database
        time.sleep(max(0.0, 10 - (time.monotonic() - down_at)))
        pg.resume()
        deadline = time.monotonic() + 20
        while httpx.get(fleet.nginx.url + "/api/v1/ready").status_code != 200:
            assert time.monotonic() < deadline, "not ready 20 s after the database came back"
            time.sleep(0.2)
        # Every instance takes corrections again once its 2 s pause after a failure is over.
        time.sleep(4)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert 503 in statuses and set(statuses) <= {201, 503}
    assert statuses[-20:] == [201] * 20  # recovered, on every instance, without a restart
    with feedback.FeedbackStore(database).engine.connect() as connection:
        from sqlalchemy import text

        stored = {row[0] for row in connection.execute(text("SELECT request_id FROM corrections"))}
    assert set(acknowledged) <= stored  # no acknowledged correction lost


def test_redis_stopped_predictions_go_on(services, fleet, canvas):
    _, redis, _ = services
    with Load(fleet.nginx.url, canvas) as load:
        time.sleep(1)
        redis.stop()
        stopped_at = time.monotonic()
        time.sleep(3)
        redis.start()
        time.sleep(2)
    during = [r for r in load.results if r[0] > stopped_at + 0.2 and r[1] < stopped_at + 3]
    assert len(during) > 20 and all(r[2] == 200 for r in during)
    assert load.failed() == []


def test_a_promotion_reaches_every_instance(services, fleet, canvas):
    _, _, database = services
    card = json.loads(shipped_model_path().with_suffix(".json").read_text())
    versions = ModelVersions(feedback.FeedbackStore(database), card)
    number = versions.add(shipped_model_path().read_bytes(), {**card, "version": "fleet-promoted"})
    with Load(fleet.nginx.url, canvas) as load:
        time.sleep(1)
        promoted_at = time.monotonic()
        versions.promote(number, "fleet test")
        time.sleep(10)
        rolled_back_at = time.monotonic()
        versions.rollback("fleet test")
        time.sleep(10)
    assert load.failed() == []
    after_promotion = [r[3] for r in load.results if promoted_at + 10 - 1 < r[0] < rolled_back_at]
    after_rollback = [r[3] for r in load.results if r[0] > rolled_back_at + 10 - 1]
    assert after_promotion and set(after_promotion) == {"fleet-promoted"}
    assert after_rollback and set(after_rollback) == {card["version"]}
