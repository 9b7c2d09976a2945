"""Saving and restoring a trained model directory (``braid train --out RUN/model``).

Layout: ``model.json`` (the configuration, the features directory it was
trained on and a digest of that directory's vocabularies), ``weights/`` (a TensorFlow
checkpoint), ``history.json`` (per-epoch training log), ``vocab/`` (a copy of the features'
vocabularies, so the model can be rebuilt after its features directory was extracted again or
removed). The model is rebuilt from code and vocabularies and the weights restored, which is
robust across Keras versions in a way a pickled subclassed model is not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
from braidrec.config import ExtractConfig, ModelConfig, TrainConfig
from braidrec.config_loader import from_dict
from braidrec.features import contract
from braidrec.models.two_tower import BraidModel
from braidrec.pipeline.fileutil import atomic_dir, sha256_file

MODEL_JSON = "model.json"
WEIGHTS = "weights/ckpt"
HISTORY_JSON = "history.json"


@dataclasses.dataclass
class TrainedModel:
    """A restored model with what it was built from."""

    model: BraidModel
    vocab: contract.Vocabularies
    features_dir: Path
    model_config: ModelConfig
    extract_config: ExtractConfig
    train_config: TrainConfig


def build_model(features_dir: Path, model: ModelConfig, extract: ExtractConfig, train: TrainConfig) -> tuple[BraidModel, contract.Vocabularies]:
    """A fresh :class:`BraidModel` over the vocabularies of ``features_dir`` (or of a model directory's copy)."""
    vocab = contract.Vocabularies.load(features_dir)
    return BraidModel(vocab, model, extract, train), vocab


def vocabulary_digest(features_dir: str | Path) -> str:
    """SHA-256 over every file of ``features_dir``'s vocabularies (names and contents): what the
    embedding tables' rows and the lookups' indices mean."""
    vocab_dir = Path(features_dir) / contract.VOCAB_DIR
    lines = [f"{path.relative_to(vocab_dir)} {sha256_file(path)}" for path in sorted(vocab_dir.rglob("*")) if path.is_file()]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def save_model_dir(out_dir: str | Path, trained: TrainedModel, history: dict) -> None:
    """Writes weights and metadata into the model directory ``out_dir``, created or replaced atomically
    (written to a temp dir beside it, then renamed)."""
    meta = {
        "features_dir": str(Path(trained.features_dir).resolve()),
        "model": dataclasses.asdict(trained.model_config),
        "extract": dataclasses.asdict(trained.extract_config),
        "train": dataclasses.asdict(trained.train_config),
        "modalities": trained.model.item_tower.modalities,
        "vocabulary_sha256": vocabulary_digest(trained.features_dir),
    }
    with atomic_dir(Path(out_dir)) as work:
        shutil.copytree(Path(trained.features_dir) / contract.VOCAB_DIR, work / contract.VOCAB_DIR)
        trained.model.save_weights(str(work / WEIGHTS))
        (work / MODEL_JSON).write_text(json.dumps(meta, indent=2))
        (work / HISTORY_JSON).write_text(json.dumps(history, indent=2))


def _read_meta(model_dir: Path) -> dict:
    meta_path = model_dir / MODEL_JSON
    if not meta_path.is_file():
        raise FileNotFoundError(f"{model_dir}: no {MODEL_JSON}; pass the --out directory of `braid train`")
    return json.loads(meta_path.read_text())


def _restore(model_dir: Path, meta: dict, vocab_dir: Path, features: Path) -> TrainedModel:
    """Builds the model over ``vocab_dir``'s vocabularies and restores ``model_dir``'s weights into it."""
    where = model_dir / MODEL_JSON
    model_cfg = from_dict(ModelConfig, meta["model"], f"{where}:model")
    extract_cfg = from_dict(ExtractConfig, meta["extract"], f"{where}:extract")
    train_cfg = from_dict(TrainConfig, meta["train"], f"{where}:train")
    model, vocab = build_model(vocab_dir, model_cfg, extract_cfg, train_cfg)
    model.load_weights(str(model_dir / WEIGHTS)).expect_partial()
    return TrainedModel(model, vocab, features, model_cfg, extract_cfg, train_cfg)


def _check_vocabularies(model_dir: Path, meta: dict, features: Path) -> None:
    if not (features / contract.VOCAB_DIR).is_dir():
        raise FileNotFoundError(f"{features}: no vocabularies, so no data to run {model_dir} over; pass the features "
                                "directory it was trained on (--features), or extract it again with the same settings")
    # Models saved before the digest existed are loaded unchecked.
    if "vocabulary_sha256" in meta and vocabulary_digest(features) != meta["vocabulary_sha256"]:
        raise ValueError(
            f"{features}: its vocabularies are not those {model_dir} was trained on (extracted again since, or "
            "another dataset's), so the model's embedding rows would mean other items and tokens. Pass the "
            f"features directory it was trained on, or train again on these: braid train --features {features} --out DIR")


def load_model_dir(model_dir: str | Path, features_dir: str | Path | None = None) -> TrainedModel:
    """Rebuilds the model saved in ``model_dir`` and restores its weights, to be run over ``features_dir``'s data.

    Args:
        model_dir: output of ``braid train``.
        features_dir: overrides the features directory recorded at training time.

    Raises:
        FileNotFoundError: ``model_dir`` is not a trained model directory, or the features directory is gone.
        ValueError: the features directory's vocabularies are not those the model was trained on (it was
            extracted again since, or is another dataset's), so the weights' rows would mean other items.
    """
    model_dir = Path(model_dir)
    meta = _read_meta(model_dir)
    features = Path(features_dir or meta["features_dir"])
    _check_vocabularies(model_dir, meta, features)
    return _restore(model_dir, meta, features, features)


def load_model_alone(model_dir: str | Path) -> TrainedModel:
    """Rebuilds the model saved in ``model_dir`` from its own copy of the vocabularies, without its features.

    What incremental training needs: last night's model after tonight's extraction replaced its features.
    Models saved before the copy existed fall back to the features directory they record, checked as
    :func:`load_model_dir` checks it. ``features_dir`` of the result is the recorded one, which may be gone.

    Raises:
        FileNotFoundError: ``model_dir`` is not a trained model directory.
        ValueError: a model without its own vocabularies, whose recorded features were extracted again.
    """
    model_dir = Path(model_dir)
    meta = _read_meta(model_dir)
    recorded = Path(meta["features_dir"])
    if (model_dir / contract.VOCAB_DIR).is_dir():
        return _restore(model_dir, meta, model_dir, recorded)
    _check_vocabularies(model_dir, meta, recorded)
    return _restore(model_dir, meta, recorded, recorded)
