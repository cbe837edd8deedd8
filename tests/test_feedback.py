"""Corrections: stored safely in SQLite and in a real PostgreSQL server, reviewed, exported."""

from __future__ import annotations

import base64
import io
import json
import os

import numpy as np
import pytest

from digitrec.engine import decode, to_mnist_28x28
from digitrec.storage.feedback import FeedbackStore

from servers import run_cli


@pytest.fixture
def feedback_app(make_app, database):
    return make_app(DATABASE_URL=database)


@pytest.fixture
def store(feedback_app) -> FeedbackStore:
    return feedback_app.extensions["feedback"]


def post_json(client, **payload):
    return client.post("/api/v1/feedback", json=payload)


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


# ---- storing ---------------------------------------------------------------------------


def test_a_json_correction_is_stored_with_its_28x28_and_labels(feedback_app, store, digit_images):
    client = feedback_app.test_client()
    response = post_json(client, image=data_url(digit_images[8]), predicted=3, correct=8, request_id="req-1")
    assert response.status_code == 201
    stored = store.get(response.get_json()["id"])
    # "predicted" is what the server reads (an 8), not what the client claimed (3).
    assert (stored.predicted, stored.correct) == (8, 8)
    assert stored.model_version == feedback_app.extensions["recognizer"].version
    expected = to_mnist_28x28(decode(digit_images[8]))
    assert np.abs(stored.image_28x28 / 255.0 - expected).max() <= 1 / 255 + 1e-6
    assert stored.has_original  # a small original is kept


def test_predicted_may_be_left_out(feedback_app, store, digit_images):
    """What is kept as predicted is what the server reads, so a client need not say it."""
    response = post_json(feedback_app.test_client(), image=data_url(digit_images[8]), correct=3)
    assert response.status_code == 201
    assert (store.get(response.get_json()["id"]).predicted, store.count()) == (8, 1)


def test_a_multipart_correction_is_stored(feedback_app, store, digit_images):
    client = feedback_app.test_client()
    form = {"image": (io.BytesIO(digit_images[4]), "d.png"), "predicted": "9", "correct": "4"}
    response = client.post("/api/v1/feedback", data=form)
    assert response.status_code == 201
    assert (store.get(response.get_json()["id"]).correct, store.count()) == (4, 1)


def test_originals_over_1_mb_are_not_kept(feedback_app, store, digit_images):
    client = feedback_app.test_client()
    big = digit_images[1] + b"\0" * (1024 * 1024)  # still a valid PNG, over 1 MB
    response = client.post(
        "/api/v1/feedback", data={"image": (io.BytesIO(big), "d.png"), "predicted": "7", "correct": "1"}
    )
    assert response.status_code == 201
    assert not store.get(response.get_json()["id"]).has_original


def test_nothing_identifying_is_stored(store):
    from sqlalchemy import inspect

    columns = {c["name"] for c in inspect(store.engine).get_columns("corrections")}
    assert columns == {
        "digit_index",
        "id",
        "created_at",
        "predicted",
        "correct",
        "model_version",
        "image_28x28",
        "original",
        "request_id",
    }


BAD_LABELS = [
    -1,
    10,
    "8",
    None,
    3.0,
    True,
    "x",
    [8],
    {"digit": 8},
    "8; DROP TABLE corrections; --",
    "' OR 1=1 --",
]


@pytest.mark.parametrize("bad", BAD_LABELS, ids=repr)
def test_hostile_labels_are_422_and_store_nothing(feedback_app, store, digit_images, bad):
    client = feedback_app.test_client()
    response = post_json(client, image=data_url(digit_images[2]), predicted=bad, correct=2)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_label"
    response = post_json(client, image=data_url(digit_images[2]), predicted=2, correct=bad)
    assert response.status_code == 422
    assert store.count() == 0


def test_a_digit_sent_as_a_json_string_is_told_so(feedback_app, store, digit_images):
    response = post_json(feedback_app.test_client(), image=data_url(digit_images[2]), correct="7")
    assert response.status_code == 422 and 'not the string "7"' in response.get_json()["error"]["message"]
    assert store.count() == 0


@pytest.mark.parametrize("bad", ["10", "-1", "", "٣", "8.0", "'; DROP TABLE corrections; --"])
def test_hostile_form_labels_are_422(feedback_app, store, digit_images, bad):
    client = feedback_app.test_client()
    form = {"image": (io.BytesIO(digit_images[2]), "d.png"), "predicted": bad, "correct": "2"}
    assert client.post("/api/v1/feedback", data=form).status_code == 422
    assert store.count() == 0


def test_other_bad_requests_are_4xx_json_and_store_nothing(feedback_app, store, digit_images):
    client = feedback_app.test_client()
    cases = [
        (post_json(client, image="###", predicted=1, correct=2), 400),
        (post_json(client, image=data_url(b"not an image"), predicted=1, correct=2), 415),
        (post_json(client, predicted=1, correct=2), 400),
        (client.post("/api/v1/feedback", data="[1, 2]", content_type="application/json"), 400),
        (client.post("/api/v1/feedback", data="{", content_type="application/json"), 400),
        (client.post("/api/v1/feedback", data=digit_images[2], content_type="image/png"), 415),
        (
            client.post("/api/v1/feedback", data=b"\0" * (11 * 1024 * 1024), content_type="application/json"),
            413,
        ),
        (
            post_json(client, image=data_url(digit_images[2]), predicted=1, correct=2, request_id="<script>"),
            400,
        ),
        (client.get("/api/v1/feedback"), 405),
    ]
    for response, status in cases:
        assert response.status_code == status, response.data[:200]
        assert response.get_json()["error"]["code"]
    assert store.count() == 0


def test_feedback_is_rate_limited_per_client(make_app, database, digit_images):
    app = make_app(DATABASE_URL=database, RATE_LIMIT="120 per minute", FEEDBACK_RATE_LIMIT="2 per minute")
    client = app.test_client()
    statuses = [
        post_json(client, image=data_url(digit_images[5]), predicted=3, correct=5).status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
    assert app.extensions["feedback"].count() == 2


# ---- review page -----------------------------------------------------------------------


def test_review_page_is_off_without_a_token(client):
    assert client.get("/admin/feedback").status_code == 404


def token_of(html: str) -> str:
    """The first form token on a page (another action's, for a forgery)."""
    return html.split('name="form_token" value="')[1].split('"')[0]


def test_review_page_needs_the_token(make_app, database, digit_images):
    app = make_app(DATABASE_URL=database, ADMIN_TOKEN="s3cret")
    client = app.test_client()
    # A 6 that someone says is a 5: stored as read (6) and as said (5).
    correction = post_json(client, image=data_url(digit_images[6]), predicted=6, correct=5).get_json()["id"]
    assert client.get("/admin/feedback").status_code == 401
    assert client.get("/admin/feedback", headers={"Authorization": "Bearer wrong"}).status_code == 401
    basic = "Basic " + base64.b64encode(b"admin:s3cret").decode()
    page = client.get("/admin/feedback", headers={"Authorization": basic})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"#{correction}: predicted <b>6</b>, really <b>5</b>" in html
    assert "data:image/png;base64," in html
    assert "1 digit read wrong and corrected, 0 confirmed as read" in html

    # A confirmation is an example, not a mistake; a typed number is listed on its own.
    post_json(client, image=data_url(digit_images[3]), predicted=3, correct=3)
    post_json(client, image=data_url(digit_images[4]), correct_number="41")
    html = client.get("/admin/feedback", headers={"Authorization": basic}).get_data(as_text=True)
    assert "1 digit read wrong and corrected, 1 confirmed as read" in html
    assert "<b>3</b>, confirmed as read" in html and "<td>41</td>" in html
    number = app.extensions["feedback"].number_corrections()[0][0]
    row = html.split(f'action="/admin/numbers/{number}/delete"')[1]
    number_token = row.split('name="form_token" value="')[1].split('"')[0]
    bearer = {"Authorization": "Bearer s3cret"}
    # Another action's token (the first on the page, a digit's delete) is refused.
    forged = client.post(
        f"/admin/numbers/{number}/delete", data={"form_token": token_of(html)}, headers=bearer
    )
    assert forged.status_code == 400
    gone = client.post(f"/admin/numbers/{number}/delete", data={"form_token": number_token}, headers=bearer)
    assert gone.status_code == 303 and app.extensions["feedback"].number_corrections() == []
    assert html.count("<tr><td>6</td><td>5</td><td>1</td></tr>") == 1  # the mistakes table

    bearer = {"Authorization": "Bearer s3cret"}
    forged = client.post(f"/admin/feedback/{correction}/delete", data={"form_token": "x"}, headers=bearer)
    assert forged.status_code == 400
    form = html.split(f'action="/admin/feedback/{correction}/delete"')[1]
    token = form.split('name="form_token" value="')[1].split('"')[0]
    deleted = client.post(f"/admin/feedback/{correction}/delete", data={"form_token": token}, headers=bearer)
    assert deleted.status_code == 303
    assert app.extensions["feedback"].count() == 1  # the confirmation


# ---- export and training -------------------------------------------------------------------


def _fill(make_app, url: str, mnist_test_set, count: int) -> list[int]:
    from digitrec.training import renderings

    images, labels = mnist_test_set
    app = make_app(DATABASE_URL=url)
    client = app.test_client()
    rng = np.random.default_rng(0)
    for i in range(count):
        data = renderings.dark_on_white(images[i], rng)
        response = post_json(
            client, image=data_url(data), predicted=int((labels[i] + 1) % 10), correct=int(labels[i])
        )
        assert response.status_code == 201
    return [int(v) for v in labels[:count]]


def test_db_upgrade_and_export_in_both_formats(make_app, tmp_path, mnist_test_set):
    url = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    env = {"DIGITREC_DATABASE_URL": url}
    upgraded = run_cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0 and "Database created (revision 0006)" in upgraded.stdout
    again = run_cli("db", "upgrade", env=env)
    assert again.returncode == 0 and "Database is up to date (revision 0006)" in again.stdout
    labels = _fill(make_app, url, mnist_test_set, 5)
    assert run_cli("feedback", "export", "--out", str(tmp_path / "c.npz"), env=env).returncode == 0
    with np.load(tmp_path / "c.npz") as data:
        assert data["images"].shape == (5, 28, 28) and data["labels"].tolist() == labels
    assert (
        run_cli("feedback", "export", "--out", str(tmp_path / "c"), "--format", "idx", env=env).returncode
        == 0
    )
    from digitrec.storage.export import read_corrections

    images, read_labels = read_corrections(tmp_path / "c-images-idx3-ubyte.gz")
    assert images.shape == (5, 28, 28) and read_labels.tolist() == labels


@pytest.mark.slow
def test_export_then_train_a_tiny_model_end_to_end(make_app, tmp_path, mnist_test_set):
    """The real pipeline: corrections exported from the database, Keras training on 200
    MNIST images plus them, ONNX export, the model card, and evaluation of the result."""
    from digitrec.storage.feedback import upgrade
    from digitrec.training import mnist

    url = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    upgrade(url)
    _fill(make_app, url, mnist_test_set, 12)
    env = {"DIGITREC_DATABASE_URL": url}
    assert run_cli("feedback", "export", "--out", str(tmp_path / "c.npz"), env=env).returncode == 0
    data = str(mnist.resolve_folder(os.environ.get(mnist.DATA_ENV)))
    out = tmp_path / "tuned.onnx"
    trained = run_cli(
        "train",
        "--data",
        data,
        "--epochs",
        "1",
        "--limit",
        "200",
        "--out",
        str(out),
        "--extra-data",
        str(tmp_path / "c.npz"),
        env=env,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["corrections_used"] == 12 and card["epochs"] == 1
    assert card["negatives"] > 0 and card["train_images"] == 212 + card["negatives"]
    for key in ("test_accuracy", "test_per_class_accuracy", "test_confusion_matrix", "parameters", "seed"):
        assert key in card, key
    for key in ("training_seconds", "temperature", "uncertain_below"):
        assert card[key] > 0, key
    assert len(card["data_md5"]) == 4 and all(len(md5) == 32 for md5 in card["data_md5"].values())
    assert "tensorflow" in card["versions"]
    evaluated = run_cli("evaluate", "--data", data, "--model", str(out))
    assert evaluated.returncode == 0 and "Accuracy:" in evaluated.stdout


# ---- one digit of a number -------------------------------------------------------------


@pytest.fixture(scope="module")
def forty_two(mnist_test_set):
    """A picture of the number 42 (real MNIST digits), read as 42 by the shipped model."""
    from digitrec.training import renderings

    images, labels = mnist_test_set
    picked = [int(np.flatnonzero(labels == d)[1]) for d in (4, 2)]
    return renderings.compose_number([images[i] for i in picked], np.random.default_rng(4))


def test_a_correction_of_one_digit_of_a_number_stores_that_digit_only(
    feedback_app, store, recognizer, forty_two
):
    _, reading = recognizer.recognize_and_read_number(forty_two)
    assert reading.number == "42"
    client = feedback_app.test_client()
    response = post_json(
        client, image=data_url(forty_two), predicted=2, correct=3, digit_index=1, request_id="n-1"
    )
    assert response.status_code == 201
    assert store.count() == 1
    stored = store.get(response.get_json()["id"])
    assert (stored.predicted, stored.correct, stored.digit_index) == (2, 3, 1)
    expected = reading.digits[1].input_28x28  # the 2's own 28x28, not "42" squashed
    assert np.abs(stored.image_28x28 / 255.0 - expected).max() <= 1 / 255 + 1e-6


def test_a_correction_of_a_number_must_say_which_digit(feedback_app, store, forty_two):
    client = feedback_app.test_client()
    missing = post_json(client, image=data_url(forty_two), predicted=4, correct=9)
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "which_digit"
    assert "42" in missing.get_json()["error"]["message"]
    for bad in (2, -1, "1", True):
        response = post_json(client, image=data_url(forty_two), predicted=4, correct=9, digit_index=bad)
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_digit_index"
    form = {"image": (io.BytesIO(forty_two), "n.png"), "predicted": "4", "correct": "9", "digit_index": "0"}
    assert client.post("/api/v1/feedback", data=form).status_code == 201
    assert store.count() == 1 and store.recent(1)[0].digit_index == 0


def test_a_single_digit_takes_no_other_index_than_0(feedback_app, store, digit_images):
    client = feedback_app.test_client()
    assert (
        post_json(client, image=data_url(digit_images[7]), predicted=1, correct=7, digit_index=1).status_code
        == 422
    )
    response = post_json(client, image=data_url(digit_images[7]), predicted=1, correct=7, digit_index=0)
    assert response.status_code == 201 and store.get(response.get_json()["id"]).digit_index is None


# ---- a change of mind ------------------------------------------------------------------


def test_the_last_correction_of_an_answer_wins(feedback_app, store, digit_images, forty_two):
    """A person who taps 3, then 4 for the same answer meant 4: one row, never two
    contradictory ones; a typed number replaces what was said digit by digit."""
    client = feedback_app.test_client()

    def send(image, **fields):
        response = post_json(client, image=data_url(image), **fields)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["replaced"]

    assert send(digit_images[7], predicted=7, correct=3, request_id="one") == 0
    assert send(digit_images[7], predicted=7, correct=4, request_id="one") == 1
    assert [(r.predicted, r.correct) for r in store.recent(10)] == [(7, 4)]
    # A number: each digit keeps its own last word.
    assert send(forty_two, predicted=4, correct=9, digit_index=0, request_id="num") == 0
    assert send(forty_two, predicted=2, correct=3, digit_index=1, request_id="num") == 0
    assert send(forty_two, predicted=2, correct=5, digit_index=1, request_id="num") == 1
    assert sorted((r.digit_index, r.correct) for r in store.recent(10) if r.digit_index is not None) == [
        (0, 9),
        (1, 5),
    ]
    # The count was wrong after all: the typed number replaces both digits' corrections...
    assert send(forty_two, correct_number="412", request_id="num") == 2
    assert store.number_corrections() == [(store.number_corrections()[0][0], "42", "412")]
    # ...and a digit's correction after it replaces the typed number.
    assert send(forty_two, predicted=2, correct=1, digit_index=1, request_id="num") == 1
    assert store.number_corrections() == []
    # Other answers, and corrections sent without a request id, are never replaced.
    assert send(digit_images[7], predicted=7, correct=1) == 0
    assert send(digit_images[7], predicted=7, correct=2) == 0
    assert sorted(r.correct for r in store.recent(10)) == [1, 1, 2, 4]


def test_undo_withdraws_every_correction_of_an_answer(feedback_app, store, digit_images, forty_two):
    client = feedback_app.test_client()
    post_json(client, image=data_url(forty_two), predicted=4, correct=9, digit_index=0, request_id="undo-me")
    post_json(client, image=data_url(forty_two), predicted=2, correct=1, digit_index=1, request_id="undo-me")
    post_json(client, image=data_url(digit_images[3]), predicted=3, correct=8, request_id="keep-me")
    response = client.delete("/api/v1/feedback?request_id=undo-me")
    assert response.status_code == 200 and response.get_json() == {"withdrawn": 2}
    assert [(r.correct,) for r in store.recent(10)] == [(8,)]
    again = client.delete("/api/v1/feedback?request_id=undo-me")
    assert again.status_code == 404 and again.get_json()["error"]["code"] == "no_corrections"
    for bad in ("", "?request_id=", "?request_id=a%0A", "?request_id=" + "x" * 65, "?request_id=%27;--"):
        response = client.delete("/api/v1/feedback" + bad)
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request_id", bad
    assert store.count() == 1


def test_a_withdrawn_correction_s_id_is_never_given_again(feedback_app, store, digit_images, forty_two):
    """SQLite used to hand the id of a withdrawn newest correction to the next one: a
    retried delete of that id, or an admin page left open, then removed someone else's."""
    client = feedback_app.test_client()
    for fields in ({"predicted": 3, "correct": 8}, {"correct_number": "412"}):
        image = forty_two if "correct_number" in fields else digit_images[3]
        first = post_json(client, image=data_url(image), request_id="gone", **fields).get_json()["id"]
        assert client.delete("/api/v1/feedback?request_id=gone").status_code == 200
        second = post_json(client, image=data_url(image), request_id="new", **fields).get_json()["id"]
        assert second > first, fields
        assert client.delete("/api/v1/feedback?request_id=new").status_code == 200


def test_upgrading_an_older_sqlite_database_keeps_its_corrections_and_ids(tmp_path, digit_images):
    from alembic import command

    from digitrec.storage.feedback import _alembic_config

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    command.upgrade(_alembic_config(url), "0005")  # as a server of session 14 left it
    old = FeedbackStore(url)
    picture = decode(digit_images[3])
    ids = [old.add(to_mnist_28x28(picture), d, (d + 1) % 10, "v").id for d in range(3)]
    upgraded = run_cli("db", "upgrade", env={"DIGITREC_DATABASE_URL": url})
    assert "Database upgraded from revision 0005 to 0006" in upgraded.stdout, upgraded.stdout
    store = FeedbackStore(url)
    assert sorted((r.id, r.predicted, r.correct) for r in store.recent(10)) == [
        (i, d, (d + 1) % 10) for i, d in zip(ids, range(3))
    ]
    store.delete(ids[-1])
    assert store.add(to_mnist_28x28(picture), 5, 6, "v").id > ids[-1]


# ---- a typed number ---------------------------------------------------------------------


def test_a_typed_number_is_stored_apart_and_never_exported_as_digits(feedback_app, store, forty_two):
    """Digits miscounted: the person types the whole number. It is kept with the picture as
    a number-level correction; the one-digit corrections (and so training) never see it."""
    client = feedback_app.test_client()
    response = post_json(client, image=data_url(forty_two), correct_number="412", request_id="n-2")
    assert response.status_code == 201 and response.get_json()["kind"] == "number"
    assert store.number_corrections() == [(response.get_json()["id"], "42", "412")]
    assert store.count() == 0 and len(store.export()[0]) == 0
    form = {"image": (io.BytesIO(forty_two), "n.png"), "correct_number": "4200"}
    assert client.post("/api/v1/feedback", data=form).status_code == 201
    assert [row[2] for row in store.number_corrections()] == ["4200", "412"]


def test_a_typed_number_is_checked(feedback_app, store, forty_two):
    client = feedback_app.test_client()
    cases = {
        "invalid_number": [{"correct_number": n} for n in ("4 2", "-42", "٤٢", "4" * 33, 42)],
        "not_a_correction": [{"correct_number": "42"}],
        "ambiguous_correction": [{"correct_number": "41", "correct": 1, "digit_index": 1}],
    }
    for code, bodies in cases.items():
        for body in bodies:
            response = post_json(client, image=data_url(forty_two), **body)
            assert response.status_code == 422, body
            assert response.get_json()["error"]["code"] == code, body
    assert (
        "42"
        in post_json(client, image=data_url(forty_two), correct_number="42").get_json()["error"]["message"]
    )
    assert store.number_corrections() == [] and store.count() == 0


def test_a_digit_sent_back_as_what_it_was_read_is_not_counted_as_a_mistake(feedback_app, store, digit_images):
    """The API keeps it (a confirmed example), but the admin page's mistakes are mistakes."""
    client = feedback_app.test_client()
    assert post_json(client, image=data_url(digit_images[8]), correct=8).status_code == 201
    assert post_json(client, image=data_url(digit_images[8]), correct=3).status_code == 201
    assert store.count() == 2
    assert store.pair_counts() == [(8, 3, 1)]
