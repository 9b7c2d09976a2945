"""Short training runs over settings that change the loss's shape."""

import json

import numpy as np
import pytest

from braidrec.config import RunConfig
from braidrec.models.checkpoint import HISTORY_JSON, MODEL_JSON
from braidrec.models.train import train


@pytest.mark.parametrize(
    "model_changes, train_changes",
    [
        ({"disabled_modalities": ["text"]}, {}),
        ({"fusion": "concat", "history_pooling": "last"}, {"sampled_negatives": 32, "alignment_weight": 0.5}),
        ({"history_causal": False}, {"examples": "pairs"}),
    ],
)
def test_training_variants_run_and_save(tiny_run, tmp_path, model_changes, train_changes):
    config = RunConfig()
    config.model.embedding_dim = 16
    for key, value in model_changes.items():
        setattr(config.model, key, value)
    config.train.epochs, config.train.batch_size, config.train.verbose = 1, 128, 0
    for key, value in train_changes.items():
        setattr(config.train, key, value)
    history = train(tiny_run["features"], tmp_path / "model", config)
    assert np.isfinite(history["loss"]).all()
    assert 0 <= history["best_val_recall@10"] <= 1
    assert 0 < history["seconds_to_best_epoch"] <= history["seconds"]
    saved = json.loads((tmp_path / "model" / MODEL_JSON).read_text())
    assert saved["model"]["disabled_modalities"] == config.model.disabled_modalities
    assert (tmp_path / "model" / HISTORY_JSON).is_file()


def test_sequence_examples_refuse_non_causal_history(tiny_run, tmp_path):
    config = RunConfig()
    config.model.history_causal = False
    with pytest.raises(ValueError, match="history_causal"):
        train(tiny_run["features"], tmp_path / "model", config)
