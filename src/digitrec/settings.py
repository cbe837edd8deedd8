"""Every setting of the web app in one table: name, default, type and meaning.

A value comes from, in rising order of precedence: the default here, the environment
variable ``DIGITREC_<NAME>``, the mapping given to ``create_app`` (the CLI passes its
options that way). Nothing in digitrec writes the environment. The README's settings table
is checked against this one by the tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from digitrec.errors import DigitrecError

PREFIX = "DIGITREC_"
MNIST_VARIABLE = "DIGITREC_DATA"  # the MNIST folder, for `train`, `evaluate` and the tests


class SettingError(DigitrecError):
    """A setting has a value that cannot be used (not a number, not a log level...)."""

    code = "bad_setting"


OFF = ("", "off", "none", "0")


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise ValueError() from None
    if value <= 0:
        raise ValueError()
    return value


def _whole_number(text: str) -> int:
    value = int(text.replace("_", "")) if text.strip().isdigit() else -1
    if not 0 <= value <= 10:
        raise ValueError()
    return value


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError()
    return level


def _rate_limit(text: str) -> str:
    """A limit flask-limiter understands ("60 per minute; 1000 per hour"), or off."""
    if text.strip().lower() in OFF:
        return "off"
    from limits import parse_many

    parse_many(text)  # ValueError: "couldn't parse rate limit string ..."
    return text


def _limit_storage(text: str) -> str:
    """A storage the rate limiter can use, with its client library installed."""
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string

    try:
        storage_from_string(text)  # connects lazily: nothing is contacted here
    except ConfigurationError as error:
        reason = str(error).split(". ")[0]
        if "prerequisite" in reason:
            reason += f" (pip install {text.split(':')[0].split('+')[0]})"
        raise ValueError(reason) from None
    return text


def _origins(text: str) -> str:
    """Comma-separated origins such as https://example.org, or *."""
    for origin in (o.strip() for o in text.split(",") if o.strip()):
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ValueError(f"{origin!r} is not an origin such as https://example.org")
    return text


def _database_url(text: str) -> str:
    """A URL SQLAlchemy can parse, for a database whose driver is installed."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(text).get_dialect().import_dbapi()
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise ValueError(str(error)) from None
    return text


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    parse: Callable[[str], object]
    kind: str  # what a valid value looks like, for messages and the README
    help: str
    default_text: str = ""  # the default in words, where it is not a value (None)
    secret: bool = False  # never repeated in messages (passwords, tokens)

    @property
    def variable(self) -> str:
        return PREFIX + self.name


SETTINGS = (
    Setting(
        "MODEL",
        None,
        str,
        "a path",
        "ONNX model to serve; `digitrec serve --model` sets it",
        "the shipped model",
    ),
    Setting(
        "MAX_BODY",
        10 * 1024 * 1024,
        _positive_int,
        "a positive number of bytes",
        "largest request body (413 above)",
    ),
    Setting(
        "MAX_PIXELS",
        40_000_000,
        _positive_int,
        "a positive pixel count",
        "largest declared image size (413 above); formats other than JPEG are also held to 16 MP",
    ),
    Setting(
        "RATE_LIMIT",
        "600 per minute",
        _rate_limit,
        "a limit such as `60 per minute; 1000 per hour`, or `off`",
        "per-client limit on `/api/v1/predict` (the page asks for up to 5 answers a second while "
        "the pen is down); `off` turns every rate limit off",
    ),
    Setting(
        "FEEDBACK_RATE_LIMIT",
        "30 per minute",
        _rate_limit,
        "a limit such as `30 per minute`, or `off`",
        "per-client limit on `/api/v1/feedback`",
    ),
    Setting(
        "RATE_LIMIT_STORAGE",
        "memory://",
        _limit_storage,
        "a storage URI",
        "where requests are counted: `memory://` counts in each worker process (a client may get "
        "up to workers × the limit); `redis://host:6379` (after `pip install redis`) shares one "
        "count across workers and machines; while the store cannot be reached, requests are let through",
    ),
    Setting(
        "TRUSTED_PROXIES",
        0,
        _whole_number,
        "0, or the number of reverse proxies in front",
        "how many proxy hops to trust for `X-Forwarded-For`/`-Proto`/`-Host`; rate limits then "
        "count the real client. 0: the headers are ignored (a client could forge them)",
    ),
    Setting(
        "CORS_ORIGINS",
        "",
        _origins,
        "comma-separated origins",
        "origins allowed to call `/api/*`",
        "empty: CORS off",
    ),
    Setting(
        "DATABASE_URL",
        None,
        _database_url,
        "an SQLAlchemy URL",
        "where corrections are stored, e.g. `postgresql+psycopg://user:pass@host/db`",
        "SQLite: `feedback.sqlite3` in the data folder",
        secret=True,
    ),
    Setting(
        "DATA_DIR",
        None,
        str,
        "a folder",
        "the data folder, home of the default SQLite database",
        "the user data folder, e.g. `~/.local/share/digitrec`",
    ),
    Setting(
        "ADMIN_TOKEN",
        None,
        str,
        "a secret",
        "token for the admin pages `/admin/feedback` and `/admin/models`",
        "unset: the page is off",
        secret=True,
    ),
    Setting(
        "MODEL_POLL",
        2,
        _positive_int,
        "a positive number of seconds",
        "how often each server worker asks the database which model version is active; a "
        "promotion or rollback is served within this (plus the load, well under a second)",
    ),
    Setting("LOG_LEVEL", "INFO", _log_level, "DEBUG, INFO, WARNING or ERROR", "log level"),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}


def resolve(overrides: Mapping | None = None, environ: Mapping[str, str] | None = None) -> dict:
    """Defaults, then DIGITREC_* variables, then ``overrides`` (which may also carry Flask's
    own keys, such as TESTING). Raises SettingError for a value that cannot be used."""
    environ = os.environ if environ is None else environ
    values: dict = {}
    for setting in SETTINGS:
        raw = environ.get(setting.variable, "")
        values[setting.name] = _parse(setting, raw, setting.variable) if raw.strip() else setting.default
    for name, value in (overrides or {}).items():
        if name in BY_NAME and isinstance(value, str) and BY_NAME[name].parse is not str:
            value = _parse(BY_NAME[name], value, name)
        values[name] = value
    return values


def _parse(setting: Setting, raw: str, where: str) -> object:
    try:
        return setting.parse(raw)
    except ValueError as error:
        shown = where if setting.secret else f"{where}={raw!r}"
        reason = str(error).rstrip(".") or f"expected {setting.kind}"
        raise SettingError(f"{shown} cannot be used: {reason}.") from None


def data_dir(values: Mapping) -> Path:
    """The data folder: DATA_DIR, else the user data folder of this platform."""
    if values.get("DATA_DIR"):
        return Path(values["DATA_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("digitrec"))


def database_url(values: Mapping) -> str:
    """DATABASE_URL, else a SQLite file in the data folder."""
    return values.get("DATABASE_URL") or f"sqlite:///{data_dir(values) / 'feedback.sqlite3'}"
