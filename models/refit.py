"""A trained model's towers with other post-training settings, without training again.

The content prior's weight, the taste profile's weight, the cold fusion
temperature and the mixed-ranking calibration (``train.POST_TRAINING_FIELDS``)
never touch the towers' training, so a model trained with other values of
them alone has the very same towers. :func:`refit` takes a trained model
directory, keeps its towers and redoes only what comes after them, so a
benchmark row that changes only those settings costs seconds instead of a
training run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.config import ModelConfig
from braidrec.features import contract
from braidrec.models import checkpoint
from braidrec.models.datasets import tower_profiles
from braidrec.models.evaluate import EvalData, user_embeddings
from braidrec.models.train import POST_TRAINING_FIELDS, fit_after_training
from braidrec.runtime import prepare_training


def towers_differ(trained: ModelConfig, wanted: ModelConfig) -> list[str]:
    """The ``model`` fields, other than :data:`POST_TRAINING_FIELDS`, in which two configurations differ."""
    return [field.name for field in dataclasses.fields(ModelConfig)
            if field.name not in POST_TRAINING_FIELDS and getattr(trained, field.name) != getattr(wanted, field.name)]


def refit(base_dir: str | Path, out_dir: str | Path, model_config: ModelConfig) -> dict:
    """Writes ``out_dir``: ``base_dir``'s towers with ``model_config``'s post-training settings.

    Its history is the base's (epochs, best epoch, seconds: the towers' training), with the
    prior and calibration fitted here and ``refit_from`` naming the base.

    Args:
        base_dir: a ``braid train`` model directory.
        out_dir: the model directory to create or replace (atomically).
        model_config: the wanted ``model`` section.

    Returns:
        The new model directory's history.

    Raises:
        FileNotFoundError: ``base_dir`` is not a model directory.
        ValueError: ``model_config`` differs from the base's in a field that shapes the towers;
            train it instead.
    """
    base_dir = Path(base_dir)
    base = checkpoint.load_model_dir(base_dir)
    differ = towers_differ(base.model_config, model_config)
    if differ:
        raise ValueError(f"{base_dir} was trained with other model.{', model.'.join(differ)}; only "
                         f"{', '.join('model.' + f for f in POST_TRAINING_FIELDS)} can change without training: train it")
    # As training ran: the same threads and kernels, so the fits below reproduce a training run's.
    prepare_training(base.train_config.op_threads, base.train_config.deterministic)
    model, vocab = checkpoint.build_model(base.features_dir, model_config, base.extract_config, base.train_config)
    # A prior the base has and this model lacks (weight 0) is left unread.
    model.load_weights(str(base_dir / checkpoint.WEIGHTS)).expect_partial()
    data = EvalData.load(base.features_dir)
    catalogue_features = model.item_tower.pretokenize(data.catalogue.features)
    # One pass through each tower creates every variable, so the checkpoint's values land before the fits
    # overwrite the prior's, and all of them are saved below (an uncreated variable is not).
    model.item_tower.encode_all({k: tf.constant(v[:1]) for k, v in catalogue_features.items()})
    ids, histories, _, _ = data.warm_task(contract.SPLIT_VAL)
    user_embeddings(model, ids[:1], histories[:1], profiles=tower_profiles(model.user_tower, data.histories, ids[:1]))
    history = json.loads((base_dir / checkpoint.HISTORY_JSON).read_text())
    for fitted in ("cold_prior", "cold_calibration"):
        history.pop(fitted, None)
    history.update(fit_after_training(model, data, catalogue_features, model_config, base.train_config.seed))
    history["refit_from"] = str(base_dir.resolve())
    trained = checkpoint.TrainedModel(model, vocab, base.features_dir, model_config, base.extract_config, base.train_config)
    checkpoint.save_model_dir(out_dir, trained, history)
    return history
