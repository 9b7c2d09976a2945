"""Incremental training: start a model from an earlier one trained on other data (``train.warm_start``).

A scheduled retrain sees mostly the same items, users and words as the last one, plus some new ones.
Starting from the earlier model instead of from scratch keeps what it learned: each embedding row of
an id, text token or category goes to the same id in the new vocabularies
(``tf.keras.utils.warmstart_embedding_matrix``), ids the earlier model never saw start as a fresh model
would, and every other trainable weight is copied. Non-trainable state (image statistics, the content
prior, the cold calibration) is refitted from the new data, as in any training run. The earlier model is
rebuilt from its own copy of the vocabularies, so its features directory may have been extracted again.
"""

from __future__ import annotations

from pathlib import Path

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tf_keras as keras

from braidrec.features import contract
from braidrec.models import encoders
from braidrec.models.datasets import tower_profiles
from braidrec.models.checkpoint import MODEL_JSON, load_model_alone
from braidrec.models.evaluate import EvalData, item_embeddings, user_embeddings
from braidrec.models.two_tower import BraidModel


def check_warm_start(path: str) -> None:
    """Raises ValueError naming ``train.warm_start`` unless it is empty or a `braid train` output directory."""
    if path and not (Path(path) / MODEL_JSON).is_file():
        raise ValueError(f"--train.warm_start {path}: no {MODEL_JSON} there; pass the --out directory of an earlier "
                         "`braid train`, or leave it empty to start from scratch")


def _build(model: BraidModel, data: EvalData) -> None:
    """Creates every weight the towers have (Keras makes them on first call): the catalogue through the
    item tower, one validation user through the user tower."""
    item_embeddings(model, data.catalogue)
    ids, histories, _, _ = data.warm_task(contract.SPLIT_VAL)
    user_embeddings(model, ids[:1], histories[:1], profiles=tower_profiles(model.user_tower, data.histories, ids[:1]))


def _check_inputs(earlier: contract.Vocabularies, vocab: contract.Vocabularies, earlier_dir: str | Path) -> None:
    """Raises ValueError naming the input whose columns or encoder differ: its weights would keep their shape
    but read other values (numeric columns in another order, another image encoder of the same size)."""
    inputs = {
        "numeric columns": (earlier.numeric_names, vocab.numeric_names),
        "user numeric columns": (earlier.user_numeric_names, vocab.user_numeric_names),
        "image encoder": (earlier.encoders.get("image"), vocab.encoders.get("image")),
        "text encoder": (earlier.encoders.get("text"), vocab.encoders.get("text")),
    }
    for name, (there, here) in inputs.items():
        if there != here:
            raise ValueError(f"--train.warm_start {earlier_dir}: {name} {there} there and {here} here; warm start "
                             "needs the same feature columns and encoders: extract with the earlier settings, or "
                             "train from scratch")


def _vocabulary_tables(model: BraidModel) -> dict[int, list[str]]:
    """id(embedding table) -> the vocabulary that indexes its rows (special tokens included)."""
    tables = {}
    for layer in model.submodules:
        if isinstance(layer, (encoders.IdEncoder, encoders.CategoricalEncoder)):
            tables[id(layer.embedding.embeddings)] = layer.lookup.get_vocabulary()
        elif isinstance(layer, encoders.TextEncoder):
            tables[id(layer.embedding.embeddings)] = layer.vectorize.get_vocabulary()
    return tables


def warm_start(model: BraidModel, vocab: contract.Vocabularies, data: EvalData, earlier_dir: str | Path) -> dict:
    """Sets ``model``'s trainable weights from the model in ``earlier_dir``.

    Args:
        model: a fresh model over this run's vocabularies.
        vocab: those vocabularies.
        data: this run's evaluation data (its catalogue builds the weights).
        earlier_dir: a `braid train` output directory, rebuilt from its own vocabularies.

    Returns:
        ``{"from", "copied", "tables": {name: {"rows", "kept"}}}``: weights copied whole, and per
        vocabulary-indexed table its rows and how many kept an earlier row.

    Raises:
        ValueError: ``earlier_dir`` is no model directory; its numeric columns or encoders differ, naming them;
            or a weight's shape differs (other model settings), naming the weight.
    """
    check_warm_start(str(earlier_dir))
    earlier = load_model_alone(earlier_dir)
    _check_inputs(earlier.vocab, vocab, earlier_dir)
    # This run's data builds the earlier towers too: same columns, and ids it never saw look up as unknown.
    _build(earlier.model, data)
    _build(model, data)
    old_tables, new_tables = _vocabulary_tables(earlier.model), _vocabulary_tables(model)
    old_weights, new_weights = earlier.model.trainable_weights, model.trainable_weights
    if len(old_weights) != len(new_weights):
        raise ValueError(f"--train.warm_start {earlier_dir}: that model has {len(old_weights)} trainable weights and "
                         f"this one {len(new_weights)}; warm start needs the same model settings (see its model.json)")
    out: dict = {"from": str(Path(earlier_dir).resolve()), "copied": 0, "tables": {}}
    for old, new in zip(old_weights, new_weights):
        table = id(new) in new_tables
        # A table may change its row count (its vocabulary); any other weight must keep its shape.
        if table != (id(old) in old_tables) or old.shape[1:] != new.shape[1:] or (not table and old.shape != new.shape):
            raise ValueError(f"--train.warm_start {earlier_dir}: weight {new.name} is {list(old.shape)} there and "
                             f"{list(new.shape)} here; warm start needs the same model settings and feature columns")
        if table:
            rows = keras.utils.warmstart_embedding_matrix(
                old_tables[id(old)], new_tables[id(new)], old, keras.initializers.Constant(new.numpy()))
            new.assign(rows)
            kept = len(set(old_tables[id(old)]) & set(new_tables[id(new)]))
            out["tables"][new.name] = {"rows": int(new.shape[0]), "kept": kept}
        else:
            new.assign(old)
            out["copied"] += 1
    return out

