"""implicit's ALS and BPR matrix factorisation, tuned lightly on validation Recall@10."""

from __future__ import annotations

import itertools

from threadpoolctl import threadpool_limits

from bench.peers.base import Scorer, TrainMatrix, factor_scorer, val_recall
from braidrec.models.evaluate import EvalData

# Small grids: the reference points were tuned on val the same way; more is not needed
# to reproduce them and keeps each seed to seconds on 2 cores.
ALS_GRID = {"regularization": [0.01, 0.1, 1.0], "alpha": [1.0, 5.0], "iterations": [15]}
BPR_GRID = {"learning_rate": [0.01, 0.05], "regularization": [0.01], "iterations": [50, 150]}


def _grid(grid: dict[str, list]) -> list[dict]:
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def _tune(name: str, make, data: EvalData, train: TrainMatrix, grid: dict[str, list]) -> Scorer:
    best: Scorer | None = None
    for params in _grid(grid):
        # implicit runs its own threads; a multi-threaded BLAS underneath only oversubscribes the 2 cores.
        with threadpool_limits(1, "blas"):
            model = make(**params)
            model.fit(train.matrix, show_progress=False)
        scorer = Scorer(name, factor_scorer(model.user_factors, model.item_factors, train), info=dict(params))
        scorer.info["val_recall@10"] = val_recall(scorer, data)
        if best is None or scorer.info["val_recall@10"] > best.info["val_recall@10"]:
            best = scorer
    return best


def fit_als(data: EvalData, seed: int, factors: int = 32) -> Scorer:
    """implicit ``AlternatingLeastSquares`` with ``factors`` factors, best of :data:`ALS_GRID` on val."""
    from implicit.cpu.als import AlternatingLeastSquares

    def make(**params):
        return AlternatingLeastSquares(factors=factors, random_state=seed, num_threads=2, **params)

    return _tune("implicit ALS", make, data, TrainMatrix.build(data), ALS_GRID)


def fit_bpr(data: EvalData, seed: int, factors: int = 128) -> Scorer:
    """implicit ``BayesianPersonalizedRanking`` with ``factors`` factors, best of :data:`BPR_GRID` on val."""
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    def make(**params):
        # One thread: BPR's parallel SGD is not deterministic (ALS's solver is, at any count).
        return BayesianPersonalizedRanking(factors=factors, random_state=seed, num_threads=1, **params)

    return _tune("implicit BPR", make, data, TrainMatrix.build(data), BPR_GRID)
