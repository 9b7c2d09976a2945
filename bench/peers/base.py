"""What every peer shares: the scorer interface, the train matrix and scoring on braidrec's split.

A peer is fitted on a features directory's train split (tuned on val) and
returns a :class:`Scorer`; :func:`evaluate_scorer` ranks with braidrec's own
``warm_task`` / ``cold_task`` and ``evaluate_ranking``, so every number in the
benchmark comes from the same candidates, relevant sets and metric code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from braidrec.features import contract
from braidrec.models import ranking
from braidrec.models.evaluate import EvalData
from braidrec.models.mixed_ranking import mixed_metrics, mixed_task

# Scores [users, catalogue rows] from the task's user ids and padded (left, '') history ids.
ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclasses.dataclass
class Scorer:
    """A fitted peer.

    Attributes:
        name: label in the results table.
        score: user ids [n], padded histories [n, L] -> scores [n, catalogue items].
        scores_cold: False when the peer cannot place an item without interactions
            (its cold Recall is then the analytic random ranking's).
        info: chosen hyper-parameters, best epoch and the like (goes to the JSON).
    """

    name: str
    score: ScoreFn
    scores_cold: bool = False
    info: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TrainMatrix:
    """The train split as a sparse users x items matrix with its id mappings.

    Attributes:
        matrix: CSR float32 [users, catalogue items], 1 per train interaction.
        user_index: user id -> matrix row (users with at least one train item).
    """

    matrix: sp.csr_matrix
    user_index: dict[str, int]

    @classmethod
    def build(cls, data: EvalData) -> "TrainMatrix":
        """Builds the matrix from ``data``'s histories (columns are catalogue rows)."""
        users = [u for u in data.histories if u.of(contract.SPLIT_TRAIN)]
        rows, cols = [], []
        for row, user in enumerate(users):
            items = sorted({data.index[i] for i in user.of(contract.SPLIT_TRAIN)})
            rows += [row] * len(items)
            cols += items
        values = np.ones(len(rows), dtype=np.float32)
        matrix = sp.csr_matrix((values, (rows, cols)), shape=(len(users), len(data.catalogue)))
        return cls(matrix, {u.user_id: row for row, u in enumerate(users)})

    def rows_of(self, user_ids: np.ndarray) -> np.ndarray:
        """Matrix rows of ``user_ids``; -1 for users without train interactions."""
        return np.array([self.user_index.get(u, -1) for u in user_ids.tolist()], dtype=np.int64)


def factor_scorer(user_factors: np.ndarray, item_factors: np.ndarray, train: TrainMatrix) -> ScoreFn:
    """Dot-product scores from factor matrices; users unseen in train score zero everywhere."""

    def score(user_ids: np.ndarray, histories: np.ndarray) -> np.ndarray:
        rows = train.rows_of(user_ids)
        users = np.where(rows[:, None] >= 0, user_factors[np.maximum(rows, 0)], 0.0)
        return users @ item_factors.T

    return score


def evaluate_scorer(scorer: Scorer, data: EvalData, ks: list[int], split: int = contract.SPLIT_TEST, cold: bool = True) -> dict:
    """Warm (and cold) Recall@k / NDCG@k of ``scorer`` on ``split`` of ``data``.

    Args:
        scorer: a fitted peer.
        data: the features' evaluation data.
        ks: cut-offs.
        split: ``SPLIT_VAL`` while tuning, ``SPLIT_TEST`` for the report.
        cold: also score the cold task (always on the test-time cold_test split).

    Returns:
        ``{"warm": {...}, "cold": {...}, "mixed": {...}}``; cold carries ``"random": True`` when the
        value is the analytic random ranking because the peer cannot score cold items; mixed is
        :func:`mixed_ranking`'s.
    """
    ids, hist, relevant, candidates = data.warm_task(split)
    out = {"warm": ranking.evaluate_ranking(lambda r: scorer.score(ids[r], hist[r]), candidates, relevant, ks)}
    if not cold:
        return out
    out["mixed"] = mixed_ranking(scorer, data, split)
    cold_ids, cold_hist, cold_relevant, cold_candidates = data.cold_task()
    if scorer.scores_cold:
        out["cold"] = ranking.evaluate_ranking(
            lambda r: scorer.score(cold_ids[r], cold_hist[r]), cold_candidates, cold_relevant, ks
        )
    else:
        n_cold = np.full(len(cold_relevant), len(data.cold_items))
        rel_counts = np.array([len(r) for r in cold_relevant])
        out["cold"] = {f"recall@{k}": ranking.random_recall(n_cold, rel_counts, k) for k in ks}
        out["cold"].update({"users": len(cold_relevant), "random": True})
    return out


def mixed_ranking(scorer: Scorer, data: EvalData, split: int = contract.SPLIT_TEST, k: int = 10) -> dict:
    """The whole catalogue ranked at once, as serving does (braidrec's ``metrics.json`` ``mixed``:
    :func:`braidrec.models.mixed_ranking.mixed_metrics` on the same task).

    A peer that cannot place cold items never recommends them (what a user of it serves), so
    its cold share is 0 and it can only hit the held-out warm item; a peer that can ranks them
    with its own scores, uncalibrated.
    """
    ids, hist, _, _ = data.warm_task(split)
    task = mixed_task(data, split)
    cold = data.cold_mask

    def score(rows: np.ndarray) -> np.ndarray:
        scores = np.asarray(scorer.score(ids[rows], hist[rows]), np.float64)
        if not scorer.scores_cold:
            scores[:, cold] = -np.inf
        return scores

    return mixed_metrics(score, task, cold, k)


def val_recall(scorer: Scorer, data: EvalData, k: int = 10) -> float:
    """Validation Recall@k (Recall@10 is what every peer tunes and early-stops on by default)."""
    return evaluate_scorer(scorer, data, [k], split=contract.SPLIT_VAL, cold=False)["warm"][f"recall@{k}"]
