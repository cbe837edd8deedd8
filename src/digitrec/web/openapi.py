"""The OpenAPI 3.1 description of API v1, served at /api/v1/openapi.json.

A test runs schemathesis against the live server with this document, so it stays true.
"""

from __future__ import annotations

from digitrec import __version__

# A hand-drawn 7 (56x56 PNG), so generated tests start from a real image.
EXAMPLE_IMAGE = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAADgAAAA4CAAAAACN7WTCAAABYklEQVRIx+2WsUoDQRCGd+OFHKSV"
    "E/VFIlhZhFgIscwLpLLxDQSfwRewSmkTxMZHyDtEMBIkCELQeIdr5gTh1v3/ubWyyATmYDPDN7lv"
    "s6x15m/RMJvGf9SY+AtPs88tZ9cf77G37xW6aowg4rxa6DXekuEuSeMd/VkXuDG/IX07CzKqu8aN"
    "g0qh9f4dxePUNPJm3nTu5/F2+rH+Jp1m7K2GYlAW9ulbDcVLW/rSeXW1xs65WkruZnwDBKInZa2Z"
    "ix113pLGY39ZH3W4ktz5ta4BF6lUtZ+jicN3ySfbscRvoO+iBvGsBPYyE0kMy69BBPJ1Yli+vgGA"
    "fH1UJF8bFclXiVC+QoTyNSKWz4lYvkIk8jkRy+cbgMjnozL5bFQmnxKpfEKk8hmRy8dELp8QFfmY"
    "2KfyMfF1IvloN/qec/8g+ZCeDsE5yrvAwZKdDsjj2IxX9Byz4IZcJEVCJ7WbqzWOL/Lktrpidqw/"
    "AAAAAElFTkSuQmCC"
)

# The raw bodies accepted (any image/* type is, in fact: the bytes decide, not the header).
RAW_IMAGE_TYPES = ("png", "jpeg", "gif", "bmp", "webp", "tiff", "avif")

_PROBABILITIES = {
    "type": "array",
    "items": {"type": "number", "minimum": 0, "maximum": 1},
    "minItems": 10,
    "maxItems": 10,
    "description": "Probability of each digit 0-9 (calibrated; with not_digit they sum to 1).",
}
_DIGIT_FIELDS = {
    "digit": {"type": "integer", "minimum": 0, "maximum": 9},
    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    "uncertain": {
        "type": "boolean",
        "description": (
            "True when 'not a digit' is likelier than the best digit, or the confidence is below "
            "the model's data-chosen threshold."
        ),
    },
    "not_digit": {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "description": "Probability that this is not a digit at all (a letter, a shape, a scribble).",
    },
    "probabilities": _PROBABILITIES,
    "input_28x28": {
        "type": "string",
        "description": "With ?explain=1: the 28x28 image the model saw, as a PNG data URL.",
    },
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_spec(model_version: str) -> dict:
    flag = {"type": "string", "enum": ["0", "1", "true", "false", "yes", "no", "on", "off"]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "digitrec API",
            "version": __version__,
            "description": (
                f"Recognise a handwritten digit (or a number) in an image. Model version: {model_version}."
            ),
        },
        "paths": {
            "/api/v1/predict": {
                "post": {
                    "summary": "Recognise the digit (or with ?multi=1 the number) in an image",
                    "operationId": "predict",
                    "parameters": [
                        {
                            "name": "explain",
                            "in": "query",
                            "schema": flag,
                            "description": "Add input_28x28, the image the model saw.",
                        },
                        {
                            "name": "multi",
                            "in": "query",
                            "schema": flag,
                            "description": (
                                "Read every digit, left to right (a number). Without it the image "
                                "is read as one digit: a client that sends one digit per image "
                                "(a form field, a crop) never gets it split in two."
                            ),
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "description": (
                            "The picture: PNG, JPEG, GIF, BMP, WebP, TIFF or AVIF, as the raw body, "
                            "as the multipart field `image`, or as base64 in JSON."
                        ),
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["image"],
                                    "properties": {"image": {"type": "string", "format": "binary"}},
                                }
                            },
                            **{
                                f"image/{kind}": {"schema": {"type": "string", "format": "binary"}}
                                for kind in RAW_IMAGE_TYPES
                            },
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["image"],
                                    "properties": {
                                        "image": {
                                            "type": "string",
                                            "description": "A data URL or plain base64.",
                                        }
                                    },
                                },
                                "example": {"image": EXAMPLE_IMAGE},
                            },
                        },
                    },
                    "responses": {
                        "200": _json(
                            "The digit found",
                            {"$ref": "#/components/schemas/Prediction"},
                        ),
                        "400": _error("Malformed request or missing field"),
                        "413": _error("Body or image over the size limit"),
                        "415": _error("Not a supported image"),
                        "422": _error("No digit found (blank, a dot, noise), or one too small to read"),
                        "429": _error("Rate limited"),
                    },
                }
            },
            "/api/v1/feedback": {
                "post": {
                    "summary": "Send a correction: the image, what was predicted, the right digit",
                    "operationId": "feedback",
                    "description": (
                        "The last word on an answer wins: with a request_id, a digit's correction "
                        "replaces the earlier one of the same digit and any typed number for that "
                        "answer, and a typed number replaces every earlier correction of it. "
                        "`replaced` says how many were replaced."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["image"],
                                    "description": (
                                        "Either one digit (predicted, correct, and digit_index "
                                        "for a digit of a number) or correct_number, the whole "
                                        "number typed when the digits were miscounted."
                                    ),
                                    "properties": {
                                        "image": {
                                            "type": "string",
                                            "description": "A data URL or plain base64.",
                                        },
                                        "correct_number": {"type": "string", "pattern": "^[0-9]{1,32}$"},
                                        "predicted": {"type": "integer", "minimum": 0, "maximum": 9},
                                        "correct": {"type": "integer", "minimum": 0, "maximum": 9},
                                        "request_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
                                        "digit_index": {
                                            "type": "integer",
                                            "minimum": 0,
                                            "description": "Which digit of a number is corrected (0: the leftmost); required when the picture holds several digits.",
                                        },
                                    },
                                },
                                "example": {"image": EXAMPLE_IMAGE, "predicted": 1, "correct": 7},
                            },
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["image"],
                                    "properties": {
                                        "image": {"type": "string", "format": "binary"},
                                        "correct_number": {"type": "string", "pattern": "^[0-9]{1,32}$"},
                                        "predicted": {"type": "string", "pattern": "^[0-9]$"},
                                        "correct": {"type": "string", "pattern": "^[0-9]$"},
                                        "request_id": {"type": "string"},
                                        "digit_index": {"type": "string", "pattern": "^[0-9]{1,3}$"},
                                    },
                                }
                            },
                        },
                    },
                    "responses": {
                        "201": _json(
                            "Stored",
                            {
                                "type": "object",
                                "required": ["id", "kind", "replaced"],
                                "properties": {
                                    "id": {"type": "integer"},
                                    "kind": {"enum": ["digit", "number"]},
                                    "replaced": {"type": "integer", "minimum": 0},
                                },
                            },
                        ),
                        "400": _error("Malformed request or missing field"),
                        "413": _error("Body or image over the size limit"),
                        "415": _error("Not a supported image"),
                        "422": _error(
                            "A label is not a digit 0-9, no digit in the image, a number without a valid "
                            "digit_index, or a typed number that is not one or is what was read"
                        ),
                        "503": _error("The corrections database is unavailable (storage_unavailable)"),
                        "429": _error("Rate limited"),
                    },
                },
                "delete": {
                    "summary": "Undo: withdraw every correction sent for one answer",
                    "operationId": "withdrawFeedback",
                    "parameters": [
                        {
                            "name": "request_id",
                            "in": "query",
                            "required": True,
                            "description": "The request_id of the answer (from /api/v1/predict).",
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
                        }
                    ],
                    "responses": {
                        "200": _json(
                            "Withdrawn",
                            {
                                "type": "object",
                                "required": ["withdrawn"],
                                "properties": {"withdrawn": {"type": "integer", "minimum": 1}},
                            },
                        ),
                        "400": _error("No valid request_id"),
                        "404": _error("No corrections of that answer are stored (no_corrections)"),
                        "503": _error("The corrections database is unavailable (storage_unavailable)"),
                        "429": _error("Rate limited"),
                    },
                },
            },
            "/api/v1/health": {
                "get": {
                    "summary": "Liveness",
                    "operationId": "health",
                    "responses": {
                        "200": _json(
                            "The process answers",
                            {
                                "type": "object",
                                "required": ["status"],
                                "properties": {"status": {"const": "ok"}},
                            },
                        )
                    },
                }
            },
            "/api/v1/ready": {
                "get": {
                    "summary": "Readiness: the model is loaded and the corrections database answers",
                    "operationId": "ready",
                    "responses": {
                        "200": _json(
                            "Ready to predict and to store corrections",
                            {
                                "type": "object",
                                "required": ["ready", "model", "database"],
                                "properties": {
                                    "ready": {"type": "boolean"},
                                    "model": {"type": "string"},
                                    "database": {"const": "ok"},
                                },
                            },
                        ),
                        "503": _error("Not ready: the corrections database is unavailable"),
                    },
                }
            },
            "/api/v1/model": {
                "get": {
                    "summary": "The model card (accuracy, calibration, training details)",
                    "operationId": "model",
                    "responses": {"200": _json("The model card", {"type": "object"})},
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "The OpenAPI 3.1 description of this API",
                    "operationId": "openapi",
                    "responses": {"200": _json("OpenAPI 3.1 document", {"type": "object"})},
                }
            },
        },
        "components": {
            "schemas": {
                "Error": _ERROR,
                "Box": {
                    "type": "object",
                    "description": "Where the digit is, as fractions (0-1) of the image size.",
                    "required": ["x", "y", "width", "height"],
                    "properties": {
                        k: {"type": "number", "minimum": 0, "maximum": 1}
                        for k in ("x", "y", "width", "height")
                    },
                },
                "Digit": {
                    "type": "object",
                    "required": ["digit", "confidence", "uncertain", "not_digit", "probabilities", "box"],
                    "properties": {
                        **_DIGIT_FIELDS,
                        "box": {
                            "oneOf": [{"$ref": "#/components/schemas/Box"}, {"type": "null"}],
                            "description": "Where the digit is; null when the image was read as one digit.",
                        },
                    },
                },
                "Prediction": {
                    "type": "object",
                    "description": (
                        "The answer for one image, number first: `number`, how sure the whole "
                        "answer is, and `digits`, one entry per digit read, left to right. When "
                        "the answer is one digit, its fields are also at the top level; when it "
                        "is several, `digit` is null and there are no top-level probabilities "
                        "(the top level never describes the image squashed into one digit). "
                        "`digitrec predict --json` prints the same object for each file, with "
                        "`file` in place of `request_id` and `elapsed_ms` (and `--number` as "
                        "`?multi=1`)."
                    ),
                    "required": [
                        "number",
                        "digit",
                        "confidence",
                        "uncertain",
                        "digits",
                        "model",
                        "elapsed_ms",
                        "request_id",
                    ],
                    "properties": {
                        **_DIGIT_FIELDS,
                        "digit": {
                            "oneOf": [{"type": "integer", "minimum": 0, "maximum": 9}, {"type": "null"}],
                            "description": "The digit, when one was read; null for a number of several.",
                        },
                        "confidence": {
                            "type": "number",
                            "minimum": 0,
                            "maximum": 1,
                            "description": "How sure the whole answer is: the product of the digits' confidences.",
                        },
                        "uncertain": {"type": "boolean", "description": "True when any digit is uncertain."},
                        "box": {"oneOf": [{"$ref": "#/components/schemas/Box"}, {"type": "null"}]},
                        "model": {"type": "string"},
                        "elapsed_ms": {"type": "number", "minimum": 0},
                        "request_id": {"type": "string"},
                        "number": {
                            "type": "string",
                            "pattern": "^[0-9]+$",
                            "description": "All digits read, left to right (one digit without ?multi=1).",
                        },
                        "looks_like_number": {
                            "type": "string",
                            "pattern": "^[0-9]{2,}$",
                            "description": (
                                "Only without ?multi=1, when the one digit read does not look like a "
                                "digit (not_digit above confidence) but the picture reads as this "
                                "number of several digits, each of which looks like a digit: ask "
                                "again with ?multi=1."
                            ),
                        },
                        "digits": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"$ref": "#/components/schemas/Digit"},
                        },
                    },
                },
            }
        },
    }
