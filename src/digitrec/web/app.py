"""The Flask application factory: configuration, the model, blueprints, and the edges of every
request (request ids, security headers, CORS, rate limits, metrics, JSON errors on /api/).
"""

from __future__ import annotations

import io
import logging
import os
import re
import time
import uuid

from flask import Flask, Request, g, jsonify, request
from flask_cors import CORS
from werkzeug.exceptions import HTTPException

from digitrec.engine.recognizer import Recognizer
from digitrec.storage import feedback
from digitrec.web import metrics

log = logging.getLogger("digitrec")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class InMemoryRequest(Request):
    """Keeps uploaded files in memory: Werkzeug would spool large ones to a temporary file.

    The body is already capped by MAX_CONTENT_LENGTH, so memory stays bounded.
    """

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.request_class = InMemoryRequest
    app.config.from_mapping(
        MODEL_PATH=os.environ.get("DIGITREC_MODEL") or None,
        MAX_CONTENT_LENGTH=int(os.environ.get("DIGITREC_MAX_BODY", 10 * 1024 * 1024)),
        MAX_PIXELS=int(os.environ.get("DIGITREC_MAX_PIXELS", 40_000_000)),
        # e.g. "60 per minute; 1000 per hour", or "off"
        RATE_LIMIT=os.environ.get("DIGITREC_RATE_LIMIT", "120 per minute"),
        FEEDBACK_RATE_LIMIT=os.environ.get("DIGITREC_FEEDBACK_RATE_LIMIT", "30 per minute"),
        CORS_ORIGINS=os.environ.get("DIGITREC_CORS_ORIGINS", ""),
        DATABASE_URL=None,  # default: $DIGITREC_DATABASE_URL or SQLite in the data folder
        ADMIN_TOKEN=os.environ.get("DIGITREC_ADMIN_TOKEN") or None,
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False

    app.extensions["recognizer"] = Recognizer(
        app.config["MODEL_PATH"], max_pixels=app.config["MAX_PIXELS"]
    )

    database_url = app.config["DATABASE_URL"] or feedback.default_url()
    if not os.environ.get("DIGITREC_SKIP_DB_UPGRADE"):  # `digitrec serve` upgrades once, up front
        feedback.upgrade(database_url)
    app.extensions["feedback"] = feedback.FeedbackStore(database_url)

    limit = app.config["RATE_LIMIT"].strip().lower()
    app.config.setdefault("RATELIMIT_ENABLED", limit not in ("", "off", "none", "0"))
    # memory:// counts in each worker process; redis://host:6379 (with the `redis` package)
    # gives one count shared by every worker and machine.
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", os.environ.get("DIGITREC_RATE_LIMIT_STORAGE", "memory://")
    )
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    origins = [o.strip() for o in app.config["CORS_ORIGINS"].split(",") if o.strip()]
    if origins:  # CORS is off unless origins are listed
        CORS(app, resources={r"/api/*": {"origins": origins}}, expose_headers=["X-Request-ID"])

    from digitrec.web import admin, api, pages

    api.limiter.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    app.add_url_rule("/metrics", "metrics", metrics.expose)

    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    _configure_logging()
    return app


def _start_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
    g.started = time.perf_counter()


def _finish_request(response):
    response.headers["X-Request-ID"] = g.get("request_id", "-")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule else "unmatched"
    metrics.observe_request(route, request.method, response.status_code, seconds)
    log.info(
        "%s %s %s %.1fms", request.method, request.path, response.status_code, seconds * 1000
    )
    return response


def error_response(status: int, code: str, message: str, headers: dict | None = None):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _http_error(error: HTTPException):
    if not request.path.startswith("/api/"):
        return error
    messages = {
        404: "There is no such API endpoint. See /api/v1/openapi.json for the ones there are.",
        413: "The request body is too large: the limit is "
        f"{(request.max_content_length or 0) / 1e6:.0f} MB.",
        429: f"Too many requests: the limit is {error.description}. Wait a little and retry.",
    }
    message = messages.get(error.code, error.description or error.name)
    headers = dict(error.get_headers())
    headers.pop("Content-Type", None)
    response = error_response(error.code, _HTTP_CODES.get(error.code, "http_error"), message)
    for key in ("Allow", "Retry-After"):
        if key in headers:
            response.headers[key] = headers[key]
    return response


def _unexpected_error(error: Exception):
    log.exception("unexpected error")
    if request.path.startswith("/api/"):
        return error_response(500, "internal_error", "Something went wrong on our side.")
    return "Something went wrong on our side.", 500


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.request_id = g.get("request_id", "-")
        except RuntimeError:  # outside a request
            record.request_id = "-"
        return True


def _configure_logging() -> None:
    if any(isinstance(f, _RequestIdFilter) for h in log.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(message)s")
    )
    log.addHandler(handler)
    log.setLevel(os.environ.get("DIGITREC_LOG_LEVEL", "INFO"))
    log.propagate = False
