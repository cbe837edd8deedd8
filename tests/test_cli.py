"""The `digitrec` command, run as a real process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitrec.training import renderings

from servers import run_cli


@pytest.fixture(scope="module")
def files(tmp_path_factory, mnist_test_set):
    images, labels = mnist_test_set
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = {}
    for index in range(3):
        path = folder / f"digit{labels[index]}.png"
        path.write_bytes(renderings.dark_on_white(images[index], rng))
        paths[int(labels[index])] = path
    (folder / "notes.txt").write_text("not an image")
    number = folder / "number.png"
    number.write_bytes(renderings.compose_number([images[i] for i in (1, 2, 3)], rng))
    return folder, paths, [int(labels[i]) for i in (1, 2, 3)]


def test_predict_prints_one_line_per_file(files):
    _, paths, _ = files
    result = run_cli("predict", *map(str, paths.values()))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(paths)
    for (digit, path), line in zip(paths.items(), lines):
        assert line.startswith(f"{path}: {digit} (")


def test_predict_json_is_machine_readable(files):
    _, paths, _ = files
    result = run_cli("predict", "--json", *map(str, paths.values()))
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["digit"] for row in rows] == list(paths)
    assert all(len(row["probabilities"]) == 10 for row in rows)


def test_unreadable_files_give_a_message_and_a_failing_exit_code(files):
    folder, paths, _ = files
    good = str(next(iter(paths.values())))
    result = run_cli("predict", str(folder / "notes.txt"), str(folder / "missing.png"), good)
    assert result.returncode == 1
    assert "notes.txt: error: This is not an image we can read" in result.stderr
    assert "missing.png: error: cannot read the file" in result.stderr
    assert good in result.stdout  # the good file is still answered


def test_predict_reads_every_file_of_a_folder(files, tmp_path):
    folder, paths, _ = files
    result = run_cli("predict", str(folder), str(tmp_path))  # tmp_path: an empty folder
    assert result.returncode == 1  # notes.txt is no image; the empty folder is said
    for digit, path in paths.items():
        assert f"{path}: {digit} (" in result.stdout
    assert "notes.txt: error: This is not an image we can read" in result.stderr
    assert f"{tmp_path}: error: cannot read the file (the folder has no files)" in result.stderr


def test_predict_reads_a_number(files):
    folder, _, digits = files
    result = run_cli("predict", "--number", "--json", str(folder / "number.png"))
    assert json.loads(result.stdout)["number"] == "".join(map(str, digits))


def test_a_number_read_as_one_digit_points_to_number(client):
    """The app's own example of a number, read as one digit, is "not a digit": the line
    says what it reads as a number, and how to get that."""
    from importlib import resources

    example = resources.files("digitrec.web") / "static" / "examples" / "number-2024.png"
    result = run_cli("predict", str(example))
    assert result.returncode == 0, result.stderr
    assert "it looks like the number 2024: use --number" in result.stdout
    # Led by what it is, not by a digit the model gives under 50 % (it led with "7").
    assert result.stdout.startswith(f"{example}: does not look like a digit (best guess "), result.stdout
    # The API's answer without ?multi=1 says the same, and --json prints that answer.
    printed = json.loads(run_cli("predict", "--json", str(example)).stdout)
    assert printed["looks_like_number"] == "2024" and printed["number"] != "2024"
    answered = client.post("/api/v1/predict", data=example.read_bytes(), content_type="image/png").get_json()
    assert {k: v for k, v in answered.items() if k not in ("request_id", "elapsed_ms")} == {
        k: v for k, v in printed.items() if k != "file"
    }
    # A picture on standard input ("-") is read the same.
    piped = run_cli("predict", "--json", "-", input=example.read_bytes())
    assert {**json.loads(piped.stdout), "file": str(example)} == printed
    twice = run_cli("predict", "-", "-", input=example.read_bytes())  # the second read would be empty
    assert twice.returncode == 2 and "can be given once only" in twice.stderr
    eight = example.with_name("marker-8.png")
    for query, picture in (("?multi=1", example), ("", eight)):  # a number read as one, a digit
        answer = client.post("/api/v1/predict" + query, data=picture.read_bytes(), content_type="image/png")
        assert "looks_like_number" not in answer.get_json()


def test_shapes_are_no_number_anywhere(client, tmp_path):
    """A photo of a green disc and a blue box: each part "not a digit". It was offered as
    "it looks like the number 91" (API, CLI) and shown as the number "??" on the page."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (640, 480), (235, 232, 225))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((77, 120, 269, 360), fill=(40, 160, 60))
    draw.rectangle((352, 144, 563, 336), fill=(40, 60, 170))
    path = tmp_path / "scene.jpg"
    picture.save(path, quality=90)
    answer = client.post("/api/v1/predict", data=path.read_bytes(), content_type="image/jpeg").get_json()
    assert answer["not_digit"] > answer["confidence"] and "looks_like_number" not in answer
    as_number = client.post("/api/v1/predict?multi=1", data=path.read_bytes(), content_type="image/jpeg")
    assert all(d["not_digit"] > d["confidence"] for d in as_number.get_json()["digits"])
    assert "does not look like a digit (" in run_cli("predict", str(path)).stdout
    said = run_cli("predict", "--number", str(path)).stdout
    assert "does not look like a number: none of its 2 marks looks like a digit" in said, said


@pytest.mark.parametrize("number", [False, True])
def test_predict_json_is_the_api_answer(files, client, number):
    """One result shape: the CLI prints for a file what the API answers for it, field for
    field, but for the request's own id and time (the CLI names the file instead)."""
    folder, paths, _ = files
    path = folder / "number.png" if number else paths[min(paths)]
    printed = json.loads(run_cli("predict", "--json", *(["--number"] if number else []), str(path)).stdout)
    answered = client.post(
        "/api/v1/predict" + ("?multi=1" if number else ""), data=path.read_bytes(), content_type="image/png"
    ).get_json()
    assert printed.pop("file") == str(path)
    assert {k: v for k, v in answered.items() if k not in ("request_id", "elapsed_ms")} == printed
    assert len(printed["digits"]) == (3 if number else 1)


def test_evaluate_reports_accuracy_of_the_shipped_model(tmp_path):
    result = run_cli("evaluate", "--report", str(tmp_path))
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("Accuracy: ")[1].split("%")[0])
    assert accuracy >= 99.5
    assert "Confusion matrix" in result.stdout and "ECE" in result.stdout
    for name in ("confusion_matrix.png", "misclassified.png", "reliability.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_the_report_of_a_weak_model_shows_its_surest_mistakes_only(tmp_path, mnist_test_set):
    """A model trained for one epoch on 1,000 digits gets thousands wrong: the gallery drew
    every one (7,083 in a picture 101,530 px tall, 6 minutes). It shows the 200 surest."""
    from PIL import Image

    from digitrec.training.evaluate import MAX_SHOWN, write_report

    images, labels = mnist_test_set
    probabilities = np.random.default_rng(0).dirichlet(np.ones(10), size=len(labels)).astype(np.float32)
    write_report(tmp_path, images, labels, probabilities)
    with Image.open(tmp_path / "misclassified.png") as gallery:
        assert gallery.height < 3500, gallery.size  # 20 rows of 10
    assert MAX_SHOWN == 200


def test_evaluate_explains_a_bad_data_folder(tmp_path):
    result = run_cli("evaluate", "--data", str(tmp_path))
    assert result.returncode == 2
    assert "is missing from" in result.stderr and "Traceback" not in result.stderr
