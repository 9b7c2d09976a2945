"""A refit model equals one trained with its post-training settings; anything else is refused."""

import dataclasses
import json

import pytest

from braidrec.config import RunConfig
from braidrec.models.checkpoint import HISTORY_JSON
from braidrec.models.evaluate_run import evaluate_model_dir
from braidrec.models.refit import refit
from braidrec.models.train import train

KS = [10]
# Every post-training setting away from the default, the prior turned off among them.
CHANGED = {"cold_prior_weight": 0.0, "cold_profile_weight": 0.0, "cold_fusion_temperature": 2.0, "cold_calibration": "none"}


def _config(**model_changes) -> RunConfig:
    config = RunConfig()
    config.model = dataclasses.replace(config.model, embedding_dim=16, **model_changes)
    config.train.epochs, config.train.batch_size, config.train.verbose = 1, 128, 0
    return config


@pytest.fixture(scope="module")
def trained(tiny_run, tmp_path_factory):
    """A model trained with the default post-training settings and one trained with :data:`CHANGED`."""
    root = tmp_path_factory.mktemp("refit")
    train(tiny_run["features"], root / "default", _config())
    train(tiny_run["features"], root / "changed", _config(**CHANGED))
    return root


def _warm_cold_mixed(model_dir):
    metrics = evaluate_model_dir(model_dir, None, KS)
    return metrics["braidrec"]["warm"], metrics["braidrec"]["cold"], metrics["mixed"]


@pytest.mark.parametrize("base, target, changes", [("default", "changed", CHANGED), ("changed", "default", {})],
                         ids=["prior-off", "prior-on"])
def test_a_refit_equals_training_with_the_settings(trained, tmp_path, base, target, changes):
    history = refit(trained / base, tmp_path / "refit", _config(**changes).model)
    assert history["refit_from"] == str((trained / base).resolve())
    assert ("cold_prior" in history) == ("cold_prior_weight" not in changes)
    assert history["best_epoch"] == json.loads((trained / base / HISTORY_JSON).read_text())["best_epoch"]
    warm, cold, mixed = _warm_cold_mixed(tmp_path / "refit")
    want_warm, want_cold, want_mixed = _warm_cold_mixed(trained / target)
    assert warm == pytest.approx(want_warm, abs=1e-6)
    assert cold == pytest.approx(want_cold, abs=1e-6)
    assert mixed == pytest.approx(want_mixed, abs=1e-6)
    # The settings move the cold figures, so equality above says the refit used them.
    assert cold != pytest.approx(_warm_cold_mixed(trained / base)[1], abs=1e-6)


def test_a_setting_that_shapes_the_towers_is_refused(trained, tmp_path):
    with pytest.raises(ValueError, match=r"model\.fusion.*train it"):
        refit(trained / "default", tmp_path / "refit", _config(fusion="sum").model)
    assert not (tmp_path / "refit").exists()

