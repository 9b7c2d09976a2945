"""Full-ranking metrics (no sampling) over a candidate set per user.

Recall@k = relevant items in the top k / relevant items; NDCG@k with binary
gains and the ideal ranking of min(#relevant, k) hits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def top_k(scores: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best candidates per row, best first (ties broken by index).

    Args:
        scores: float [users, items].
        candidates: bool [users, items]; False entries are never returned.
        k: how many; rows with fewer candidates are padded with -1.
    """
    masked = np.where(candidates, scores, -np.inf)
    k_eff = min(k, masked.shape[1])
    part = np.argpartition(-masked, k_eff - 1, axis=1)[:, :k_eff]
    part_scores = np.take_along_axis(masked, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    best = np.take_along_axis(part, order, axis=1)
    best = np.where(np.isfinite(np.take_along_axis(masked, best, axis=1)), best, -1)
    if k_eff < k:
        best = np.pad(best, ((0, 0), (0, k - k_eff)), constant_values=-1)
    return best


def recall_ndcg(top: np.ndarray, relevant: list[set[int]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-user Recall@k and NDCG@k of ranked lists ``top`` [users, >=k]."""
    recall = np.zeros(len(relevant))
    ndcg = np.zeros(len(relevant))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for row, rel in enumerate(relevant):
        if not rel:
            continue
        hits = np.array([item in rel for item in top[row, :k]], dtype=np.float64)
        recall[row] = hits.sum() / len(rel)
        ndcg[row] = (hits * discounts).sum() / discounts[: min(len(rel), k)].sum()
    return recall, ndcg


def evaluate_ranking(
    score_rows: Callable[[np.ndarray], np.ndarray],
    candidate_rows: Callable[[np.ndarray], np.ndarray],
    relevant: list[set[int]],
    ks: list[int],
    batch_size: int = 1024,
) -> dict[str, float]:
    """Mean Recall@k and NDCG@k over users, computed in batches of users.

    Args:
        score_rows: user rows -> scores [len(rows), items].
        candidate_rows: user rows -> candidate mask [len(rows), items].
        relevant: per user, the set of relevant item indices.
        ks: cut-offs.
        batch_size: users per batch (bounds memory to batch x items).

    Returns:
        ``{"recall@k": ..., "ndcg@k": ..., "coverage@k": ..., "users": n}``; coverage@k
        is the share of all items that appear in at least one user's top k.
    """
    n = len(relevant)
    sums = {f"{name}@{k}": 0.0 for k in ks for name in ("recall", "ndcg")}
    seen: dict[int, set[int]] = {k: set() for k in ks}
    items = 0
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(n, start + batch_size))
        scores = score_rows(rows)
        items = scores.shape[1]
        top = top_k(scores, candidate_rows(rows), max(ks))
        for k in ks:
            recall, ndcg = recall_ndcg(top, [relevant[r] for r in rows], k)
            sums[f"recall@{k}"] += recall.sum()
            sums[f"ndcg@{k}"] += ndcg.sum()
            seen[k].update(int(i) for i in top[:, :k].ravel() if i >= 0)
    coverage = {f"coverage@{k}": len(seen[k]) / max(items, 1) for k in ks}
    return {**{key: value / max(n, 1) for key, value in sums.items()}, **coverage, "users": n}


def random_recall(candidate_counts: np.ndarray, relevant_counts: np.ndarray, k: int) -> float:
    """Expected Recall@k of a uniformly random ranking (each relevant item: min(k, n)/n)."""
    valid = (candidate_counts > 0) & (relevant_counts > 0)
    if not valid.any():
        return 0.0
    per_user = np.minimum(k, candidate_counts[valid]) / candidate_counts[valid]
    return float(per_user.mean())
