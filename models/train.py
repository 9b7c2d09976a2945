"""``braid train``: fit the two-tower model, early-stopped on a validation metric (``train.selection_metric``)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tf_keras as keras

from braidrec.config import ModelConfig, RunConfig, TrainConfig
from braidrec.features import contract
from braidrec.models import checkpoint, datasets
from braidrec.models.early_stopping import (VAL_METRIC, BestValidationEpoch, check_min_delta, check_selection_window,
                                           effective_patience, plateau_rate_drop, selection_cutoff)
from braidrec.models.evaluate import EvalData
from braidrec.models.evaluate_mixed import fit_cold_calibration
from braidrec.models.warm_start import check_warm_start, warm_start
from braidrec.runtime import prepare_training

EXAMPLES = ("sequence", "pairs")


def check_train_settings(train_config: TrainConfig, model_config: ModelConfig) -> None:
    """The trainer's own settings checks, which need no data (the model's are in its layers).

    Raises:
        ValueError: an unknown ``train.selection_metric`` or ``train.examples``, a negative
            ``train.min_delta`` or patience, sequence examples with a non-causal history, or a
            ``train.warm_start`` that is no model directory.
    """
    selection_cutoff(train_config.selection_metric)
    check_min_delta(train_config.min_delta)
    check_selection_window(train_config.selection_window)
    check_warm_start(train_config.warm_start)
    plateau_rate_drop(train_config)
    for name in ("patience", "warm_start_patience"):
        if getattr(train_config, name) < 0:
            raise ValueError(f"train.{name} {getattr(train_config, name)} must be >= 0 (epochs without a gain before stopping)")
    if train_config.examples not in EXAMPLES:
        raise ValueError(f"train.examples '{train_config.examples}' is not one of {EXAMPLES}")
    if train_config.examples == "sequence" and not model_config.history_causal:
        raise ValueError("train.examples=sequence needs model.history_causal=true (later items would leak); use pairs")


def optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Adam, with an exponential moving average of the weights when ``train.weight_ema_epochs > 0``.

    The average's time constant is ``weight_ema_epochs`` epochs whatever the
    dataset's size (momentum ``1 - 1 / (weight_ema_epochs * steps_per_epoch)``).
    With ``weight_ema_overwrite`` it overwrites the weights on each epoch's
    last step, so the validation after it, early stopping and the saved model
    all use it, and the next epoch trains on from it. Without, training never
    sees it: :class:`BestValidationEpoch` swaps it in to validate, and ``fit``
    leaves it in the weights at the end.

    Args:
        config: ``learning_rate``, ``adam_beta2``, ``weight_ema_epochs`` and ``weight_ema_overwrite``.
        steps_per_epoch: batches per epoch.

    Raises:
        ValueError: ``weight_ema_epochs`` is negative, ``adam_beta2`` outside [0, 1), or the epoch length is unknown.
    """
    if config.weight_ema_epochs < 0:
        raise ValueError(f"train.weight_ema_epochs {config.weight_ema_epochs} must be >= 0 (0 turns the average off)")
    if not 0.0 <= config.adam_beta2 < 1.0:
        raise ValueError(f"train.adam_beta2 {config.adam_beta2} must be in [0, 1)")
    if config.weight_ema_epochs == 0:
        return keras.optimizers.Adam(config.learning_rate, beta_2=config.adam_beta2)
    if steps_per_epoch < 1:
        raise ValueError(f"train.weight_ema_epochs needs the number of batches per epoch, got {steps_per_epoch}")
    momentum = max(0.0, 1.0 - 1.0 / (config.weight_ema_epochs * steps_per_epoch))
    return keras.optimizers.Adam(
        config.learning_rate, beta_2=config.adam_beta2, use_ema=True, ema_momentum=momentum,
        ema_overwrite_frequency=steps_per_epoch if config.weight_ema_overwrite else None,
    )


# The ``model`` fields that act only once the towers are trained (the prior and the calibration are fitted
# after training, the rest acts at inference): towers trained with other values of these alone are the same.
POST_TRAINING_FIELDS = ("cold_prior_weight", "cold_profile_weight", "cold_fusion_temperature", "cold_calibration")


def fit_after_training(model, data: EvalData, catalogue_features: dict, config: ModelConfig, seed: int) -> dict:
    """The steps after the towers: the content prior, then the mixed-ranking calibration.

    Args:
        model: the trained :class:`~braidrec.models.two_tower.BraidModel`.
        data: the features' evaluation data.
        catalogue_features: the catalogue's features with ``text_tokens`` (``ItemTower.pretokenize``).
        config: the ``model`` section (``cold_calibration``; the prior's weight is the tower's).
        seed: the prior's cross-fitting seed (``train.seed``).

    Returns:
        The history entries they add: ``cold_prior`` and ``cold_calibration`` when fitted.
    """
    out = {}
    # The prior reads content only and never enters the retrieval loss.
    prior = model.item_tower.fit_prior(catalogue_features, data.train_counts, seed)
    if prior is not None:
        out["cold_prior"] = dataclasses.asdict(prior)
    # After the prior: the calibration shifts the cold items' scores as served, offsets included.
    model.item_tower.cold_shift.assign(0.0)
    if config.cold_calibration == "catalogue":
        out["cold_calibration"] = fit_cold_calibration(model, data)
    return out


def train(features_dir: str | Path, out_dir: str | Path, config: RunConfig) -> dict:
    """Trains on ``features_dir`` and writes a model directory to ``out_dir`` atomically.

    Args:
        features_dir: output of ``braid extract``.
        out_dir: the model directory to create or replace.
        config: uses its ``model``, ``extract`` and ``train`` sections.

    Returns:
        The training history: per-epoch loss, validation Recall@10 and the selection metric, the best
        epoch and its validation metrics, seconds.

    Raises:
        ValueError: an unknown ``train.selection_metric`` or ``train.examples``, a negative ``train.min_delta``,
            sequence examples with a non-causal history, an empty train split, training data whose batch
            count tf.data cannot tell, or a ``train.op_threads``
            other than the count TensorFlow already runs with (see :func:`braidrec.runtime.set_op_threads`).
    """
    started = time.time()
    # Fails before any work.
    check_train_settings(config.train, config.model)
    features_dir = Path(features_dir)
    prepare_training(config.train.op_threads, config.train.deterministic)
    keras.utils.set_random_seed(config.train.seed)
    data = EvalData.load(features_dir)
    extract = config.extract
    extract.max_history = data.max_history
    model, vocab = checkpoint.build_model(features_dir, config.model, extract, config.train)
    probabilities = datasets.sampling_probabilities(data.catalogue, data.histories)
    if config.train.examples == "sequence":
        users, histories, targets = datasets.sequence_windows(data.histories, data.max_history)
    else:
        users, histories, targets = datasets.next_item_pairs(data.histories, contract.SPLIT_TRAIN, data.max_history)
    if len(targets) == 0:
        raise ValueError(f"{features_dir}: the train split is empty; the dataset needs interactions of warm items")
    catalogue_features = model.item_tower.pretokenize(data.catalogue.features)
    # Training items only, as everything training reads: cold items stay unseen.
    with_image = (np.asarray(data.catalogue.features[contract.HAS_IMAGE]) > 0) & (data.train_counts > 0)
    model.item_tower.image_encoder.set_statistics(np.asarray(data.catalogue.features[contract.IMAGE])[with_image])
    started_from = warm_start(model, vocab, data, config.train.warm_start) if config.train.warm_start else None
    train_data = datasets.retrieval_dataset(
        data.catalogue, users, histories, targets, probabilities, config.train.batch_size, config.train.seed,
        config.train.sampled_negatives, catalogue_features,
        alignment_items=config.train.alignment_items if model.reads_alignment_items else 0,
        # Cold items stay out of sampled negatives and alignment: training must not see them,
        # so cold recall and their cross-modal retrieval measure generalisation, not memory.
        sample_rows=np.flatnonzero(data.train_counts > 0),
        profiles=datasets.tower_profiles(model.user_tower, data.histories, users),
        alignment_negatives=model.alignment_negatives,
    )
    steps_per_epoch = int(train_data.cardinality())
    if steps_per_epoch < 1:
        # The repeated data would never end an epoch.
        raise ValueError(f"{features_dir}: the training data's batch count is unknown ({steps_per_epoch})")
    model.compile(optimizer=optimizer(config.train, steps_per_epoch))
    validation = BestValidationEpoch(data, config.train.selection_metric, effective_patience(config.train),
                                     config.train.min_delta, config.train.selection_window)
    # One iterator over the repeated data, not a new one per epoch: on a 2-core AMD VM about half
    # the epochs otherwise waited 7-9 s at the epoch change with the CPU idle (models/README.md, "Training").
    # The shuffle still reshuffles on each pass, and an epoch is still one pass.
    # After validation, which logs the metric the rate drop watches.
    callbacks = [validation] + [c for c in [plateau_rate_drop(config.train)] if c is not None]
    fit = model.fit(train_data.repeat(), steps_per_epoch=steps_per_epoch, epochs=config.train.epochs,
                    callbacks=callbacks, verbose=config.train.verbose)
    after = fit_after_training(model, data, catalogue_features, config.model, config.train.seed)
    history = {
        "loss": [float(v) for v in fit.history.get("loss", [])],
        VAL_METRIC: [float(v) for v in fit.history.get(VAL_METRIC, [])],
        "selection_metric": validation.metric,
        "val_" + validation.metric: [float(v) for v in fit.history.get("val_" + validation.metric, [])],
        # Per epoch when train.lr_plateau_patience is on (the rate drop logs it), else empty.
        "learning_rate": [float(v) for v in fit.history.get("lr", [])],
        "best_epoch": validation.best_epoch + 1,
        "patience": validation.patience,
        "selection_window": validation.window,
        # The best epoch's validation metrics, Recall@10 whatever the selection metric.
        "best_val": validation.best_metrics,
        # Fitting time until the best epoch's validation finished (setup and the later epochs excluded).
        "seconds_to_best_epoch": round(validation.seconds_to_best, 1),
        "train_examples": int((targets != contract.PAD).sum()),
        "warm_start": started_from,
        "seconds": round(time.time() - started, 1),
    }
    history.update(after)
    trained = checkpoint.TrainedModel(model, vocab, features_dir, config.model, extract, config.train)
    checkpoint.save_model_dir(out_dir, trained, history)
    return history

