"""The pre-flight: every stage's settings checks, run before any stage and without data."""

from __future__ import annotations

from pathlib import Path

import pytest

from braidrec.config_loader import config_with, load_config
from braidrec.features import contract
from braidrec.models.preflight import check_settings, stand_in_vocabulary
from braidrec.models.two_tower import BraidModel
from braidrec.pipeline import cli
from braidrec.pipeline.encoders import describe_encoders

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_pass(path):
    config = load_config(path)
    # Extraction reuses what the pre-flight resolved instead of loading a model-path encoder again.
    assert check_settings(config) == describe_encoders(config.extract)


# One setting per layer that refuses it, each with the setting's name in the message.
BAD_SETTINGS = [
    ({"model.fusion": "bogus"}, "model.fusion"),
    ({"model.image_clip": 5.0}, "model.image_clip"),
    ({"model.disabled_modalities": ["imgae"]}, "imgae"),
    ({"model.history_pooling": "max"}, "model.history_pooling"),
    ({"model.cold_profile_weight": 2.0}, "model.cold_profile_weight"),
    ({"model.cold_prior_weight": -1.0}, "model.cold_prior_weight"),
    ({"model.id_dropout": 0.0}, "model.id_dropout"),
    ({"train.selection_metric": "mrr@10"}, "train.selection_metric"),
    ({"train.examples": "sequence", "model.history_causal": False}, "train.examples=sequence"),
    ({"train.adam_beta2": 1.0}, "train.adam_beta2"),
    ({"model.scoring": "dot", "train.sampled_negatives": 64}, "train.sampled_negatives"),
    ({"train.op_threads": -1}, "train.op_threads"),
    ({"extract.image_encoder": "/nonexistent/encoder.keras"}, "extract.image_encoder"),
    ({"extract.text_encoder": "/nonexistent/text_model"}, "extract.text_encoder"),
    ({"extract.bad_records": "skip"}, "extract.bad_records"),
    ({"eval.ks": [10, 0]}, "eval.ks"),
    ({"eval.batch_size": 0}, "eval.batch_size"),
    ({"export.name": "a/b"}, "export name"),
    ({"export.k": 0}, "export k"),
    ({"export.index": "hnsw"}, "export.index"),
    ({"export.index_nprobe": 0}, "export.index_nprobe"),
    ({"recommend.k": -5}, "recommend k"),
    ({"recommend.batch_size": 0}, "recommend.batch_size"),
]


@pytest.mark.parametrize("overrides,named", BAD_SETTINGS, ids=[named for _, named in BAD_SETTINGS])
def test_bad_settings_are_refused(overrides, named):
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        check_settings(config_with(overrides))


@pytest.mark.parametrize("text_embedding_dim,expected", [
    (0, ["id", "text", "image", "categorical", "numeric"]),
    (384, ["id", "text", "image", "text_pretrained", "categorical", "numeric"]),
])
def test_stand_in_has_every_modality(text_embedding_dim, expected):
    config = config_with({"model.user_features": True})
    vocab = stand_in_vocabulary(contract.IMAGE_DESCRIPTOR_DIM, text_embedding_dim)
    model = BraidModel(vocab, config.model, config.extract, config.train)
    assert list(model.item_tower.modalities) == expected
    # Its user tower builds the profile encoders too, so their settings are checked as well.
    assert model.user_tower.reads_profile


def test_braid_run_refuses_before_any_stage(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["run", "--out", str(out), "--model.fusion", "mean"]) == 1
    assert "model.fusion" in capsys.readouterr().err
    # Nothing generated, extracted or written: the run directory was never made.
    assert not out.exists()
