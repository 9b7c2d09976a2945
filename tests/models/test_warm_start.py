"""Incremental training: an earlier model's rows go to the same ids of new vocabularies."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from braidrec.config import ModelConfig, TrainConfig
from braidrec.features import contract
from braidrec.models import checkpoint
from braidrec.models.checkpoint import HISTORY_JSON, MODEL_JSON, load_model_dir
from braidrec.models.evaluate import EvalData
from braidrec.models.early_stopping import effective_patience
from braidrec.models.train import check_train_settings
from braidrec.models.warm_start import _build, _check_inputs, check_warm_start, warm_start
from tests.conftest import TINY_TRAIN, braid


@pytest.fixture(scope="module")
def other_split(tiny_run, tmp_path_factory):
    """The tiny dataset extracted again with other cold items, so other item and token vocabularies."""
    out = tmp_path_factory.mktemp("warm_start") / "features"
    braid("extract", "--data", tiny_run["data"], "--out", out, "--extract.num_shards", "1", "--extract.split_seed", "1")
    return out


def _fresh(earlier, features, **model_changes):
    """A fresh model over ``features`` with the earlier one's settings, and its vocabularies."""
    model_config = dataclasses.replace(earlier.model_config, **model_changes)
    return checkpoint.build_model(features, model_config, earlier.extract_config, earlier.train_config)


def _table(encoder):
    lookup = getattr(encoder, "lookup", None) or encoder.vectorize
    return lookup.get_vocabulary(), encoder.embedding.embeddings.numpy()


@pytest.mark.parametrize("earlier_features", ["kept", "extracted_again"])
def test_rows_follow_their_ids_and_every_other_weight_is_copied(tiny_run, other_split, tmp_path, earlier_features):
    earlier_dir = tiny_run["model"]
    if earlier_features == "extracted_again":
        # Tonight's extraction replaced last night's features in place: the model's own vocabularies remain.
        earlier_dir = tmp_path / "model"
        shutil.copytree(tiny_run["model"], earlier_dir)
        meta = json.loads((earlier_dir / MODEL_JSON).read_text())
        (earlier_dir / MODEL_JSON).write_text(json.dumps({**meta, "features_dir": str(other_split)}))
    model, vocab = _fresh(load_model_dir(tiny_run["model"]), other_split)
    out = warm_start(model, vocab, EvalData.load(other_split), earlier_dir)
    earlier = load_model_dir(tiny_run["model"])
    _build(earlier.model, EvalData.load(tiny_run["features"]))  # Keras makes the weights on first call

    for name in ("id_encoder", "text_encoder"):
        (old_keys, old_rows), (new_keys, new_rows) = (_table(getattr(m.item_tower, name)) for m in (earlier.model, model))
        shared, new_only = set(old_keys) & set(new_keys), set(new_keys) - set(old_keys)
        assert len(shared) > 10 and (new_only or name == "text_encoder")
        for key in shared:
            np.testing.assert_array_equal(new_rows[new_keys.index(key)], old_rows[old_keys.index(key)])
        # An id the earlier model never saw starts as a fresh model's: no earlier row.
        for key in new_only:
            assert not np.isclose(old_rows, new_rows[new_keys.index(key)]).all(axis=1).any()
    np.testing.assert_array_equal(model.item_tower.output_projection.kernel.numpy(),
                                  earlier.model.item_tower.output_projection.kernel.numpy())
    id_table = out["tables"][model.item_tower.id_encoder.embedding.embeddings.name]
    assert id_table["kept"] < id_table["rows"] and out["copied"] > 20


def test_training_starts_from_the_earlier_model_and_says_so(tiny_run, other_split, tmp_path):
    braid("train", "--features", other_split, "--out", tmp_path / "model", *TINY_TRAIN,
          "--train.warm_start", tiny_run["model"])
    history = json.loads((tmp_path / "model" / HISTORY_JSON).read_text())
    assert history["warm_start"]["from"] == str(Path(tiny_run["model"]).resolve())
    assert history["warm_start"]["copied"] > 20
    assert history["patience"] == TrainConfig().warm_start_patience


@pytest.mark.parametrize("warm_start, warm_start_patience, expected", [
    ("", 4, 8), ("EARLIER", 4, 4), ("EARLIER", 0, 8),
])
def test_a_warm_started_training_waits_its_own_patience(warm_start, warm_start_patience, expected):
    config = TrainConfig(patience=8, warm_start=warm_start, warm_start_patience=warm_start_patience)
    assert effective_patience(config) == expected


@pytest.mark.parametrize("field", ["patience", "warm_start_patience"])
def test_a_negative_patience_is_refused(field):
    with pytest.raises(ValueError, match=f"train.{field} -1 must be >= 0"):
        check_train_settings(TrainConfig(**{field: -1}), ModelConfig())


def test_other_model_settings_are_refused_naming_the_weight(tiny_run, other_split):
    model, vocab = _fresh(load_model_dir(tiny_run["model"]), other_split, embedding_dim=16)
    with pytest.raises(ValueError, match="warm start needs the same model settings"):
        warm_start(model, vocab, EvalData.load(other_split), tiny_run["model"])


@pytest.mark.parametrize("field, changed", [
    ("numeric_names", lambda names: names[::-1]),
    ("encoders", lambda encoders: {**encoders, "image": {**encoders["image"], "signature": "other"}}),
])
def test_other_feature_columns_or_encoders_are_refused_naming_them(tiny_run, field, changed):
    vocab = contract.Vocabularies.load(tiny_run["features"])
    assert len(vocab.numeric_names) > 1
    _check_inputs(vocab, vocab, "EARLIER")
    other = dataclasses.replace(vocab, **{field: changed(getattr(vocab, field))})
    with pytest.raises(ValueError, match="--train.warm_start EARLIER: .* there and .* here; warm start needs the same"):
        _check_inputs(vocab, other, "EARLIER")


def test_a_warm_start_that_is_no_model_directory_is_refused(tmp_path):
    check_warm_start("")
    with pytest.raises(ValueError, match="--train.warm_start .* no model.json"):
        check_warm_start(str(tmp_path))
