"""JSON API v1: predict, health, readiness, model card, OpenAPI description.

Reads the image from whichever of the three accepted forms the client used, hands the bytes
to the engine, and turns results and engine errors into JSON. No image maths here.
"""

from __future__ import annotations

import base64
import binascii
import json
import time

from flask import Blueprint, current_app, g, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import RequestEntityTooLarge

from digitrec.engine.recognizer import Recognizer
from digitrec.engine.results import answer_json
from digitrec.errors import DigitrecError
from digitrec.storage.feedback import FeedbackStore
from digitrec.web import metrics
from digitrec.web.edge import REQUEST_ID_PATTERN, RequestProblem, error_response
from digitrec.web.openapi import openapi_spec

bp = Blueprint("api", __name__, url_prefix="/api/v1")
limiter = Limiter(get_remote_address)

HOW_TO_SEND = (
    "Send the image as the multipart/form-data field 'image', as a raw body with an image/* "
    'content type, or as JSON {"image": "<data URL or base64>"}.'
)
HOW_TO_CORRECT = (
    "Send the correction as multipart/form-data (image, predicted, correct) or as "
    'JSON {"image": "<data URL or base64>", "predicted": 3, "correct": 8} (add "digit_index" '
    'for one digit of a number, or send "correct_number": "2024" instead when the digits were miscounted).'
)


def recognizer() -> Recognizer:
    return current_app.extensions["recognizer"]


def store() -> FeedbackStore:
    return current_app.extensions["feedback"]


def rate_limit() -> str:
    return current_app.config["RATE_LIMIT"]


@bp.post("/predict")
@limiter.limit(rate_limit)
def predict():
    started = time.perf_counter()
    data = image_from_request()
    model = recognizer()
    body = {
        **answer_json(model, data, number=_flag("multi"), explain=_flag("explain")),
        "model": model.version,
    }
    for digit in body["digits"]:
        metrics.observe_prediction(digit["digit"])
    body["request_id"] = g.request_id
    body["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return jsonify(body)


def feedback_rate_limit() -> str:
    return current_app.config["FEEDBACK_RATE_LIMIT"]


@bp.post("/feedback")
@limiter.limit(feedback_rate_limit, exempt_when=lambda: current_app.config["FEEDBACK_RATE_LIMIT"] == "off")
def feedback():
    """Store a correction: the image, what we predicted and what it really is."""
    if request.mimetype == "multipart/form-data":
        fields, from_form = request.form, True
    elif request.mimetype == "application/json":
        fields, from_form = json_body(), False
        if not isinstance(fields, dict):
            raise not_an_object(fields, HOW_TO_CORRECT)
    elif not request.mimetype and not request.content_length:  # as for a prediction
        raise RequestProblem(400, "missing_image", "The request has no body. " + HOW_TO_CORRECT)
    else:
        raise RequestProblem(415, "unsupported_media_type", HOW_TO_CORRECT)
    request_id = fields.get("request_id")
    if request_id is not None and not (isinstance(request_id, str) and REQUEST_ID_PATTERN.match(request_id)):
        raise RequestProblem(
            400, "bad_request_id", "request_id must be 1-64 letters, digits, '.', '_' or '-'."
        )
    if fields.get("correct_number") not in (None, ""):
        return _number_correction(fields, request_id)
    if "predicted" in fields:  # optional: checked when sent, then not trusted (below)
        _label(fields.get("predicted"), "predicted", from_form)
    correct = _label(fields.get("correct"), "correct", from_form)
    digit_index = _digit_index(fields.get("digit_index"), from_form)
    data = image_from_request(HOW_TO_CORRECT)
    model = recognizer()
    whole, reading = model.recognize_and_read_number(data)
    # What is stored is the 28x28 of the digit being corrected: never a number squashed
    # into one digit, which would teach a model that "42" looks like a 3.
    if len(reading.digits) > 1:
        if digit_index is None:
            raise RequestProblem(
                422,
                "which_digit",
                f"The picture holds {len(reading.digits)} digits ({reading.number}): send digit_index "
                "(0 for the leftmost) to say which one you are correcting.",
            )
        if digit_index >= len(reading.digits):
            raise RequestProblem(
                422,
                "invalid_digit_index",
                f"digit_index {digit_index} is not a digit of {reading.number} (0 to {len(reading.digits) - 1}).",
            )
        target = reading.digits[digit_index]
    else:
        if digit_index not in (None, 0):
            raise RequestProblem(
                422, "invalid_digit_index", "The picture holds one digit: digit_index must be 0 or left out."
            )
        target, digit_index = whole, None
    # What was predicted is what this server reads now, not what the client says it was
    # shown: a client cannot file "predicted 9" against a digit read as 1.
    saved = store().add(
        target.input_28x28, target.digit, correct, model.version, data, request_id, digit_index
    )
    return jsonify({"id": saved.id, "kind": "digit", "replaced": saved.replaced}), 201


@bp.delete("/feedback")
@limiter.limit(feedback_rate_limit, exempt_when=lambda: current_app.config["FEEDBACK_RATE_LIMIT"] == "off")
def withdraw_feedback():
    """Undo: forget every correction sent for one answer, named by its request id (which
    only the client that got the answer knows)."""
    request_id = request.args.get("request_id", "")
    if not REQUEST_ID_PATTERN.match(request_id):
        raise RequestProblem(
            400,
            "bad_request_id",
            "Say which answer's corrections to withdraw: ?request_id= the request_id of its answer "
            "(1-64 letters, digits, '.', '_' or '-').",
        )
    withdrawn = store().withdraw(request_id)
    if not withdrawn:
        raise RequestProblem(404, "no_corrections", f"No corrections of the answer {request_id} are stored.")
    return jsonify({"withdrawn": withdrawn})


def _number_correction(fields, request_id: str | None):
    """The person typed the whole number (the digits were miscounted): stored with the
    picture as a number-level correction, never as one-digit examples."""
    typed = fields.get("correct_number")
    if fields.get("correct") not in (None, "") or fields.get("digit_index") not in (None, ""):
        raise RequestProblem(
            422,
            "ambiguous_correction",
            "Send either 'correct' (one digit, with 'digit_index' for a number) or 'correct_number', not both.",
        )
    if not (isinstance(typed, str) and typed.isascii() and typed.isdigit() and len(typed) <= MAX_NUMBER):
        raise RequestProblem(
            422, "invalid_number", f"'correct_number' must be a string of 1 to {MAX_NUMBER} digits 0-9."
        )
    data = image_from_request(HOW_TO_CORRECT)
    model = recognizer()
    # As the page shows it: a mark that does not look like a digit is a "?".
    read = "".join(str(d.digit) if d.looks_like_digit else "?" for d in model.read_number(data).digits)
    if typed == read:
        raise RequestProblem(
            422,
            "not_a_correction",
            f"The picture was read as {read}, which is the number you typed: nothing to correct.",
        )
    saved = store().add_number(read, typed, model.version, data, request_id)
    return jsonify({"id": saved.id, "kind": "number", "replaced": saved.replaced}), 201


def _digit_index(value, from_form: bool) -> int | None:
    """Which digit of a number a correction is about: None, or a whole number from 0."""
    if value is None or (from_form and value == ""):
        return None
    index = _whole_number(value, from_form, below=1000)
    if index is None:
        raise RequestProblem(
            422, "invalid_digit_index", "'digit_index' must be a whole number from 0 (the leftmost digit)."
        )
    return index


MAX_NUMBER = 32  # digits in a typed number


def _label(value, name: str, from_form: bool) -> int:
    """A digit 0-9: a JSON integer, or a one-character form field."""
    digit = _whole_number(value, from_form, below=10)
    if digit is None:
        quoted = (
            ' (a JSON number such as 7, not the string "7")'
            if isinstance(value, str) and not from_form
            else ""
        )
        raise RequestProblem(422, "invalid_label", f"'{name}' must be a digit from 0 to 9{quoted}.")
    return digit


def _whole_number(value, from_form: bool, below: int) -> int | None:
    """0 <= n < ``below`` from a JSON integer (not a bool or a float), or from a form field of
    ASCII digits no longer than ``below - 1`` written out ("٣" and "09" for a digit are not);
    None for anything else."""
    if from_form:
        plain = isinstance(value, str) and value.isascii() and value.isdigit()
        return int(value) if plain and len(value) <= len(str(below - 1)) and int(value) < below else None
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < below
    return value if ok else None


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})


@bp.get("/ready")
def ready():
    """Ready when the model is loaded (it is, once the app exists) and the corrections
    database answers with a current schema; checked afresh on every call, so a database
    that comes back makes the server ready again by itself."""
    try:
        store().check()
    except DigitrecError as error:
        current_app.logger.warning("not ready: %s", error.message)
        return error_response(503, "not_ready", "Not ready: the corrections database is unavailable.")
    return jsonify({"ready": True, "model": recognizer().version, "database": "ok"})


@bp.get("/model")
def model_card():
    return jsonify(recognizer().card)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_spec(recognizer().version))


NOT_JSON = object()  # what json_body gives for a body that is not JSON (JSON's null is None)


def json_body():
    """The parsed JSON body, or NOT_JSON if it is not JSON (nesting too deep included).
    Parsed once per request: a chunked body can be read only once."""
    if "json_body" not in g:
        try:
            # Read to the limit (413 past it) whether chunked or not; Flask's get_json
            # cannot tell a body of "null" from one that is not JSON.
            g.json_body = json.loads(_raw_body())
        except (ValueError, RecursionError):
            g.json_body = NOT_JSON
    return g.json_body


def image_from_request(how_to_send: str = HOW_TO_SEND) -> bytes:
    """The image bytes from a multipart field, a raw image/* body, or JSON."""
    mimetype = request.mimetype
    if mimetype == "application/json":
        return _image_from_json(json_body(), how_to_send)
    if mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is None:
            raise RequestProblem(400, "missing_image", "The form has no field 'image'. " + how_to_send)
        data = upload.read()
    elif mimetype.startswith("image/"):
        data = _raw_body()
    elif not mimetype and not request.content_length:
        raise RequestProblem(400, "missing_image", "The request has no body. " + how_to_send)
    else:
        raise RequestProblem(
            415, "unsupported_media_type", f"Content type '{mimetype}' is not accepted. " + how_to_send
        )
    if not data:
        raise RequestProblem(400, "missing_image", "The image is empty. " + how_to_send)
    return data


def _raw_body() -> bytes:
    """The request body. A body with a length over the limit is refused by Werkzeug before
    it is read; a chunked one has no length, and Werkzeug would quietly cut it at the
    limit, so it is read here to one byte past the limit and refused if it gets there."""
    if request.content_length is not None:
        return request.get_data(cache=False)
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    data = request.environ["wsgi.input"].read(limit + 1)
    if len(data) > limit:
        raise RequestEntityTooLarge()
    return data


def not_an_object(payload, how_to_send: str) -> RequestProblem:
    """The error for a JSON body that is not an object: unparsable, or another JSON value."""
    kinds = {list: "an array", str: "a string", bool: "true or false", int: "a number", float: "a number"}
    what = (
        "not valid JSON"
        if payload is NOT_JSON
        else f"JSON, but {kinds.get(type(payload), 'null')}, not an object"
    )
    return RequestProblem(400, "malformed_json", f"The body is {what}. " + how_to_send)


URL_SAFE = str.maketrans("-_", "+/")


def _image_from_json(payload, how_to_send: str) -> bytes:
    if not isinstance(payload, dict):
        raise not_an_object(payload, how_to_send)
    text = payload.get("image")
    if text == "":
        raise RequestProblem(400, "missing_image", "The 'image' field is empty. " + how_to_send)
    if not isinstance(text, str):
        problem = "has no field 'image'" if text is None else "has an 'image' that is not a string"
        raise RequestProblem(400, "missing_image", f"The JSON object {problem}. " + how_to_send)
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if not header.startswith("data:image/") or not header.endswith(";base64"):
            raise RequestProblem(
                415, "unsupported_media_type", "The data URL must be a base64 image/* data URL."
            )
    # What tools write is accepted too: lines wrapped (the `base64` command, MIME), the
    # URL-safe alphabet (- and _), the padding left off.
    text = "".join(text.split()).translate(URL_SAFE)
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise RequestProblem(
            400,
            "bad_base64",
            "The 'image' field is not valid base64: send the file's bytes base64-encoded "
            "(e.g. `base64 -w0 digit.png`), or a data URL such as 'data:image/png;base64,iVBOR...'.",
        ) from None


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes", "on")
