"""Model versions in the database: promote, roll back, and every worker of a real server
following the active version without a restart and without a failed request."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from digitrec.engine.recognizer import shipped_model_path
from digitrec.storage.feedback import FeedbackStore
from digitrec.storage.models import ModelVersions, NoSuchVersion

from servers import run_cli, start_server, stop_server


def shipped_card() -> dict:
    return json.loads(shipped_model_path().with_suffix(".json").read_text())


def another_version(name: str) -> tuple[bytes, dict]:
    """The shipped network under a card of its own: a version that servers tell apart by
    the name they answer with."""
    return shipped_model_path().read_bytes(), {**shipped_card(), "version": name}


def test_promote_and_roll_back(database):
    versions = ModelVersions(FeedbackStore(database), shipped_card())
    assert [(v.number, v.status) for v in versions.list()] == [(1, "active")]
    two = versions.add(*another_version("two"))
    three = versions.add(*another_version("three"))
    rejected = versions.add(*another_version("bad"), status="rejected", reason="MNIST fell 0.3 points")
    assert (two, three, rejected) == (2, 3, 4) and versions.active_number() == 1
    assert versions.promote(2, "ops").status == "active" and versions.active_number() == 2
    versions.promote(3, "ops")
    listed = {v.number: v for v in versions.list()}
    assert [listed[n].status for n in (4, 3, 2, 1)] == ["rejected", "active", "retired", "retired"]
    assert listed[3].promoted_by == "ops" and listed[3].promoted_at is not None and listed[3].name == "three"
    assert versions.rollback("ops").number == 2
    assert versions.rollback("ops").number == 1  # back to the shipped model, not to 3
    assert versions.active_number() == 1
    with pytest.raises(NoSuchVersion, match="nothing to roll back"):
        versions.rollback("ops")
    with pytest.raises(NoSuchVersion, match="rejected"):
        versions.promote(4, "ops")
    with pytest.raises(NoSuchVersion, match="no model version 9"):
        versions.promote(9, "ops")
    assert versions.files(3)[2]["version"] == "three"


def test_the_model_commands(migrated_sqlite, tmp_path):
    from conftest import sqlite_copy

    url = sqlite_copy(migrated_sqlite, tmp_path / "data")
    ModelVersions(FeedbackStore(url), shipped_card()).add(*another_version("twenty"))
    env = {"DIGITREC_DATABASE_URL": url}
    listed = run_cli("model", "list", env=env)
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["2", "candidate", "twenty"] and lines[1].split()[:2] == ["1", "active"]
    promoted = run_cli("model", "promote", "2", env=env)
    assert promoted.returncode == 0 and "Version 2 (twenty) is active" in promoted.stdout
    assert run_cli("model", "list", env=env).stdout.splitlines()[0].split()[1] == "active"
    assert "version 1" in run_cli("model", "rollback", env=env).stdout
    missing = run_cli("model", "promote", "7", env=env)
    assert missing.returncode == 2 and missing.stderr.startswith("digitrec: There is no model version 7")
    assert "Traceback" not in missing.stderr


def test_every_worker_follows_a_promotion_and_a_rollback_without_a_failed_request(tmp_path):
    url_db = f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    process, url = start_server({"DIGITREC_DATABASE_URL": url_db, "DIGITREC_MODEL_POLL": "1"}, workers=2)
    versions = ModelVersions(FeedbackStore(url_db), shipped_card())
    number = versions.add(*another_version("hot-swapped"))
    image = (shipped_model_path().parents[1] / "web" / "static" / "examples" / "crop-5.png").read_bytes()
    answers: list[tuple[float, int, str | None]] = []
    stop = threading.Event()

    def client():  # one of four clients sending predictions back to back
        with httpx.Client(headers={"Content-Type": "image/png"}, timeout=10) as http:
            while not stop.is_set():
                try:
                    response = http.post(url + "/api/v1/predict", content=image)
                    answers.append((time.monotonic(), response.status_code, response.json().get("model")))
                except httpx.HTTPError:
                    answers.append((time.monotonic(), 0, None))

    threads = [threading.Thread(target=client) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1)
        switched = {}
        for step, expected in (
            (lambda: versions.promote(number, "test"), "hot-swapped"),
            (lambda: versions.rollback("test"), shipped_card()["version"]),
        ):
            started = time.monotonic()
            step()
            deadline = started + 10
            while time.monotonic() < deadline:
                recent = [model for t, _, model in answers if t > time.monotonic() - 1.0]
                if len(recent) > 20 and all(model == expected for model in recent):
                    break
                time.sleep(0.2)
            switched[expected] = time.monotonic() - started
            late = [model for t, _, model in answers if t > started + 10]
            assert not late or set(late) == {expected}
            assert switched[expected] < 10, switched
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        stop_server(process)
    assert answers and all(status == 200 for _, status, _ in answers), {s for _, s, _ in answers}
    assert {model for _, _, model in answers} == {"hot-swapped", shipped_card()["version"]}


def test_the_admin_page_promotes_and_rolls_back_with_a_token_per_action(make_app, database):
    import re

    app = make_app(DATABASE_URL=database, ADMIN_TOKEN="s3cret")
    versions = ModelVersions(FeedbackStore(database), shipped_card())
    number = versions.add(*another_version("from-admin"))
    client = app.test_client()
    assert client.get("/admin/models").status_code == 401
    bearer = {"Authorization": "Bearer s3cret"}
    page = client.get("/admin/models", headers=bearer)
    assert page.status_code == 200 and b"from-admin" in page.data
    token = re.search(
        rf'/admin/models/{number}/promote">\s*<input type="hidden" name="form_token" value="(\w+)"',
        page.get_data(as_text=True),
    ).group(1)
    # Another site cannot make the browser promote: without the action's own token, 400.
    assert client.post(f"/admin/models/{number}/promote", headers=bearer).status_code == 400
    assert (
        client.post(
            f"/admin/models/{number}/promote", headers=bearer, data={"form_token": "x" * 64}
        ).status_code
        == 400
    )
    assert versions.active_number() == 1
    done = client.post(f"/admin/models/{number}/promote", headers=bearer, data={"form_token": token})
    assert done.status_code == 303 and versions.active_number() == number
    assert versions.get(number).promoted_by == "admin page"
    page = client.get("/admin/models", headers=bearer).get_data(as_text=True)
    rollback = re.search(
        r'admin/models/rollback">\s*<input type="hidden" name="form_token" value="(\w+)"', page
    ).group(1)
    assert (
        client.post("/admin/models/rollback", headers=bearer, data={"form_token": rollback}).status_code
        == 303
    )
    assert versions.active_number() == 1
    # The same page again (now stale) rolls nothing back.
    assert (
        client.post("/admin/models/rollback", headers=bearer, data={"form_token": rollback}).status_code
        == 400
    )
