"""Popularity: every user gets the items with the most train interactions."""

from __future__ import annotations

import numpy as np

from bench.peers.base import Scorer
from braidrec.models.evaluate import EvalData


def fit_popularity(data: EvalData, seed: int) -> Scorer:
    """Scores each item by its train count (``seed`` is unused: nothing is random)."""
    counts = data.train_counts.astype(np.float64)

    def score(user_ids: np.ndarray, histories: np.ndarray) -> np.ndarray:
        return np.repeat(counts[None], len(user_ids), axis=0)

    return Scorer("popularity", score, info={"seed_independent": True})
