"""Short training runs over settings that change the loss's shape."""

import json

import numpy as np
import pytest

import tensorflow as tf
import tf_keras as keras
from tensorflow.python.framework import config as tf_config

from braidrec.config import RunConfig, TrainConfig
from braidrec.models.checkpoint import HISTORY_JSON, MODEL_JSON
from braidrec.models.train import optimizer, train


@pytest.mark.parametrize(
    "model_changes, train_changes",
    [
        ({"disabled_modalities": ["text"]}, {"fusion_balance_weight": 0.1}),
        ({"fusion": "concat", "history_pooling": "last"}, {"sampled_negatives": 32, "alignment_weight": 0.5}),
        ({"history_causal": False}, {"examples": "pairs"}),
        ({}, {"weight_ema_epochs": 1.2, "epochs": 2}),
        # SASRec's head (bench/variants.py, sasrec_head).
        ({"scoring": "dot", "history_norm": "pre", "history_pooling": "last"},
         {"temperature": 1.0, "adam_beta2": 0.98, "weight_ema_epochs": 0.0}),
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


def test_weight_ema_copies_the_average_into_the_weights_at_each_epoch_end():
    # Constant gradient 1 makes every Adam step exactly -lr (0.1). A time constant of one 2-step
    # epoch is momentum 1 - 1/2 = 0.5. Epoch 1's weights run -0.1, -0.2 and their average -0.05,
    # -0.125, which replaces them; epoch 2's run -0.225, -0.325 and the average -0.175, -0.25.
    # Plain weights would read -0.2 and -0.4 at the epoch ends.
    model = keras.Sequential([keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=optimizer(TrainConfig(learning_rate=0.1, weight_ema_epochs=1), steps_per_epoch=2),
                  loss=lambda _, predicted: tf.reduce_sum(predicted))
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: seen.append(model.get_weights()[0].item()))
    model.fit(np.ones((2, 1)), np.zeros((2, 1)), batch_size=1, epochs=2, shuffle=False, verbose=0, callbacks=[record])
    assert seen == pytest.approx([-0.125, -0.25], abs=1e-4)


@pytest.mark.parametrize("changes, steps, message", [
    ({"weight_ema_epochs": -0.5}, 10, "weight_ema_epochs"),
    ({"weight_ema_epochs": 1.0}, 0, "weight_ema_epochs"),
    ({"adam_beta2": 1.0}, 10, "adam_beta2"),
])
def test_optimizer_refuses_bad_settings(changes, steps, message):
    with pytest.raises(ValueError, match=message):
        optimizer(TrainConfig(**changes), steps_per_epoch=steps)


def test_adam_beta2_reaches_the_optimizer():
    assert optimizer(TrainConfig(adam_beta2=0.98, weight_ema_epochs=0), steps_per_epoch=5).beta_2 == 0.98


def test_a_seed_gives_the_same_training_run_twice(tiny_run, tmp_path):
    config = RunConfig()
    config.model.embedding_dim = 16
    config.train.epochs, config.train.batch_size, config.train.verbose = 2, 64, 0
    first = train(tiny_run["features"], tmp_path / "first", config)
    second = train(tiny_run["features"], tmp_path / "second", config)
    # Data this small rarely shows it, but multi-threaded kernels sum in a load-dependent order
    # unless TensorFlow runs its deterministic kernels: check they are on, then bit-identical runs.
    assert tf_config.is_op_determinism_enabled()
    assert first["loss"] == second["loss"]
    assert first["val_recall@10"] == second["val_recall@10"]
    config.train.seed = 1
    assert train(tiny_run["features"], tmp_path / "third", config)["loss"] != first["loss"]
