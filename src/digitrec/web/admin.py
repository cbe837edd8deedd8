"""The review page for corrections, at /admin/feedback.

Off (404) unless the ADMIN_TOKEN setting is given; then every request needs that token, as
`Authorization: Bearer <token>` or as the password of HTTP Basic auth (any user name), so
a browser simply asks for it. Deleting needs a per-entry form token as well (no CSRF).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from digitrec.engine.results import png_data_url

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _require_token():
    token = current_app.config["ADMIN_TOKEN"]
    if not token:
        abort(404)
    if not hmac.compare_digest(_presented_token().encode(), token.encode()):
        return (
            "A valid admin token is required.",
            401,
            {"WWW-Authenticate": 'Basic realm="digitrec admin", charset="UTF-8"'},
        )


def _presented_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return ""
    return ""


def _form_token(correction_id: int) -> str:
    key = current_app.config["ADMIN_TOKEN"].encode()
    return hmac.new(key, f"delete:{correction_id}".encode(), hashlib.sha256).hexdigest()


@bp.get("/feedback")
def review():
    store = current_app.extensions["feedback"]
    corrections = [
        {"item": c, "image": png_data_url(c.image_28x28), "form_token": _form_token(c.id)}
        for c in store.recent(200)
    ]
    return render_template(
        "admin.html", corrections=corrections, pairs=store.pair_counts(), total=store.count()
    )


@bp.post("/feedback/<int:correction_id>/delete")
def delete(correction_id: int):
    if not hmac.compare_digest(request.form.get("form_token", ""), _form_token(correction_id)):
        abort(400)
    if not current_app.extensions["feedback"].delete(correction_id):
        abort(404)
    return redirect(url_for("admin.review"), code=303)
