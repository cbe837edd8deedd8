"""HTML pages: the drawing/upload page and the human-readable API page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from digitrec.web.openapi import openapi_spec

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    recognizer = current_app.extensions["recognizer"]
    return render_template("index.html", model=recognizer.card, version=recognizer.version)


@bp.get("/api")
def api_docs():
    spec = openapi_spec(current_app.extensions["recognizer"].version)
    return render_template("api.html", spec=spec)
