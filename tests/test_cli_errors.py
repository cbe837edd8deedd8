"""Every command of the CLI, in every condition a user can cause: the database down, the
`train` extra missing, a missing model, a file that cannot be read or written, a bad
setting. Each ends in one sentence on stderr and a non-zero exit code, never a traceback."""

from __future__ import annotations

import pytest

from servers import free_port, run_cli

# As if `pip install 'digitrec[train]'` had not been run: these imports fail in the process.
WITHOUT_TRAIN_EXTRA = "import sys\nfor name in ('tensorflow', 'keras', 'tf2onnx', 'onnx', 'scipy', 'matplotlib'):\n    sys.modules[name] = None"


def assert_one_sentence(result, exit_code: int, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("digitrec: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def database_down() -> dict:
    """Settings that point at a PostgreSQL server that is not there."""
    return {"DIGITREC_DATABASE_URL": f"postgresql+psycopg://digitrec@127.0.0.1:{free_port()}/digitrec"}


@pytest.mark.parametrize(
    "args",
    [("db", "upgrade"), ("feedback", "export", "--out", "corrections.npz")],
    ids=["db upgrade", "feedback export"],
)
def test_database_down(args, database_down, tmp_path):
    result = run_cli(*args, env=database_down, cwd=tmp_path)
    assert_one_sentence(result, 3, "is unavailable", "127.0.0.1")
    assert not (tmp_path / "corrections.npz").exists()


def test_feedback_export_before_any_database_exists(tmp_path):
    result = run_cli(
        "feedback",
        "export",
        "--out",
        str(tmp_path / "c.npz"),
        env={"DIGITREC_DATA_DIR": str(tmp_path / "none")},
    )
    assert_one_sentence(result, 3, "does not exist (yet)", "digitrec db upgrade")
    assert not (tmp_path / "none").exists()  # reading never creates the database


def test_train_without_the_train_extra(tmp_path):
    result = run_cli("train", "--out", str(tmp_path / "m.onnx"), python_code=WITHOUT_TRAIN_EXTRA)
    assert_one_sentence(result, 2, "pip install 'digitrec[train]'")


def test_evaluate_report_without_matplotlib_fails_before_evaluating(tmp_path):
    result = run_cli("evaluate", "--report", str(tmp_path / "r"), python_code=WITHOUT_TRAIN_EXTRA)
    assert_one_sentence(result, 2, "matplotlib", "pip install 'digitrec[train]'")
    assert "Accuracy" not in result.stdout  # refused up front, not after a whole evaluation


def test_the_quick_start_install_predicts_without_the_train_extra(tmp_path, digit_images):
    (tmp_path / "seven.png").write_bytes(digit_images[7])
    result = run_cli("predict", str(tmp_path / "seven.png"), python_code=WITHOUT_TRAIN_EXTRA)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{tmp_path / 'seven.png'}: 7 (")


@pytest.mark.parametrize(
    "args",
    [
        ("predict", "--model", "missing.onnx", "digit.png"),
        ("evaluate", "--model", "missing.onnx"),
        ("serve", "--model", "missing.onnx", "--port", "0"),
    ],
    ids=["predict", "evaluate", "serve"],
)
def test_missing_model(args, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert_one_sentence(result, 2, "missing.onnx", "does not exist")


def test_a_model_that_is_not_onnx(tmp_path):
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    result = run_cli("predict", "--model", "broken.onnx", "digit.png", cwd=tmp_path)
    assert_one_sentence(result, 2, "broken.onnx", "not a valid ONNX model")


def test_an_output_that_cannot_be_written(tmp_path, migrated_sqlite):
    (tmp_path / "a-file").write_text("")
    env = {"DIGITREC_DATABASE_URL": f"sqlite:///{migrated_sqlite}"}
    result = run_cli("feedback", "export", "--out", str(tmp_path / "a-file" / "c.npz"), env=env)
    assert_one_sentence(result, 2, "a-file")
    typo = run_cli("feedback", "export", "--out", str(tmp_path / "no-such-folder" / "c.npz"), env=env)
    assert_one_sentence(typo, 2, "no-such-folder")
    assert not (tmp_path / "no-such-folder").exists()  # a typo in the path is reported, not created


def test_corrections_that_cannot_be_read(tmp_path):
    (tmp_path / "c.npz").write_bytes(b"garbage")
    result = run_cli(
        "train", "--out", str(tmp_path / "m.onnx"), "--extra-data", str(tmp_path / "c.npz"), "--limit", "100"
    )
    assert_one_sentence(result, 2, "Cannot read corrections")


@pytest.mark.parametrize(
    "variable, value", [("DIGITREC_LOG_LEVEL", "LOUD"), ("DIGITREC_MAX_BODY", "ten megabytes")]
)
def test_serve_with_a_bad_setting(variable, value):
    result = run_cli("serve", "--port", "0", env={variable: value})
    assert_one_sentence(result, 2, variable, repr(value))


@pytest.mark.parametrize("number", ["abc", "0", "-1"])
def test_promoting_something_that_is_not_a_version_number(number, tmp_path):
    """Click's own message for a range ("'abc' is not a valid integer range") said nothing
    a person could act on."""
    result = run_cli("model", "promote", "--", number, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"'{number}' is not a version number" in result.stderr and "digitrec model list" in result.stderr
