"""HTML pages: the drawing/upload page and the human-readable API page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from digitrec.web.openapi import openapi_spec

bp = Blueprint("pages", __name__)

# Pictures to try with one click (static/examples, written by tools/make_examples.py).
EXAMPLES = (
    ("number-2024.png", "the number 2024 written on paper"),
    ("photo-7.jpg", "a phone photo of a 7"),
    ("marker-8.png", "an 8 in bold marker"),
    ("crop-5.png", "a 5 cropped tight, 32 pixels"),
)


@bp.get("/")
def index():
    recognizer = current_app.extensions["recognizer"]
    return render_template("index.html", model=recognizer.card, version=recognizer.version, examples=EXAMPLES)


@bp.get("/api")
def api_docs():
    spec = openapi_spec(current_app.extensions["recognizer"].version)
    return render_template("api.html", spec=spec)
