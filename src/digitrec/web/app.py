"""The Flask application factory: settings in, extensions (model, corrections store, rate
limiter, CORS) set up once, blueprints registered. The request edge lives in ``edge.py``.

The factory does no I/O beyond loading the model: the database is connected to when first
used, and its schema is created by `digitrec db upgrade` or `digitrec serve`, never here.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask
from flask_cors import CORS

from digitrec import settings
from digitrec.engine.recognizer import Recognizer
from digitrec.storage.feedback import FeedbackStore
from digitrec.web import admin, api, edge, metrics, pages


def create_app(
    config: Mapping | None = None,
    *,
    recognizer: Recognizer | None = None,
    store: FeedbackStore | None = None,
) -> Flask:
    """The app. ``config`` overrides the DIGITREC_* environment and the defaults (see
    ``digitrec.settings``); a caller may hand in its own ``recognizer`` or ``store``."""
    values = settings.resolve(config)
    app = Flask(__name__)
    app.config.from_mapping(values)
    app.config["MAX_CONTENT_LENGTH"] = values["MAX_BODY"]
    app.json.sort_keys = False

    app.extensions["recognizer"] = recognizer or Recognizer(values["MODEL"], max_pixels=values["MAX_PIXELS"])
    app.extensions["feedback"] = store or FeedbackStore(settings.database_url(values))

    app.config.setdefault("RATELIMIT_ENABLED", values["RATE_LIMIT"] != "off")  # off: no limit at all
    app.config.setdefault("RATELIMIT_STORAGE_URI", values["RATE_LIMIT_STORAGE"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # A rate-limit store that cannot be reached (Redis down) must not take the API down:
    # the limiter logs the error and lets the request through until the store is back.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    origins = [o.strip() for o in values["CORS_ORIGINS"].split(",") if o.strip()]
    if origins:  # CORS is off unless origins are listed
        CORS(app, resources={r"/api/*": {"origins": origins}}, expose_headers=["X-Request-ID"])

    hops = values["TRUSTED_PROXIES"]
    if hops:  # behind nginx & co: the client's address is the one the proxies saw
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    edge.init_app(app)
    api.limiter.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    app.add_url_rule("/metrics", "metrics", metrics.expose)
    return app
