"""``braid export``: a SavedModel in TF Serving's layout, ``BASE/NAME/<version>/``.

The version directory is written under a hidden temporary name inside
``BASE/NAME`` and renamed when complete; TF Serving only loads integer-named
directories, so it never sees a half-written version.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.models.checkpoint import load_model_dir
from braidrec.models.datasets import pad_histories
from braidrec.models.evaluate import EvalData, item_embeddings
from braidrec.pipeline.fileutil import temp_dir_beside
from braidrec.serving.module import RetrievalModule


def next_version(model_base: Path) -> int:
    """One more than the largest integer version directory under ``model_base`` (1 if none)."""
    versions = [int(p.name) for p in model_base.glob("*") if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def build_module(model_dir: str | Path, k: int, features_dir: str | Path | None = None) -> RetrievalModule:
    """Restores a trained model and wraps it with the catalogue and user histories."""
    trained = load_model_dir(model_dir, features_dir)
    data = EvalData.load(trained.features_dir)
    embeddings, _ = item_embeddings(trained.model, data.catalogue)
    users = data.histories
    histories = pad_histories([u.items for u in users], data.max_history)
    known_rows = [[data.index[i] for i in u.items] for u in users]
    width = max([len(r) for r in known_rows] + [1])
    known = np.full((len(users), width), -1, dtype=np.int32)
    for row, items in enumerate(known_rows):
        known[row, : len(items)] = items
    return RetrievalModule(
        trained.model.user_tower,
        data.catalogue.item_ids,
        embeddings,
        [u.user_id for u in users],
        histories,
        known,
        k,
    )


def save_module(module: RetrievalModule, export_base: str | Path, name: str) -> Path:
    """Saves ``module`` as the next version of ``export_base/name``; returns the version dir."""
    model_base = Path(export_base) / name
    model_base.mkdir(parents=True, exist_ok=True)
    work = temp_dir_beside(model_base / "version")
    try:
        signatures = {
            "serving_default": module.serve,
            "recommend_candidates": module.recommend_candidates,
        }
        tf.saved_model.save(module, str(work / "model"), signatures=signatures)
        target = model_base / str(next_version(model_base))
        os.rename(work / "model", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def export(model_dir: str | Path, export_base: str | Path, name: str, k: int, features_dir: str | Path | None = None) -> Path:
    """Exports a trained model directory for TF Serving.

    Args:
        model_dir: output of ``braid train``.
        export_base: the model base path TF Serving watches.
        name: the model name (``/v1/models/NAME``).
        k: items returned by ``serving_default``.
        features_dir: overrides the features directory recorded in the model.

    Returns:
        The new version directory ``export_base/name/<version>``.
    """
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"export name {name!r} must be a plain directory name, e.g. --name braidrec")
    return save_module(build_module(model_dir, k, features_dir), export_base, name)


def load_servable(version_dir: str | Path):
    """Loads an exported version (``tf.saved_model.load``)."""
    path = Path(version_dir)
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"{path}: no saved_model.pb; pass EXPORT_BASE/NAME/<version> written by `braid export`")
    return tf.saved_model.load(str(path))

