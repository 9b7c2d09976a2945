"""Bench variants: every registered one passes the pre-flight, and which refit from a model instead of training again."""

import json

import pytest

from bench import quality
from bench.variants import VARIANTS, refit_base, variant_config
from braidrec.config import ExtractConfig, ModelConfig, RunConfig, TrainConfig
from braidrec.config_loader import from_dict
from braidrec.models.checkpoint import MODEL_JSON
from braidrec.models.preflight import check_settings


def _config_of(model_dir) -> RunConfig:
    """The configuration the model directory was trained with, as a bench variant would build it."""
    meta = json.loads((model_dir / MODEL_JSON).read_text())
    config = RunConfig()
    config.model = from_dict(ModelConfig, meta["model"])
    config.extract, config.train = from_dict(ExtractConfig, meta["extract"]), from_dict(TrainConfig, meta["train"])
    # Training sets max_history from the features; a variant's configuration has the default.
    config.extract.max_history = ExtractConfig().max_history
    config.train.verbose = 0
    return config


@pytest.mark.parametrize("section, field, value, refits", [
    ("model", "cold_prior_weight", 0.0, True),
    ("model", "cold_fusion_temperature", 2.0, True),
    ("model", "fusion", "sum", False),
    ("model", "image_normalization", "catalogue", False),
    ("train", "seed", 7, False),
    ("extract", "image_encoder", "descriptor_quantiles", False),
])
def test_only_post_training_changes_refit(tiny_run, section, field, value, refits):
    config = _config_of(tiny_run["model"])
    assert refit_base(config, tiny_run["features"], [tiny_run["model"]]) == tiny_run["model"]
    setattr(getattr(config, section), field, value)
    assert refit_base(config, tiny_run["features"], [tiny_run["model"]]) == (tiny_run["model"] if refits else None)


def test_other_features_do_not_refit(tiny_run, tmp_path):
    assert refit_base(_config_of(tiny_run["model"]), tmp_path, [tiny_run["model"]]) is None
    assert refit_base(_config_of(tiny_run["model"]), tiny_run["features"], []) is None


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_passes_the_preflight(name):
    # bench.quality checks the chosen variants at its start; this keeps every registered one runnable.
    config = variant_config(name)
    assert config is not None, f"variant {name} names a field this checkout does not have"
    check_settings(config)


def test_bench_refuses_a_bad_variant_before_any_work(monkeypatch, tmp_path):
    monkeypatch.setitem(VARIANTS, "broken", {"model.fusion": "mean"})
    with pytest.raises(SystemExit, match="variant broken: fusion mode 'mean'"):
        quality.main(["--datasets", "synthetic", "--seeds", "0", "--peers", "", "--variants", "broken",
                      "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")])
    # Nothing prepared: the check ran before any dataset.
    assert not (tmp_path / "work").exists()
