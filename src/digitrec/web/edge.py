"""The edge of every request: request ids, security headers, the access log line, metrics,
and every error turned into an answer (JSON under /api/, a styled page elsewhere).

Typed errors are translated here, once: each ``DigitrecError`` subclass has its HTTP status
in ``STATUS``.
"""

from __future__ import annotations

import io
import logging
import re
import time
import uuid

from flask import Flask, Request, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from digitrec.engine.errors import ImageTooLarge, ModelNotFound, NoDigitFound, UnsupportedImage
from digitrec.errors import DigitrecError
from digitrec.storage.feedback import StorageUnavailable
from digitrec.web import metrics

log = logging.getLogger("digitrec")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")

STATUS = {
    UnsupportedImage: 415,
    ImageTooLarge: 413,
    NoDigitFound: 422,
    ModelNotFound: 503,
    StorageUnavailable: 503,
}
# What a client is told when the database is down: the details (URL, driver message) go to
# the log, not to the public.
STORAGE_MESSAGE = "The corrections database is not available right now. Try again in a minute."

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class RequestProblem(DigitrecError):
    """The request itself is malformed (as opposed to the image in it)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


class InMemoryRequest(Request):
    """Keeps uploaded files in memory: Werkzeug would spool large ones to a temporary file.

    The body is already capped by MAX_CONTENT_LENGTH, so memory stays bounded.
    """

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def init_app(app: Flask) -> None:
    app.request_class = InMemoryRequest
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_error_handler(DigitrecError, _typed_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    _configure_logging(app.config["LOG_LEVEL"])


def error_response(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _start_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
    g.started = time.perf_counter()


def _finish_request(response):
    # Flask-Limiter sends Retry-After with every answer; it means "wait" only on these.
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    response.headers["X-Request-ID"] = g.get("request_id", "-")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule else "unmatched"
    metrics.observe_request(route, request.method, response.status_code, seconds)
    log.info("%s %s %s %.1fms", request.method, request.path, response.status_code, seconds * 1000)
    return response


def _typed_error(error: DigitrecError):
    status = getattr(error, "status", None) or STATUS.get(type(error), 400)
    message = error.message
    if isinstance(error, StorageUnavailable):
        log.warning("%s", error.message)
        message = STORAGE_MESSAGE
    if not request.path.startswith("/api/"):
        return _error_page(status, "Not available right now", message)
    return error_response(status, error.code, message)


PAGE_TITLES = {404: "Page not found", 405: "Not allowed here", 413: "Too large", 429: "Too many requests"}


def _error_page(status: int, title: str, message: str, headers: dict | None = None):
    return render_template("error.html", title=title, message=message), status, headers or {}


def _http_error(error: HTTPException):
    kept = {k: v for k, v in error.get_headers() if k in ("Allow", "Retry-After")}
    if not request.path.startswith("/api/"):
        if error.code == 401 or error.code is None or error.code < 400:
            return error  # the admin page's password prompt, redirects
        messages = {404: "There is no page at this address."}
        title = PAGE_TITLES.get(error.code, error.name)
        return _error_page(error.code, title, messages.get(error.code, error.description or error.name), kept)
    messages = {
        404: "There is no such API endpoint. See /api/v1/openapi.json for the ones there are.",
        413: f"The request body is too large: the limit is {_size(request.max_content_length or 0)}.",
        429: f"Too many requests: the limit is {error.description.replace(' per 1 ', ' per ')}. Wait a little and retry.",
    }
    if error.code == 405 and kept.get("Allow"):
        allowed = [m for m in kept["Allow"].replace(" ", "").split(",") if m not in ("HEAD", "OPTIONS")]
        messages[405] = (
            f"{request.method} is not allowed here: use {' or '.join(allowed)}. "
            "See /api/v1/openapi.json (or the API page) for how to call it."
        )
    message = messages.get(error.code, error.description or error.name)
    response = error_response(error.code, _HTTP_CODES.get(error.code, "http_error"), message)
    response.headers.update(kept)
    return response


def _size(count: int) -> str:
    """A byte count in plain words: 10 MB (the default, 10 x 2**20), 250 kB, 900 bytes."""
    for unit, binary in (("MB", 2**20), ("kB", 2**10)):
        if count >= binary and count % binary == 0:
            return f"{count // binary} {unit}"
    for unit, size in (("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} bytes"


def _unexpected_error(error: Exception):
    log.exception("unexpected error")
    if request.path.startswith("/api/"):
        return error_response(500, "internal_error", "Something went wrong on our side.")
    return _error_page(
        500, "Something went wrong", "Something went wrong on our side. Try again in a moment."
    )


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.request_id = g.get("request_id", "-")
        except RuntimeError:  # outside a request
            record.request_id = "-"
        return True


def _configure_logging(level: str) -> None:
    log.setLevel(level)
    if any(isinstance(f, _RequestIdFilter) for h in log.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(message)s"))
    log.addHandler(handler)
    log.propagate = False
