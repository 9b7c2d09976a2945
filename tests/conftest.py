"""Shared fixtures: one tiny synthetic dataset pushed through every stage once per session.

Each stage is run through the ``braid`` command's entry point, so the CLI is
exercised exactly as a user calls it; tests then inspect the artefacts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
from braidrec.config import TrainConfig
from braidrec.pipeline import cli
from braidrec.runtime import set_op_threads

# TensorFlow fixes its threads per op when it first runs one, and the tests train after other
# TensorFlow work in one process: the default's count is set before any of it.
set_op_threads(TrainConfig().op_threads)

TINY_SYNTH = ["--items", "150", "--users", "100", "--topics", "4", "--categories", "3", "--seed", "1"]
# Two epochs are too few for the default weight average (time constant 1.2 epochs) to leave its
# initial weights behind; the tiny run trains plain weights, at a rate pinned here (0.002, the default
# since 2026-12-02) so that a change of the default does not change the tests.
# It reads the synthetic users table's profiles (off by default), so every stage's profile path is exercised.
# It pins in-batch negatives with 256 alignment items (the default before session 30): with the alignment
# items as negatives too, this catalogue's noisy validation keeps epoch 1, whose text path finds an item
# by its own text 0.17 of the time, against 0.53 for the epoch 2 kept here (and 0.84 for epoch 5 of a
# 6-epoch run). The export does not depend on how training drew negatives; tests/models cover that option.
TINY_TRAIN = [
    "--train.epochs", "2", "--train.batch_size", "128", "--train.verbose", "0", "--model.embedding_dim", "32",
    "--train.weight_ema_epochs", "0", "--train.learning_rate", "0.002", "--model.user_features", "true",
    "--train.alignment_negatives", "false", "--train.alignment_items", "256",
]


def served_scores(users: dict, items: dict) -> np.ndarray:
    """[B, k] scores of the export's rule, from ``embed_users`` outputs for B users and ``embed_items``
    outputs for their k items each ([B * k] rows): ``embeddings @ item + score_offset`` for items with
    a trained id, ``cold_item_queries @ item + cold_item_bias + score_offset`` for the others."""
    batch = len(users["embeddings"])
    embeddings = np.asarray(items["embeddings"]).reshape(batch, -1, np.shape(users["embeddings"])[1])
    warm = np.einsum("bkd,bd->bk", embeddings, np.asarray(users["embeddings"]))
    cold = np.einsum("bkd,bd->bk", embeddings, np.asarray(users["cold_item_queries"])) + np.asarray(users["cold_item_bias"])[:, None]
    has_id = np.asarray(items["has_id"]).reshape(batch, -1)
    return np.where(has_id, warm, cold) + np.asarray(items["score_offsets"]).reshape(batch, -1)


def braid(*argv: str) -> None:
    """Runs ``braid argv...`` in-process and fails the test on a non-zero exit."""
    code = cli.main([str(a) for a in argv])
    assert code == 0, f"braid {' '.join(map(str, argv))} exited {code}"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> dict[str, Path]:
    """Paths of a tiny run made stage by stage: data, features, model, metrics, export, recs."""
    root = tmp_path_factory.mktemp("tiny_run")
    paths = {
        "data": root / "data",
        "features": root / "features",
        "model": root / "model",
        "metrics": root / "metrics.json",
        "export_base": root / "export",
        "recs": root / "recs.parquet",
    }
    braid("data", "synth", "--out", paths["data"], *TINY_SYNTH)
    braid("extract", "--data", paths["data"], "--out", paths["features"], "--extract.num_shards", "1")
    braid("train", "--features", paths["features"], "--out", paths["model"], *TINY_TRAIN)
    braid("evaluate", "--model", paths["model"], "--out", paths["metrics"])
    braid("export", "--model", paths["model"], "--out", paths["export_base"], "--name", "tiny", "--k", "10")
    paths["export"] = paths["export_base"] / "tiny" / "1"
    braid("recommend", "--model", paths["export"], "--out", paths["recs"], "--k", "5")
    return paths


@pytest.fixture(scope="session")
def catalogue(tiny_run):
    """The tiny run's item catalogue (``readers.Catalogue``)."""
    from braidrec.features import readers

    return readers.load_catalogue(tiny_run["features"])


def untrained_model(tiny_run, **model_changes):
    """An untrained 16-d ``BraidModel`` over the tiny run's vocabularies, ``model_changes`` applied."""
    from braidrec.config import ExtractConfig, ModelConfig
    from braidrec.features import contract
    from braidrec.models.two_tower import BraidModel

    vocab = contract.Vocabularies.load(tiny_run["features"])
    return BraidModel(vocab, ModelConfig(embedding_dim=16, **model_changes), ExtractConfig(max_history=6), TrainConfig())


@pytest.fixture(scope="session")
def tiny_manifest(tiny_run) -> dict:
    return json.loads((tiny_run["features"] / "manifest.json").read_text())
