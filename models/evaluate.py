"""Offline evaluation on the default split: braidrec, popularity and (synthetic) the oracle.

Warm: test users rank every item that appears in train, minus their own train
and val items; the relevant item is their test item. Cold: users with
cold_test interactions rank only the cold items.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.features import contract, readers
from braidrec.models import ranking
from braidrec.models.datasets import pad_histories, tower_profiles
from braidrec.models.score_parts import ItemParts, concatenate_parts, modality_parts
from braidrec.models.taste_profile import cold_item_queries, score_moments, taste_profiles
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
    # user -> [(catalogue row, timestamp)] of their cold_test interactions (the mixed task's windows).
    cold_events: dict[str, list[tuple[int, int]]] = dataclasses.field(default_factory=dict)

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
        cold_events: dict[str, list[tuple[int, int]]] = {}
        for user, item, stamp in zip(frame["user_id"], frame["item_id"], frame["timestamp"]):
            cold_test.setdefault(user, set()).add(index[item])
            cold_events.setdefault(user, []).append((index[item], int(stamp)))
        return cls(catalogue, histories, index, counts, cold_rows, cold_test, extract["max_history"], cold_events)

    @property
    def cold_mask(self) -> np.ndarray:
        """bool [items]: the catalogue rows of the split's cold items."""
        mask = np.zeros(len(self.catalogue), dtype=bool)
        mask[self.cold_items] = True
        return mask

    def task_users(self, split: int | None) -> list[readers.UserHistory]:
        """The users of the warm task on ``split`` (those with an item in it), or of the cold task (None)."""
        if split is None:
            return [u for u in self.histories if u.user_id in self.cold_test]
        return [u for u in self.histories if u.of(split)]

    def history_rows(self, split: int | None) -> np.ndarray:
        """int64 [users, L]: catalogue rows of each task user's whole history (before ``split``; every warm
        item for the cold task, None), in :meth:`task_users` order, padded with -1."""
        lists = [u.items if split is None else u.before(split) for u in self.task_users(split)]
        rows = np.full((len(lists), max([len(items) for items in lists] + [1])), -1, np.int64)
        for row, items in enumerate(lists):
            rows[row, : len(items)] = [self.index[i] for i in items]
        return rows

    def warm_task(self, split: int):
        """(user ids, padded histories, relevant sets, candidate-mask function) for val or test."""
        users = self.task_users(split)
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
        users = self.task_users(None)
        relevant = [self.cold_test[u.user_id] for u in users]
        cold_mask = self.cold_mask

        def candidates(rows: np.ndarray) -> np.ndarray:
            return np.repeat(cold_mask[None], len(rows), axis=0)

        ids = np.array([u.user_id for u in users], dtype=object)
        return ids, pad_histories([u.items for u in users], self.max_history), relevant, candidates


class CatalogueEmbeddings(NamedTuple):
    """Every catalogue row's item-tower outputs, as scoring needs them.

    A user's score for an item is ``query @ embeddings[row] + offsets[row]``, where the
    query is the user tower's vector for items with a trained id, and for the others
    :func:`~braidrec.models.taste_profile.cold_item_queries` (plus its per-user bias).

    Attributes:
        embeddings: float32 [items, dim].
        weights: float32 [items, modalities], the fusion weights.
        offsets: float32 [items], for items without a trained id the content prior (:class:`ContentPrior`)
            plus the mixed-ranking calibration shift (``ItemTower.cold_shift``), else 0; for items that
            nothing places, ``towers.UNPLACED_OFFSET``.
        has_id: bool [items], the item's id is in the trained vocabulary.
        placed: bool [items], a trained id or some enabled content places the item.
        parts: the embeddings split by modality (:mod:`~braidrec.models.score_parts`), when asked for.
    """

    embeddings: np.ndarray
    weights: np.ndarray
    offsets: np.ndarray
    has_id: np.ndarray
    placed: np.ndarray
    parts: ItemParts | None = None


def item_embeddings(model: BraidModel, catalogue: readers.Catalogue, batch_size: int = 1024,
                    with_parts: bool = False) -> CatalogueEmbeddings:
    """The item tower's :class:`CatalogueEmbeddings` of every catalogue row; ``with_parts`` also splits
    each embedding by modality (:func:`~braidrec.models.score_parts.modality_parts`), in the same pass."""
    outputs = {"embedding": [], "weights": [], "prior": [], "has_id": [], "placed": []}
    split = []
    for start in range(0, len(catalogue), batch_size):
        rows = np.arange(start, min(len(catalogue), start + batch_size))
        feats = {k: tf.constant(v) for k, v in catalogue.take(rows).items()}
        out = {name: value.numpy() for name, value in model.item_tower.encode_all(feats, training=False).items()}
        for name, values in outputs.items():
            values.append(out[name])
        if with_parts:
            split.append(modality_parts(model.item_tower, out))
    parts = concatenate_parts(split, model.item_tower) if with_parts else None
    return CatalogueEmbeddings(*(np.concatenate(values) for values in outputs.values()), parts=parts)


def catalogue_scores(users: np.ndarray, cold_queries: np.ndarray, cold_bias: np.ndarray, items: CatalogueEmbeddings) -> np.ndarray:
    """float [users, items]: every user's score for every catalogue row (see :class:`CatalogueEmbeddings`);
    ``cold_queries`` and ``cold_bias`` are :func:`~braidrec.models.taste_profile.cold_item_queries`."""
    scores = users @ items.embeddings.T
    cold = ~items.has_id
    scores[:, cold] = cold_queries @ items.embeddings[cold].T + cold_bias[:, None]
    return scores + items.offsets


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
    batch_size: int = 1024, items: CatalogueEmbeddings | None = None,
) -> dict:
    """braidrec's warm (and cold) metrics on ``split``; ``items`` reuses precomputed :func:`item_embeddings`."""
    items = item_embeddings(model, data.catalogue, batch_size) if items is None else items
    tasks = {"warm": (split, data.warm_task(split))}
    if cold:
        tasks["cold"] = (None, data.cold_task())
    out = {}
    for name, (task_split, (ids, hist, relevant, candidates)) in tasks.items():
        score = task_scores(model, data, task_split, ids, hist, items, batch_size)
        out[name] = ranking.evaluate_ranking(score, candidates, relevant, ks, batch_size)
    return out


def task_queries(model: BraidModel, data: EvalData, split: int | None, ids: np.ndarray, histories: np.ndarray,
                 items: CatalogueEmbeddings, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user vectors [n, dim], cold-item queries [n, dim], cold-item bias [n]) of the users of ``split``'s
    task (None: the cold task), ``ids`` and ``histories`` as :meth:`EvalData.warm_task` or
    :meth:`EvalData.cold_task` give them; :func:`catalogue_scores` scores with them."""
    users = user_embeddings(model, ids, histories, batch_size, tower_profiles(model.user_tower, data.histories, ids))
    profiles = taste_profiles(data.history_rows(split), functools.partial(tf.gather, items.embeddings))
    moments = score_moments(items.embeddings, items.has_id)
    queries, bias = (t.numpy() for t in cold_item_queries(users, profiles, model.cold_profile_weight, moments))
    return users, queries, bias


def task_scores(model: BraidModel, data: EvalData, split: int | None, ids: np.ndarray, histories: np.ndarray,
                items: CatalogueEmbeddings, batch_size: int = 1024):
    """user positions [n] -> scores [n, items] of the users of ``split``'s task (see :func:`task_queries`)."""
    users, queries, bias = task_queries(model, data, split, ids, histories, items, batch_size)
    return lambda rows: catalogue_scores(users[rows], queries[rows], bias[rows], items)


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
