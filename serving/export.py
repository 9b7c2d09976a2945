"""``braid export``: a SavedModel in TF Serving's layout, ``BASE/NAME/<version>/``.

The version directory is written under a hidden temporary name inside
``BASE/NAME`` and renamed when complete; TF Serving only loads integer-named
directories, so it never sees a half-written version. The version holds the
warm-up requests (``assets.extra``) and ``BASE/models.config`` is rewritten.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.config import ExportConfig
from braidrec.models.checkpoint import load_model_dir
from braidrec.models.datasets import pad_histories, tower_profiles
from braidrec.models.evaluate import EvalData, item_embeddings
from braidrec.pipeline.fileutil import temp_dir_beside
from braidrec.serving.index import BruteForceIndex
from braidrec.serving.model_config import write_model_config
from braidrec.serving.module import RetrievalModule, ServingData
from braidrec.serving.partitioned import PartitionedIndex
from braidrec.serving.warmup import write_warmup

INDEXES = ("brute_force", "partitioned")
EXPLAIN_PRECISIONS = ("float32", "float16")
# Parts above this size are worth a word: a server holds them in memory beside the embeddings.
EXPLAIN_WARN_BYTES = 2**30


def next_version(model_base: Path) -> int:
    """One more than the largest integer version directory under ``model_base`` (1 if none)."""
    versions = [int(p.name) for p in model_base.glob("*") if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def serving_data(model, data: EvalData, explain: bool = True, explain_precision: str = "float32") -> ServingData:
    """The catalogue embeddings and known users of a trained model (see :class:`ServingData`);
    with ``explain``, each item's per-modality parts too (``export.explain``), stored in
    ``explain_precision`` (one of :data:`EXPLAIN_PRECISIONS`)."""
    catalogue = item_embeddings(model, data.catalogue, with_parts=explain)
    parts = catalogue.parts
    if parts is not None:
        parts = parts._replace(parts=parts.parts.astype(explain_precision))
    users = data.histories
    known_rows = [[data.index[i] for i in u.items] for u in users]
    known = np.full((len(users), max([len(r) for r in known_rows] + [1])), -1, dtype=np.int32)
    for row, items in enumerate(known_rows):
        known[row, : len(items)] = items
    return ServingData(
        item_ids=data.catalogue.item_ids,
        item_embeddings=catalogue.embeddings,
        item_weights=catalogue.weights,
        item_offsets=catalogue.offsets,
        item_has_id=catalogue.has_id,
        cold_profile_weight=model.cold_profile_weight,
        modalities=list(model.item_tower.modalities),
        user_ids=np.array([u.user_id for u in users], dtype=object),
        user_histories=pad_histories([u.items for u in users], data.max_history),
        known_items=known,
        user_profiles=tower_profiles(model.user_tower, users, np.array([u.user_id for u in users])),
        item_parts=parts,
    )


def check_index_settings(config: ExportConfig) -> None:
    """Raises ValueError for an unknown ``export.index`` or partitioned-index settings out of range."""
    if config.index not in INDEXES:
        raise ValueError(f"--export.index {config.index!r}: use 'brute_force' or 'partitioned'")
    if config.index_cells < 0:
        raise ValueError(f"--export.index_cells {config.index_cells} must be >= 0 (0: about 2 * sqrt(items))")
    if config.index_nprobe < 1:
        raise ValueError(f"--export.index_nprobe {config.index_nprobe} must be >= 1 (cells searched per query)")


def check_explain_settings(config: ExportConfig) -> None:
    """Raises ValueError for an ``export.explain_precision`` not in :data:`EXPLAIN_PRECISIONS`."""
    if config.explain_precision not in EXPLAIN_PRECISIONS:
        raise ValueError(f"--export.explain_precision {config.explain_precision!r}: use 'float32' or 'float16' "
                         "(half the bytes for the explain signature's parts)")


def check_export_settings(name: str, k: int, config: ExportConfig) -> None:
    """Raises what :func:`export` would raise for its settings, before any work.

    Raises:
        ValueError: ``name`` is not a plain directory name, ``k`` < 1, or as :func:`check_index_settings`
            and :func:`check_explain_settings`.
    """
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"export name {name!r} must be a plain directory name, e.g. --name braidrec")
    if k < 1:
        raise ValueError(f"export k {k} must be >= 1 (items the fixed-k signatures return), e.g. --k 100")
    check_index_settings(config)
    check_explain_settings(config)


def make_index(data: ServingData, config: ExportConfig):
    """The top-k index named by ``config.index`` over ``data``'s item embeddings, score offsets and id flags.

    Raises:
        ValueError: as :func:`check_index_settings`.
    """
    check_index_settings(config)
    if config.index == "brute_force":
        return BruteForceIndex(data.item_embeddings, data.item_offsets, data.item_has_id)
    return PartitionedIndex(data.item_embeddings, config.index_cells, config.index_nprobe,
                            offsets=data.item_offsets, has_id=data.item_has_id)


def build_module(model_dir: str | Path, k: int, features_dir: str | Path | None = None, config: ExportConfig | None = None) -> RetrievalModule:
    """Restores a trained model and wraps it with the catalogue, user histories and an index."""
    config = config or ExportConfig()
    check_explain_settings(config)
    trained = load_model_dir(model_dir, features_dir)
    data = serving_data(trained.model, EvalData.load(trained.features_dir), config.explain, config.explain_precision)
    if data.item_parts is not None and data.item_parts.parts.nbytes > EXPLAIN_WARN_BYTES:
        halve = " --export.explain_precision float16 halves them;" if config.explain_precision == "float32" else ""
        logging.warning("export: the explain signature's per-modality parts take %.1f GiB (items x modalities x dim %s), "
                        "held in memory by the server;%s --export.explain false leaves them out",
                        data.item_parts.parts.nbytes / 2**30, config.explain_precision, halve)
    return RetrievalModule(trained.model.user_tower, data, k, make_index(data, config), trained.model.item_tower)


def warmup_requests(module: RetrievalModule) -> dict[str, dict[str, np.ndarray]]:
    """One small, realistic request per signature: a known and an unknown id in each batch."""
    user = module.user_ids.numpy()[:1].astype(object)
    item = module.item_ids.numpy()[:1].astype(object)
    requests = {
        "serving_default": {"user_id": np.concatenate([user, ["unknown-user"]])},
        "recommend_history": {"history": np.array([[b"", item[0]], [b"", b"unknown-item"]], dtype=object)},
        "recommend_candidates": {"user_id": user, "candidates": module.item_ids.numpy()[:3].astype(object), "k": np.int32(2)},
        "embed_items": {"item_id": np.concatenate([item, ["unknown-item"]])},
        "embed_users": {"user_id": np.concatenate([user, ["unknown-user"]])},
    }
    if "explain" in module.signatures():
        explained = np.array([[item[0], b""], [item[0], b"unknown-item"]], dtype=object)
        requests["explain"] = {"user_id": np.concatenate([user, ["unknown-user"]]), "item_ids": explained}
        requests["explain_history"] = {"history": np.array([[b"", item[0]], [b"", b""]], dtype=object), "item_ids": explained}
    if "search_text" in module.signatures():
        requests["search_text"] = {"query": np.array([b"a short text query"], dtype=object)}
    if "recommend_profile" in module.signatures():
        # The first known user's profile, and an empty one.
        profile = {name: table.numpy()[:1] for name, table in module.profiles.items()}
        requests["recommend_profile"] = {
            "history": np.array([[item[0]], [b""]], dtype=object),
            **{name: np.concatenate([row, np.zeros_like(row) if row.dtype != object else np.full_like(row, b"")])
               for name, row in profile.items()},
        }
    if "explain_profile" in module.signatures():
        requests["explain_profile"] = {**requests["recommend_profile"], "item_ids": explained}
    return requests


def save_module(module: RetrievalModule, export_base: str | Path, name: str) -> Path:
    """Saves ``module`` as the next version of ``export_base/name``; returns the version dir.

    The SavedModel and its warm-up file are complete in a hidden temp directory
    before one rename makes the integer version visible; ``models.config`` is
    then rewritten for every model under ``export_base``.
    """
    model_base = Path(export_base) / name
    model_base.mkdir(parents=True, exist_ok=True)
    work = temp_dir_beside(model_base / "version")
    try:
        tf.saved_model.save(module, str(work / "model"), signatures=module.signatures())
        write_warmup(work / "model", name, warmup_requests(module))
        target = model_base / str(next_version(model_base))
        os.rename(work / "model", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_model_config(export_base)
    return target


def export(model_dir: str | Path, export_base: str | Path, name: str, k: int, features_dir: str | Path | None = None,
           config: ExportConfig | None = None) -> Path:
    """Exports a trained model directory for TF Serving.

    Args:
        model_dir: output of ``braid train``.
        export_base: the model base path TF Serving watches.
        name: the model name (``/v1/models/NAME``).
        k: items returned by the fixed-k signatures.
        features_dir: overrides the features directory recorded in the model.
        config: index choice (``--export.index``); defaults to brute force.

    Returns:
        The new version directory ``export_base/name/<version>``.

    Raises:
        ValueError: as :func:`check_export_settings`, before any work.
    """
    config = config or ExportConfig()
    check_export_settings(name, k, config)
    return save_module(build_module(model_dir, k, features_dir, config), export_base, name)


def load_servable(version_dir: str | Path):
    """Loads an exported version (``tf.saved_model.load``)."""
    path = Path(version_dir)
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"{path}: no saved_model.pb; pass EXPORT_BASE/NAME/<version> written by `braid export`")
    return tf.saved_model.load(str(path))

