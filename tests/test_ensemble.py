"""Several trained models as one ONNX graph (training/ensemble.py, `digitrec ensemble`):
the graph gives the average of its members' calibrated probabilities, recalibrated, and
its weights load back as an ensemble for `digitrec retrain`."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from digitrec.cli import main
from digitrec.engine.recognizer import Recognizer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """Two tiny models trained apart (200 digits, one epoch, their own seeds)."""
    pytest.importorskip("tensorflow")  # the training extra
    from digitrec.training.train import Hyperparameters, train

    folder = tmp_path_factory.mktemp("members")
    paths = []
    for seed in (1, 2):
        path = folder / f"member{seed}.onnx"
        train(None, path, Hyperparameters(epochs=1, training_seed=seed), limit=200, verbose=0)
        paths.append(path)
    return paths


def test_an_ensemble_averages_its_members_calibrated_probabilities(members, tmp_path, mnist_test_set):
    from digitrec.training.ensemble import combine
    from digitrec.training.train import Hyperparameters, build_model, load_model, weights_path

    out = tmp_path / "ensemble.onnx"
    card = combine(members, None, out, limit=200)
    assert [m["file"] for m in card["members"]] == ["member1.onnx", "member2.onnx"]
    assert json.loads(out.with_suffix(".json").read_text())["version"] == card["version"]

    # The members' own files were calibrated on the same validation digits as the ensemble
    # calibrates each of them, so their outputs are what the ensemble averages.
    images = mnist_test_set[0][:300].astype(np.float32) / 255
    each = [Recognizer(m).predict_tensors(images) for m in members]
    for member, described in zip(members, card["members"]):
        own = json.loads(member.with_suffix(".json").read_text())
        assert described["version"] == own["version"]
        assert described["temperature"] == pytest.approx(own["temperature"], abs=1e-3)
    average = np.mean(each, axis=0)
    expected = average ** (1 / card["temperature"])
    expected /= expected.sum(axis=1, keepdims=True)
    ensemble = Recognizer(out)
    assert np.allclose(ensemble.predict_tensors(images), expected, atol=2e-3)

    # Its weights are both members', and load back as an ensemble of two.
    single = len(build_model(Hyperparameters().dropout).weights)
    assert len(load_model(weights_path(out), Hyperparameters().dropout).weights) == 2 * single


def test_combining_refuses_what_is_not_an_ensemble(members, tmp_path):
    runner = CliRunner()
    out = str(tmp_path / "e.onnx")
    one = runner.invoke(main, ["ensemble", "--out", out, str(members[0])])
    assert one.exit_code == 2 and "two models or more" in one.output
    bare = tmp_path / "bare.onnx"
    bare.write_bytes(members[0].read_bytes())  # an ONNX file without its weights
    missing = runner.invoke(main, ["ensemble", "--out", out, str(members[0]), str(bare)])
    assert missing.exit_code == 2 and "has no weights beside it (bare.weights.npz)" in missing.output
    assert not (tmp_path / "e.onnx").exists()
