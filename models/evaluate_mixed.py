"""The whole catalogue ranked at once, as serving ranks it: ``metrics.json``'s ``mixed``, and the
calibration of items without a trained id against those with one (the pure ranking functions are in
:mod:`braidrec.models.mixed_ranking`; models/README.md, "Cold items in a mixed ranking")."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from braidrec.features import contract
from braidrec.models import ranking
from braidrec.models.evaluate import CatalogueEmbeddings, EvalData, catalogue_scores, item_embeddings, task_queries, task_scores
from braidrec.models.mixed_ranking import MixedTask, cold_slots, fit_cold_shift, mixed_task, mixed_top_k, ranking_metrics
from braidrec.models.two_tower import BraidModel


class MixedRanking(NamedTuple):
    """The whole catalogue ranked at once for ``split``'s users (:func:`mixed_ranking`).

    Attributes:
        task: the :class:`~braidrec.models.mixed_ranking.MixedTask`.
        users: float [n, dim], and ``queries`` [n, dim]: each user's vector and cold-item query
            (:func:`task_queries`).
        tops: int [n, k] each user's top-k catalogue rows, -1 padded.
    """

    task: MixedTask
    users: np.ndarray
    queries: np.ndarray
    tops: np.ndarray


def mixed_ranking(model: BraidModel, data: EvalData, items: CatalogueEmbeddings, split: int = contract.SPLIT_TEST,
                  k: int = 10, batch_size: int = 1024) -> MixedRanking:
    """The model's :class:`MixedRanking` of ``split``: scored once, read by :func:`mixed_ranking_metrics`
    and :func:`~braidrec.models.explain.driver_report`."""
    ids, hist, _, _ = data.warm_task(split)
    task = mixed_task(data, split)
    users, queries, bias = task_queries(model, data, split, ids, hist, items, batch_size)

    def score(rows: np.ndarray) -> np.ndarray:
        return catalogue_scores(users[rows], queries[rows], bias[rows], items)

    return MixedRanking(task, users, queries, mixed_top_k(score, task, k, batch_size))


def mixed_ranking_metrics(model: BraidModel, data: EvalData, items: CatalogueEmbeddings, split: int = contract.SPLIT_TEST,
                          k: int = 10, ranked: MixedRanking | None = None) -> dict:
    """:func:`~braidrec.models.mixed_ranking.ranking_metrics` of the model on ``split``: the whole catalogue
    ranked at once (``ranked``: that ranking, already made by :func:`mixed_ranking` with the same ``k``).

    Slots and relevant items count as cold when they are the split's cold items (``data.cold_mask``),
    as in the cold task and the bench's peers; warm items that no train interaction has have no
    trained id either and are scored as cold items are, but count as warm here.
    """
    ranked = ranked or mixed_ranking(model, data, items, split, k)
    return ranking_metrics(ranked.tops, ranked.task, data.cold_mask, k)


def fit_cold_calibration(model: BraidModel, data: EvalData, k: int = 10) -> dict | None:
    """Sets the item tower's ``cold_shift`` so that items without a trained id take their share of the
    catalogue's candidates of the validation users' top-``k`` in the mixed ranking
    (:func:`~braidrec.models.mixed_ranking.fit_cold_shift`); None when there is nothing to calibrate.

    Items that nothing places (no content either) rank below every placed item whatever the shift, so
    they are left out of the share: placed new items do not take the slots those could not fill.

    Returns:
        ``{"shift", "target_share", "cold_share_before"}``.
    """
    model.item_tower.cold_shift.assign(0.0)
    items = item_embeddings(model, data.catalogue)
    cold = ~items.has_id & items.placed
    task = mixed_task(data, contract.SPLIT_VAL)
    if not cold.any() or not len(task.user_rows):
        return None
    ids, hist, _, _ = data.warm_task(contract.SPLIT_VAL)
    scores = task_scores(model, data, contract.SPLIT_VAL, ids, hist, items)(task.user_rows)
    target = float(cold[task.candidates].mean())
    candidates = task.candidate_mask(task.user_rows)
    before = float(cold_slots(ranking.top_k(scores, candidates, k), cold).mean())
    shift = fit_cold_shift(scores, candidates, cold, target, k)
    model.item_tower.cold_shift.assign(shift)
    return {"shift": shift, "target_share": target, "cold_share_before": before}
