"""The admin pages: corrections at /admin/feedback, model versions at /admin/models.

Off (404) unless the ADMIN_TOKEN setting is given; then every request needs that token, as
`Authorization: Bearer <token>` or as the password of HTTP Basic auth (any user name), so
a browser simply asks for it. Every change (delete, promote, roll back) also needs a form
token made for that one action, so another site cannot make the browser do it (CSRF).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from digitrec.engine.results import png_data_url
from digitrec.storage.feedback import FeedbackStore
from digitrec.storage.models import ModelVersions

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
    return _action_token(f"delete:{correction_id}")


def _action_token(action: str) -> str:
    key = current_app.config["ADMIN_TOKEN"].encode()
    return hmac.new(key, action.encode(), hashlib.sha256).hexdigest()


def _check_action(action: str) -> None:
    if not hmac.compare_digest(request.form.get("form_token", ""), _action_token(action)):
        abort(400)


@bp.get("/feedback")
def review():
    store = current_app.extensions["feedback"]
    corrections = [
        {"item": c, "image": png_data_url(c.image_28x28), "form_token": _form_token(c.id)}
        for c in store.recent(200)
    ]
    pairs = store.pair_counts()
    mistakes = sum(count for _, _, count in pairs)
    return render_template(
        "admin.html",
        corrections=corrections,
        pairs=pairs,
        mistakes=mistakes,
        confirmations=store.count() - mistakes,
        numbers=[(*row, _action_token(f"delete-number:{row[0]}")) for row in store.number_corrections(50)],
    )


@bp.post("/feedback/<int:correction_id>/delete")
def delete(correction_id: int):
    return _delete(f"delete:{correction_id}", lambda store: store.delete(correction_id))


@bp.post("/numbers/<int:correction_id>/delete")
def delete_number(correction_id: int):
    return _delete(f"delete-number:{correction_id}", lambda store: store.delete_number(correction_id))


def _delete(action: str, deleted: Callable[[FeedbackStore], bool]):
    """Check the form token for ``action``, delete (404 if nothing was), back to the list."""
    _check_action(action)
    if not deleted(current_app.extensions["feedback"]):
        abort(404)
    return redirect(url_for("admin.review"), code=303)


def _versions() -> ModelVersions:
    switch = current_app.extensions.get("model_switch")
    if switch is not None:
        return switch.versions
    return ModelVersions(current_app.extensions["feedback"], current_app.extensions["recognizer"].card)


@bp.get("/models")
def models():
    versions = _versions().list()
    active = next(v.number for v in versions if v.status == "active")
    store = current_app.extensions["feedback"]
    return render_template(
        "admin_models.html",
        versions=versions,
        active=active,
        serving=current_app.extensions["recognizer"].version,
        corrections=store.counts_by_model(),
        pairs=store.pair_counts()[:10],
        promote_tokens={v.number: _action_token(f"promote:{v.number}") for v in versions},
        rollback_token=_action_token(f"rollback:{active}"),
    )


@bp.post("/models/<int:number>/promote")
def promote(number: int):
    _check_action(f"promote:{number}")
    _versions().promote(number, "admin page")
    return redirect(url_for("admin.models"), code=303)


@bp.post("/models/rollback")
def rollback():
    versions = _versions()
    _check_action(f"rollback:{versions.active_number()}")  # a stale page rolls nothing back
    versions.rollback("admin page")
    return redirect(url_for("admin.models"), code=303)
