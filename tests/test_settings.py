"""Settings come one way: defaults, then DIGITREC_* variables, then create_app's mapping; the
README documents every one; the factory does no I/O; the tests never touch the user's data."""

from __future__ import annotations

import re
from pathlib import Path

import platformdirs
import pytest

from digitrec import settings
from digitrec.web.app import create_app

from servers import run_cli

README = Path(__file__).parents[1] / "README.md"


def test_defaults_then_environment_then_mapping():
    assert settings.resolve({}, environ={})["RATE_LIMIT"] == "600 per minute"
    from_env = settings.resolve(
        {}, environ={"DIGITREC_RATE_LIMIT": "5 per minute", "DIGITREC_MAX_BODY": "1000"}
    )
    assert (from_env["RATE_LIMIT"], from_env["MAX_BODY"]) == ("5 per minute", 1000)
    given = settings.resolve(
        {"RATE_LIMIT": "off", "MAX_BODY": "2000"}, environ={"DIGITREC_RATE_LIMIT": "5 per minute"}
    )
    assert (given["RATE_LIMIT"], given["MAX_BODY"]) == ("off", 2000)


def test_a_bad_value_names_the_variable_and_what_is_expected():
    with pytest.raises(
        settings.SettingError,
        match=r"DIGITREC_MAX_BODY='-5' cannot be used: expected a positive number of bytes\.",
    ):
        settings.resolve(environ={"DIGITREC_MAX_BODY": "-5"})
    with pytest.raises(settings.SettingError, match="LOG_LEVEL='chatty'"):
        settings.resolve({"LOG_LEVEL": "chatty"}, environ={})


def test_the_app_takes_its_settings_from_the_mapping_over_the_environment(monkeypatch, recognizer, tmp_path):
    monkeypatch.setenv("DIGITREC_ADMIN_TOKEN", "from-the-environment")
    monkeypatch.setenv("DIGITREC_MAX_BODY", "1234")
    app = create_app({"ADMIN_TOKEN": "from-the-mapping", "DATA_DIR": str(tmp_path)}, recognizer=recognizer)
    assert app.config["ADMIN_TOKEN"] == "from-the-mapping"
    assert app.config["MAX_CONTENT_LENGTH"] == 1234


def test_the_factory_does_no_io(recognizer, tmp_path):
    """No folder, no database file, no migration: those are `db upgrade`'s and `serve`'s."""
    folder = tmp_path / "data"
    app = create_app({"DATA_DIR": str(folder)}, recognizer=recognizer)
    assert not folder.exists()
    response = app.test_client().get("/api/v1/ready")
    assert response.status_code == 503  # no schema yet: not ready, and still nothing created
    assert not folder.exists()


def test_the_readme_documents_every_setting():
    text = README.read_text()
    table = text[text.index("| setting |") :].split("\n\n")[0]
    rows = {row.split("|")[1].strip(" `"): row for row in table.splitlines()[2:]}
    for setting in settings.SETTINGS:
        assert setting.variable in rows, setting.variable
        if setting.default not in (None, ""):
            assert str(setting.default).replace("_", "") in rows[setting.variable].replace(",", ""), (
                setting.variable
            )
    assert settings.MNIST_VARIABLE in rows


def test_the_suite_runs_in_a_private_home(private_home, tmp_path):
    """The default data folder of every process the tests start is inside the suite's own
    home; the real one is checked byte for byte when the session ends (conftest)."""
    assert Path(platformdirs.user_data_dir("digitrec")).is_relative_to(private_home)
    result = run_cli("db", "upgrade")
    assert result.returncode == 0, result.stderr
    created = re.search(r"sqlite:///(\S+)", result.stdout).group(1)
    assert Path(created).is_relative_to(private_home) and Path(created).exists()


@pytest.mark.parametrize(
    "variable, value, reason",
    [
        ("DIGITREC_RATE_LIMIT", "garbage", "couldn't parse rate limit string"),
        ("DIGITREC_FEEDBACK_RATE_LIMIT", "3 per fortnight", "no granularity matched"),
        ("DIGITREC_RATE_LIMIT_STORAGE", "bogus://", "unknown storage scheme"),
        ("DIGITREC_CORS_ORIGINS", "https://example.org, garbage", "not an origin"),
        ("DIGITREC_MAX_BODY", "0", "expected a positive number of bytes"),
        ("DIGITREC_DATABASE_URL", "nonsense", "Could not parse"),
        ("DIGITREC_DATABASE_URL", "mysql://admin:hunter2@db/x", "No module named"),
    ],
)
def test_values_that_cannot_work_are_refused_up_front(variable, value, reason):
    with pytest.raises(settings.SettingError, match=reason) as refused:
        settings.resolve(environ={variable: value})
    assert "hunter2" not in refused.value.message  # secrets are never repeated


def test_off_turns_a_rate_limit_off():
    values = settings.resolve(environ={"DIGITREC_RATE_LIMIT": "OFF", "DIGITREC_FEEDBACK_RATE_LIMIT": "off"})
    assert values["RATE_LIMIT"] == values["FEEDBACK_RATE_LIMIT"] == "off"
