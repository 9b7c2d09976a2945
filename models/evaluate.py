"""Offline evaluation on the default split: braidrec, popularity and (synthetic) the oracle.

Warm: test users rank every item that appears in train, minus their own train
and val items; the relevant item is their test item. Cold: users with
cold_test interactions rank only the cold items.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.features import contract, readers
from braidrec.models import ranking
from braidrec.models.datasets import pad_histories, tower_profiles
from braidrec.models.two_tower import BraidModel
from braidrec.pipeline.splits import choose_cold_items


@dataclasses.dataclass
class EvalData:
    """What evaluation needs from a features directory, indexed by catalogue row."""

    catalogue: readers.Catalogue
    histories: list[readers.UserHistory]
    index: dict[str, int]
    train_counts: np.ndarray
    cold_items: np.ndarray
    cold_test: dict[str, set[int]]
    max_history: int

    @classmethod
    def load(cls, features_dir: str | Path) -> "EvalData":
        """Reads the catalogue, histories, cold_test split and the manifest's settings."""
        features_dir = Path(features_dir)
        manifest = json.loads((features_dir / contract.MANIFEST).read_text())
        catalogue = readers.load_catalogue(features_dir)
        histories = readers.load_histories(features_dir)
        index = catalogue.index()
        counts = np.zeros(len(catalogue))
        for user in histories:
            for item in user.of(contract.SPLIT_TRAIN):
                counts[index[item]] += 1
        extract = manifest["config"]
        cold = choose_cold_items(catalogue.item_ids.tolist(), extract["cold_fraction"], extract["split_seed"])
        cold_rows = np.array(sorted(index[i] for i in cold), dtype=np.int64)
        frame = pd.read_parquet(features_dir / contract.SPLITS_DIR / "cold_test.parquet")
        cold_test: dict[str, set[int]] = {}
        for user, item in zip(frame["user_id"], frame["item_id"]):
            cold_test.setdefault(user, set()).add(index[item])
        return cls(catalogue, histories, index, counts, cold_rows, cold_test, extract["max_history"])

    def warm_task(self, split: int):
        """(user ids, padded histories, relevant sets, candidate-mask function) for val or test."""
        users = [u for u in self.histories if u.of(split)]
        relevant = [{self.index[i] for i in u.of(split)} for u in users]
        in_train = self.train_counts > 0
        seen = [np.array([self.index[i] for i in u.before(split)], dtype=np.int64) for u in users]

        def candidates(rows: np.ndarray) -> np.ndarray:
            mask = np.repeat(in_train[None], len(rows), axis=0)
            for out_row, row in enumerate(rows):
                mask[out_row, seen[row]] = False
            return mask

        ids = np.array([u.user_id for u in users], dtype=object)
        return ids, pad_histories([u.before(split) for u in users], self.max_history), relevant, candidates

    def cold_task(self):
        """The same for cold items: history is every warm item, candidates the cold items."""
        users = [u for u in self.histories if u.user_id in self.cold_test]
        relevant = [self.cold_test[u.user_id] for u in users]
        cold_mask = np.zeros(len(self.catalogue), dtype=bool)
        cold_mask[self.cold_items] = True

        def candidates(rows: np.ndarray) -> np.ndarray:
            return np.repeat(cold_mask[None], len(rows), axis=0)

        ids = np.array([u.user_id for u in users], dtype=object)
        return ids, pad_histories([u.items for u in users], self.max_history), relevant, candidates


def item_embeddings(model: BraidModel, catalogue: readers.Catalogue, batch_size: int = 1024):
    """(embeddings [items, dim], fusion weights [items, modalities], score offsets [items]) of every catalogue row.

    A user's score for an item is ``user @ embedding + offset``; the offset is the
    content prior of items without a trained id (:class:`ContentPrior`), else 0.
    """
    embs, weights, offsets = [], [], []
    for start in range(0, len(catalogue), batch_size):
        rows = np.arange(start, min(len(catalogue), start + batch_size))
        feats = {k: tf.constant(v) for k, v in catalogue.take(rows).items()}
        out = model.item_tower.encode_all(feats, training=False)
        embs.append(out["embedding"].numpy())
        weights.append(out["weights"].numpy())
        offsets.append(out["prior"].numpy())
    return np.concatenate(embs), np.concatenate(weights), np.concatenate(offsets)


def user_embeddings(model: BraidModel, user_ids: np.ndarray, histories: np.ndarray, batch_size: int = 1024,
                    profiles: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """User-tower embeddings [users, dim]; ``profiles`` (``datasets.user_profiles``) rows align with ``user_ids``."""
    out = []
    for start in range(0, len(user_ids), batch_size):
        part = slice(start, start + batch_size)
        inputs = {contract.USER_ID: tf.constant(user_ids[part].astype(str)), "history": tf.constant(histories[part].astype(str))}
        inputs.update({name: tf.constant(values[part]) for name, values in (profiles or {}).items()})
        out.append(model.user_tower(inputs, training=False).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.item_tower.output_projection.units), np.float32)


def model_metrics(
    model: BraidModel, data: EvalData, ks: list[int], split: int = contract.SPLIT_TEST, cold: bool = True,
    batch_size: int = 1024, items: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """braidrec's warm (and cold) metrics on ``split``; ``items`` reuses precomputed (embeddings, offsets)."""
    if items is None:
        embeddings, _, offsets = item_embeddings(model, data.catalogue, batch_size)
    else:
        embeddings, offsets = items
    ids, hist, relevant, candidates = data.warm_task(split)
    users = user_embeddings(model, ids, hist, batch_size, tower_profiles(model.user_tower, data.histories, ids))
    out = {"warm": ranking.evaluate_ranking(lambda r: users[r] @ embeddings.T + offsets, candidates, relevant, ks, batch_size)}
    if cold:
        ids, hist, relevant, candidates = data.cold_task()
        users = user_embeddings(model, ids, hist, batch_size, tower_profiles(model.user_tower, data.histories, ids))
        out["cold"] = ranking.evaluate_ranking(lambda r: users[r] @ embeddings.T + offsets, candidates, relevant, ks, batch_size)
    return out


def baseline_metrics(data: EvalData, ks: list[int], ground_truth=None, batch_size: int = 1024) -> dict:
    """Popularity, a random ranking (cold, analytic) and, given ground truth, the oracle."""
    ids, _, relevant, candidates = data.warm_task(contract.SPLIT_TEST)
    pop = data.train_counts[None].astype(np.float64)
    out = {"popularity": {"warm": ranking.evaluate_ranking(lambda r: np.repeat(pop, len(r), 0), candidates, relevant, ks, batch_size)}}
    cold_ids, _, cold_relevant, _ = data.cold_task()
    n_cold = np.full(len(cold_relevant), len(data.cold_items))
    rel_counts = np.array([len(r) for r in cold_relevant])
    out["random"] = {"cold": {f"recall@{k}": ranking.random_recall(n_cold, rel_counts, k) for k in ks}}
    if ground_truth is not None:
        item_ids = data.catalogue.item_ids.tolist()
        oracle_warm = ranking.evaluate_ranking(
            lambda r: ground_truth.scores(ids[r].tolist(), item_ids), candidates, relevant, ks, batch_size
        )
        _, _, _, cold_candidates = data.cold_task()
        oracle_cold = ranking.evaluate_ranking(
            lambda r: ground_truth.scores(cold_ids[r].tolist(), item_ids), cold_candidates, cold_relevant, ks, batch_size
        )
        out["oracle"] = {"warm": oracle_warm, "cold": oracle_cold}
    return out
