"""Run configuration: YAML, unknown keys, flag overrides."""

import argparse

import pytest

from braidrec.config import RunConfig
from braidrec.config_loader import ConfigError, add_config_flags, config_from_args, config_with, load_config


def test_default_yaml_loads_and_matches_dataclasses():
    config = load_config("configs/default.yaml")
    assert isinstance(config, RunConfig)
    assert config.model.fusion == "attention"
    # The file shows the defaults, so it must not drift from them.
    assert config == RunConfig()


@pytest.mark.parametrize("name, changed", [("sasrec_head", ("model", "scoring", "dot")),
                                           ("colour_images", ("extract", "image_encoder", "descriptor_quantiles"))])
def test_preset_yaml_is_the_bench_variant(name, changed):
    """A preset in configs/ is what its bench row measured: every section equal, the output directory aside."""
    from bench.variants import VARIANTS

    config, variant = load_config(f"configs/{name}.yaml"), config_with(VARIANTS[name])
    section, field, value = changed
    assert getattr(getattr(config, section), field) == value
    assert (config.extract, config.model, config.train) == (variant.extract, variant.model, variant.train)


@pytest.mark.parametrize(
    "text, message",
    [
        ("trian: {epochs: 2}\n", "did you mean 'train'"),
        ("train: {epoch: 2}\n", "did you mean 'epochs'"),
        ("train: {epochs: many}\n", "train.epochs"),
        ("train: [1, 2]\n", "expected a mapping"),
    ],
)
def test_bad_yaml_is_explained(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_flags_override_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train: {epochs: 2, logq_correction: true}\neval: {ks: [5]}\n")
    parser = argparse.ArgumentParser()
    add_config_flags(parser, ["train", "eval"])
    args = parser.parse_args(["--config", str(path), "--train.logq_correction", "false", "--eval.ks", "1,3"])
    config = config_from_args(args)
    assert config.train.epochs == 2
    assert config.train.logq_correction is False
    assert config.eval.ks == [1, 3]


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_with_sets_the_dotted_fields_and_keeps_the_other_defaults():
    config = config_with({"train.epochs": 3, "model.disabled_modalities": ["image"]})
    assert config.train.epochs == 3 and config.model.disabled_modalities == ["image"]
    assert config.train.batch_size == RunConfig().train.batch_size
    assert config_with().train.epochs == RunConfig().train.epochs


def test_config_with_refuses_an_unknown_field():
    with pytest.raises(ConfigError, match="did you mean 'train.epochs'"):
        config_with({"train.epoch": 3})
