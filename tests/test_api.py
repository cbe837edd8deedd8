"""API v1 through Flask's test client: every route, every input form, every error code."""

from __future__ import annotations

import base64
import io
import tempfile

import numpy as np
import pytest
from PIL import Image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def assert_json_error(response, status: int, code: str):
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 10
    return error


# ---- the three input forms -----------------------------------------------------------


def test_predict_multipart(client, digit_images):
    response = client.post("/api/v1/predict", data={"image": (io.BytesIO(digit_images[7]), "d.png")})
    body = response.get_json()
    assert response.status_code == 200
    assert body["digit"] == 7
    assert 0 < body["confidence"] <= 1 and isinstance(body["uncertain"], bool)
    assert len(body["probabilities"]) == 10 and 0 <= body["not_digit"] <= 1
    assert abs(sum(body["probabilities"]) + body["not_digit"] - 1) < 1e-3
    assert body["model"] and body["elapsed_ms"] >= 0 and body["request_id"]
    assert "input_28x28" not in body
    # Number first, also for one digit: the number is that digit, the list holds it once.
    assert body["number"] == "7" and body["box"] is None
    assert body["digits"] == [{k: body[k] for k in body["digits"][0]}]


def test_predict_raw_body(client, digit_images):
    response = client.post("/api/v1/predict", data=digit_images[3], content_type="image/png")
    assert response.status_code == 200 and response.get_json()["digit"] == 3


@pytest.mark.parametrize("prefix", ["data:image/png;base64,", ""])
def test_predict_json_data_url_or_plain_base64(client, digit_images, prefix):
    payload = {"image": prefix + base64.b64encode(digit_images[5]).decode()}
    response = client.post("/api/v1/predict", json=payload)
    assert response.status_code == 200 and response.get_json()["digit"] == 5


def test_explain_returns_the_28x28_the_model_saw(client, digit_images):
    response = client.post("/api/v1/predict?explain=1", data=digit_images[2], content_type="image/png")
    url = response.get_json()["input_28x28"]
    assert url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.size == (28, 28)
    assert np.asarray(image).max() == 255


def test_multi_reads_a_number_with_boxes(client, mnist_test_set):
    from digitrec.training import renderings

    images, labels = mnist_test_set
    data = renderings.compose_number([images[i] for i in (0, 1, 2, 3)], np.random.default_rng(1))
    body = client.post("/api/v1/predict?multi=1", data=data, content_type="image/png").get_json()
    assert body["number"] == "".join(str(labels[i]) for i in (0, 1, 2, 3))
    assert len(body["digits"]) == 4
    # The top level describes the number, never the picture squashed into one digit.
    assert body["digit"] is None and "probabilities" not in body
    assert body["confidence"] == pytest.approx(np.prod([d["confidence"] for d in body["digits"]]), abs=1e-3)
    assert body["uncertain"] == any(d["uncertain"] for d in body["digits"])
    xs = [d["box"]["x"] for d in body["digits"]]
    assert xs == sorted(xs)
    for d in body["digits"]:
        assert set(d["box"]) == {"x", "y", "width", "height"}
        assert all(0 <= v <= 1 for v in d["box"].values())


# ---- errors ---------------------------------------------------------------------------


def test_missing_multipart_field(client):
    response = client.post("/api/v1/predict", data={"picture": (io.BytesIO(b"x"), "d.png")})
    assert_json_error(response, 400, "missing_image")


@pytest.mark.parametrize("path", ["/api/v1/predict", "/api/v1/feedback"])
def test_empty_body(client, path):
    assert_json_error(client.post(path), 400, "missing_image")


def test_malformed_json(client):
    response = client.post("/api/v1/predict", data="{not json", content_type="application/json")
    assert "not valid JSON" in assert_json_error(response, 400, "malformed_json")["message"]


@pytest.mark.parametrize("path", ["/api/v1/predict", "/api/v1/feedback"])
def test_a_json_null_is_json_but_not_an_object(client, path):
    """null is valid JSON: the message says what it is, not that it is not JSON."""
    response = client.post(path, data="null", content_type="application/json")
    assert "JSON, but null, not an object" in assert_json_error(response, 400, "malformed_json")["message"]


@pytest.mark.parametrize("payload", [{}, {"image": 7}, {"image": ""}, {"img": "abc"}, [1, 2]])
def test_json_without_an_image_string(client, payload):
    response = client.post("/api/v1/predict", json=payload)
    code = "malformed_json" if isinstance(payload, list) else "missing_image"
    assert_json_error(response, 400, code)


def test_base64_as_tools_write_it(client, digit_images):
    """Wrapped at 76 characters (the `base64` command), or URL-safe without padding."""
    raw = digit_images[3]
    wrapped = base64.encodebytes(raw).decode()  # a newline every 76 characters
    url_safe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    for text in (wrapped, url_safe, "data:image/png;base64," + wrapped):
        response = client.post("/api/v1/predict", json={"image": text})
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["digit"] == 3


def test_bad_base64(client):
    assert_json_error(client.post("/api/v1/predict", json={"image": "###"}), 400, "bad_base64")


def test_non_image_data_url(client):
    url = "data:text/plain;base64," + base64.b64encode(b"hello").decode()
    assert_json_error(client.post("/api/v1/predict", json={"image": url}), 415, "unsupported_media_type")


def test_wrong_content_type(client):
    response = client.post("/api/v1/predict", data="7", content_type="text/plain")
    assert_json_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "data",
    [b"hello", b"%PDF-1.4\n%%EOF", b'<svg xmlns="http://www.w3.org/2000/svg"/>', b"\x89PNG\r\n\x1a\n"],
)
def test_not_an_image(client, data):
    response = client.post("/api/v1/predict", data={"image": (io.BytesIO(data), "x.png")})
    assert_json_error(response, 415, "unsupported_image")


def test_blank_canvas_is_422(client):
    blank = png_bytes(Image.new("RGBA", (280, 280), (0, 0, 0, 0)))
    error = assert_json_error(
        client.post("/api/v1/predict", data=blank, content_type="image/png"), 422, "no_digit"
    )
    assert "blank" in error["message"]


def test_body_over_the_limit_is_413(client):
    response = client.post("/api/v1/predict", data=b"\0" * (10 * 1024 * 1024 + 1), content_type="image/png")
    assert_json_error(response, 413, "body_too_large")


def test_image_over_the_pixel_limit_is_413(make_app):
    app = make_app(MAX_PIXELS=10_000)
    data = png_bytes(Image.new("L", (200, 200), 255))
    response = app.test_client().post("/api/v1/predict", data=data, content_type="image/png")
    assert_json_error(response, 413, "image_too_large")


def test_unknown_api_route_is_json_404(client):
    assert_json_error(client.get("/api/v1/nothing"), 404, "not_found")


def test_wrong_method_is_json_405(client):
    error = assert_json_error(client.get("/api/v1/predict"), 405, "method_not_allowed")
    assert "not allowed" in error["message"].lower() and "use POST" in error["message"]
    assert "POST" in client.get("/api/v1/predict").headers["Allow"]


def test_an_answer_carries_no_retry_after(make_app, digit_images):
    """The limiter's headers say how much is left; "wait and retry" belongs on a 429 only."""
    response = (
        make_app(RATE_LIMIT="100 per minute")
        .test_client()
        .post("/api/v1/predict", data=digit_images[1], content_type="image/png")
    )
    assert response.status_code == 200 and "X-RateLimit-Remaining" in response.headers
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize("hops", [0, 1])
def test_rate_limits_count_the_real_client_only_behind_trusted_proxies(make_app, digit_images, hops):
    """Behind one proxy every request comes from the proxy's address: with TRUSTED_PROXIES=1
    each client (X-Forwarded-For) has its own bucket; with 0 the header is ignored, so a
    client cannot dodge the limit by forging it."""
    client = make_app(RATE_LIMIT="2 per minute", TRUSTED_PROXIES=str(hops)).test_client()

    def predict(forwarded_for: str) -> int:
        headers = {"X-Forwarded-For": forwarded_for}
        return client.post(
            "/api/v1/predict", data=digit_images[1], content_type="image/png", headers=headers
        ).status_code

    assert [predict("198.51.100.7") for _ in range(3)] == [200, 200, 429]
    assert predict("203.0.113.9") == (200 if hops else 429)


def test_rate_limit_gives_429(make_app, digit_images):
    app = make_app(RATE_LIMIT="3 per minute")
    client = app.test_client()
    statuses = [
        client.post("/api/v1/predict", data=digit_images[1], content_type="image/png").status_code
        for _ in range(4)
    ]
    assert statuses[:3] == [200, 200, 200]
    response = client.post("/api/v1/predict", data=digit_images[1], content_type="image/png")
    assert_json_error(response, 429, "rate_limited")
    assert "Retry-After" in response.headers


# ---- other routes ---------------------------------------------------------------------


def test_health_and_ready(client, recognizer):
    assert client.get("/api/v1/health").get_json() == {"status": "ok"}
    assert client.get("/api/v1/ready").get_json() == {
        "ready": True,
        "model": recognizer.version,
        "database": "ok",
    }


def test_model_card(client):
    card = client.get("/api/v1/model").get_json()
    assert card["test_accuracy"] >= 0.995
    assert len(card["test_confusion_matrix"]) == 10


def test_openapi_describes_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    routes = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")}
    assert routes == set(spec["paths"])


def test_human_readable_api_page_is_linked_from_the_app(client):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/api"' in page
    docs = client.get("/api").get_data(as_text=True)
    assert (
        "curl -F image=@seven.jpg" in docs
        and "Content-Type: image/jpeg" in docs
        and "data:image/jpeg" in docs
    )
    # The examples' picture is one a newcomer can fetch from the app itself.
    assert "curl -o seven.jpg http://localhost/static/examples/photo-7.jpg" in docs
    assert client.get("/static/examples/photo-7.jpg").status_code == 200


def test_metrics_count_requests_and_digits(client, digit_images):
    client.post("/api/v1/predict", data=digit_images[4], content_type="image/png")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'digitrec_predictions_total{digit="4"}' in text
    assert 'digitrec_http_requests_total{method="POST",route="/api/v1/predict",status="200"}' in text
    assert "digitrec_http_request_duration_seconds_bucket" in text


# ---- edges: security headers, request ids, CORS, no disk writes --------------------------


def test_security_headers_on_every_response(client):
    for path in ("/", "/api/v1/health", "/api/v1/nothing"):
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert len(headers["X-Request-ID"]) >= 8


def test_request_id_is_taken_from_the_client_when_sane(client):
    assert (
        client.get("/api/v1/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    )
    odd = client.get("/api/v1/health", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert odd != "<script>"


def test_cors_is_off_by_default_and_configurable(client, make_app):
    headers = client.get("/api/v1/health", headers={"Origin": "https://example.org"}).headers
    assert "Access-Control-Allow-Origin" not in headers
    app = make_app(CORS_ORIGINS="https://example.org")
    allowed = app.test_client().get("/api/v1/health", headers={"Origin": "https://example.org"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://example.org"
    other = app.test_client().get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_uploads_are_never_written_to_disk(client, digit_images, tmp_path, monkeypatch):
    # Werkzeug spools uploads over 500 kB to a temporary file; ours stay in memory.
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    big_png = digit_images[7] + b"\0" * 2_000_000  # bytes after IEND are ignored by decoders
    form = {"image": (io.BytesIO(big_png), "big.png")}
    response = client.post("/api/v1/predict", data=form)
    assert response.status_code == 200
    assert list(spool.iterdir()) == []


def test_json_nested_too_deep_is_400_not_a_crash(client):
    deep = '{"image": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for path in ("/api/v1/predict", "/api/v1/feedback"):
        response = client.post(path, data=deep, content_type="application/json")
        assert_json_error(response, 400, "malformed_json")


def test_small_limits_are_told_in_sensible_units(make_app, digit_images):
    client = make_app(MAX_BODY=3000, MAX_PIXELS=50_000).test_client()
    error = assert_json_error(
        client.post("/api/v1/predict", data=b"\0" * 4000, content_type="image/png"), 413, "body_too_large"
    )
    assert "3 kB" in error["message"]
    big = png_bytes(Image.new("L", (300, 300), 255))
    error = assert_json_error(
        client.post("/api/v1/predict", data=big, content_type="image/png"), 413, "image_too_large"
    )
    assert "50,000 pixels" in error["message"]


def test_pages_outside_the_api_get_styled_html_errors(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Page not found" in response.get_data(as_text=True)
    assert client.post("/").status_code == 405
