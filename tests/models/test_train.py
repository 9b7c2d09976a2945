"""Short training runs over settings that change the loss's shape."""

import json

import numpy as np
import pytest

import tensorflow as tf
import tf_keras as keras
from tensorflow.python.framework import config as tf_config

from braidrec.config import RunConfig, TrainConfig
from braidrec.features import contract
from braidrec.models.checkpoint import HISTORY_JSON, MODEL_JSON, load_model_dir
from braidrec.models.evaluate import EvalData
from braidrec.models import early_stopping
from braidrec.models.early_stopping import BestValidationEpoch, selection_cutoff
from braidrec.models.train import optimizer, train


@pytest.mark.parametrize(
    "model_changes, train_changes",
    [
        ({"disabled_modalities": ["text"]}, {"fusion_balance_weight": 0.1, "alignment_negatives": True}),
        ({"fusion": "concat", "history_pooling": "last"}, {"sampled_negatives": 32, "alignment_weight": 0.5}),
        ({"history_causal": False}, {"examples": "pairs"}),
        # The weight average kept aside; the hand-computed tests below cover both modes.
        ({}, {"weight_ema_epochs": 1.2, "weight_ema_overwrite": False, "epochs": 2, "selection_metric": "ndcg@20",
              "lr_plateau_patience": 1, "selection_window": 2}),
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
    assert history["selection_metric"] == config.train.selection_metric
    assert 0 <= history["best_val"][config.train.selection_metric] <= 1
    assert 0 <= history["best_val"]["recall@10"] <= 1
    assert len(history["val_" + config.train.selection_metric]) == len(history["loss"])
    if config.train.lr_plateau_patience:
        assert len(history["learning_rate"]) == len(history["loss"])
        assert history["learning_rate"][0] == pytest.approx(config.train.learning_rate)
    assert 0 < history["seconds_to_best_epoch"] <= history["seconds"]
    saved = json.loads((tmp_path / "model" / MODEL_JSON).read_text())
    assert saved["model"]["disabled_modalities"] == config.model.disabled_modalities
    assert (tmp_path / "model" / HISTORY_JSON).is_file()


def test_image_statistics_come_from_the_training_items_and_are_saved(tiny_run, tmp_path):
    config = RunConfig()
    config.model.embedding_dim, config.model.image_normalization = 16, "catalogue"
    config.train.epochs, config.train.batch_size, config.train.verbose = 1, 128, 0
    train(tiny_run["features"], tmp_path / "model", config)
    encoder = load_model_dir(tmp_path / "model").model.item_tower.image_encoder
    assert encoder.per_feature
    data = EvalData.load(tiny_run["features"])
    images = np.asarray(data.catalogue.features[contract.IMAGE])
    with_image = np.asarray(data.catalogue.features[contract.HAS_IMAGE]) > 0
    warm = with_image & (data.train_counts > 0)
    # Cold items' images are left out: the statistics of every item would differ.
    assert not np.allclose(images[warm].mean(axis=0), images[with_image].mean(axis=0))
    np.testing.assert_allclose(encoder.feature_mean.numpy(), images[warm].mean(axis=0), rtol=1e-5, atol=1e-6)
    spread = images[warm].std(axis=0)
    np.testing.assert_allclose(encoder.feature_std.numpy(), np.where(spread > 1e-6, spread, 1.0), rtol=1e-5, atol=1e-6)


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
    config = TrainConfig(learning_rate=0.1, weight_ema_epochs=1, weight_ema_overwrite=True)
    model.compile(optimizer=optimizer(config, steps_per_epoch=2),
                  loss=lambda _, predicted: tf.reduce_sum(predicted))
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: seen.append(model.get_weights()[0].item()))
    model.fit(np.ones((2, 1)), np.zeros((2, 1)), batch_size=1, epochs=2, shuffle=False, verbose=0, callbacks=[record])
    assert seen == pytest.approx([-0.125, -0.25], abs=1e-4)


def test_a_weight_average_kept_aside_is_validated_and_kept_but_never_trained_on(monkeypatch):
    # As above, but the average never replaces the weights: they run -0.1, -0.2 | -0.3, -0.4 and the
    # average (momentum 0.5) -0.05, -0.125 | -0.2125, -0.30625. Validation must read the average, the
    # next epoch must start from the training weights, and the best epoch's average is what remains.
    model = keras.Sequential([keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    config = TrainConfig(learning_rate=0.1, weight_ema_epochs=1, weight_ema_overwrite=False)
    model.compile(optimizer=optimizer(config, steps_per_epoch=2), loss=lambda _, predicted: tf.reduce_sum(predicted))
    validated = []

    def scripted(model, data, ks, split, cold):
        validated.append(model.get_weights()[0].item())
        return {"warm": {"recall@10": 0.5 - len(validated) / 10, "recall@50": 0.5 - len(validated) / 10, "users": 1}}

    monkeypatch.setattr(early_stopping, "model_metrics", scripted)
    trained = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: trained.append(model.get_weights()[0].item()))
    callback = BestValidationEpoch(data=None, metric="recall@50", patience=5)
    model.fit(np.ones((2, 1)), np.zeros((2, 1)), batch_size=1, epochs=2, shuffle=False, verbose=0,
              callbacks=[callback, record])
    assert validated == pytest.approx([-0.125, -0.30625], abs=1e-4)
    assert trained == pytest.approx([-0.2, -0.4], abs=1e-4)
    assert model.get_weights()[0].item() == pytest.approx(-0.125, abs=1e-4)  # epoch 1 validated best


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


# Validation (recall@10, recall@20) per epoch: Recall@10 peaks at epoch 1, Recall@20 at epoch 2, and
# Recall@20 then creeps up by 0.003 and 0.001 (epochs 4, 5).
SCRIPTED_VALIDATION = [(0.30, 0.40), (0.20, 0.50), (0.25, 0.45), (0.26, 0.503), (0.27, 0.504), (0.28, 0.49),
                       (0.29, 0.48)]


def _script_validation(monkeypatch, metric: str) -> None:
    """Makes validation return SCRIPTED_VALIDATION's rows, one per epoch, checking it asks for ``metric``'s cutoff."""
    epoch_of_call = iter(range(len(SCRIPTED_VALIDATION)))

    def scripted(model, data, ks, split, cold):
        assert selection_cutoff(metric) in ks and 10 in ks
        r10, r20 = SCRIPTED_VALIDATION[next(epoch_of_call)]
        return {"warm": {"recall@10": r10, "recall@20": r20, "ndcg@10": 0.0, "users": 5}}

    monkeypatch.setattr(early_stopping, "model_metrics", scripted)


@pytest.mark.parametrize("metric, min_delta, window, best_epoch, epochs_run", [
    ("recall@10", 0.0, 1, 0, 3),
    ("recall@20", 0.0, 1, 4, 7),
    # Epoch 4's 0.503 beats 0.50 by more than 0.002, epoch 5's 0.504 does not beat 0.503 by that.
    ("recall@20", 0.002, 1, 3, 6),
    # Neither beats epoch 2's 0.50 by more than 0.01: epoch 2 stays the best, patience counts from it.
    ("recall@20", 0.01, 1, 1, 4),
    # Means over 3 epochs: 0.40 0.45 0.45 0.4843 0.4857 0.499 0.4913: epoch 6 (0.49 alone) after the run
    # 0.503, 0.504, 0.49 beats epoch 5 (0.504 alone), whose run began with epoch 3's dip.
    ("recall@20", 0.0, 3, 5, 7),
])
def test_the_selection_metric_picks_the_epoch_and_stops_after_patience(monkeypatch, metric, min_delta, window,
                                                                        best_epoch, epochs_run):
    _script_validation(monkeypatch, metric)
    model = keras.Sequential([keras.layers.Dense(1, use_bias=False, input_shape=(1,))])
    callback = BestValidationEpoch(data=None, metric=metric, patience=2, min_delta=min_delta, window=window)
    callback.set_model(model)
    callback.on_train_begin()
    run = 0
    while not model.stop_training and run < len(SCRIPTED_VALIDATION):
        model.set_weights([np.full((1, 1), float(run))])  # the weights say which epoch made them
        callback.on_epoch_end(run, logs={})
        run += 1
    callback.on_train_end()
    assert (callback.best_epoch, run) == (best_epoch, epochs_run)
    assert callback.best_metrics["recall@10"] == SCRIPTED_VALIDATION[best_epoch][0]
    assert model.get_weights()[0].item() == best_epoch


def test_a_negative_min_delta_is_refused_before_any_work(tmp_path):
    config = RunConfig()
    config.train.min_delta = -0.001
    # The features directory does not exist: the refusal must come before anything reads it.
    with pytest.raises(ValueError, match="train.min_delta -0.001 must be >= 0"):
        train(tmp_path / "no_features", tmp_path / "model", config)
    with pytest.raises(ValueError, match="train.min_delta -0.001 must be >= 0"):
        BestValidationEpoch(data=None, metric="recall@50", patience=2, min_delta=-0.001)


@pytest.mark.parametrize("metric", ["recall", "recall@0", "recall@ten", "mrr@10", "precision@5"])
def test_selection_metric_refuses_what_it_cannot_compute(metric, tiny_run, tmp_path):
    with pytest.raises(ValueError, match="recall@K or ndcg@K"):
        selection_cutoff(metric)
    config = RunConfig()
    config.train.selection_metric = metric
    with pytest.raises(ValueError, match="train.selection_metric"):
        train(tiny_run["features"], tmp_path / "model", config)


@pytest.mark.parametrize("lr_patience, factor, window, rates", [
    # recall@20 by epoch: 0.40 0.50 0.45 0.503 0.504 0.49 0.48 with a least gain of 0.002: epoch 3 has no gain
    # over epoch 2, epoch 4 gains, and epochs 5-7 have none (epoch 5's 0.504 is no gain over 0.503). Each
    # epoch logs the rate it ran at; a drop at an epoch's end shows from the next.
    (2, 0.5, 1, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]),
    (1, 0.25, 1, [1.0, 1.0, 1.0, 0.25, 0.25, 0.0625, 0.015625]),
    # The drop watches the score epochs are judged by: means of two epochs, 0.40 0.45 0.475 0.4765 0.5035
    # 0.497 0.485, so epochs 2, 3 and 5 gain and 4, 6 and 7 do not.
    (1, 0.25, 2, [1.0, 1.0, 1.0, 1.0, 0.25, 0.25, 0.0625]),
])
def test_the_learning_rate_drops_after_a_plateau_of_the_selection_score(monkeypatch, lr_patience, factor, window, rates):
    _script_validation(monkeypatch, "recall@20")
    settings = TrainConfig(selection_metric="recall@20", min_delta=0.002, lr_plateau_patience=lr_patience,
                           lr_plateau_factor=factor, selection_window=window)
    model = keras.Sequential([keras.layers.Dense(1, use_bias=False, input_shape=(1,))])
    model.compile(optimizer=keras.optimizers.Adam(1.0), loss="mse")
    callbacks = [BestValidationEpoch(data=None, metric="recall@20", patience=99, min_delta=settings.min_delta,
                                     window=window),
                 early_stopping.plateau_rate_drop(settings)]
    seen = []
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    for epoch in range(len(SCRIPTED_VALIDATION)):
        logs = {}
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs=logs)
        seen.append(float(logs["lr"]))
    assert seen == pytest.approx(rates)


@pytest.mark.parametrize("changes, message", [
    ({"lr_plateau_patience": -1}, "train.lr_plateau_patience -1 must be >= 0"),
    ({"lr_plateau_patience": 2, "lr_plateau_factor": 1.0}, r"train.lr_plateau_factor 1.0 must be in \(0, 1\)"),
    ({"lr_plateau_factor": 0.0}, r"train.lr_plateau_factor 0.0 must be in \(0, 1\)"),
    ({"selection_window": 0}, "train.selection_window 0 must be >= 1"),
])
def test_bad_plateau_and_window_settings_are_refused_before_any_work(tmp_path, changes, message):
    config = RunConfig()
    for key, value in changes.items():
        setattr(config.train, key, value)
    assert early_stopping.plateau_rate_drop(TrainConfig()) is None
    with pytest.raises(ValueError, match=message):
        train(tmp_path / "no_features", tmp_path / "model", config)
