"""Ranking metrics on hand-computed cases."""

import numpy as np
import pytest

from braidrec.models.ranking import evaluate_ranking, random_recall, recall_ndcg, top_k


def test_top_k_respects_candidates_and_ties():
    scores = np.array([[0.9, 0.5, 0.5, 0.1]])
    assert top_k(scores, np.array([[False, True, True, True]]), 2).tolist() == [[1, 2]]
    assert top_k(scores, np.array([[True, False, False, False]]), 3).tolist() == [[0, -1, -1]]


def test_recall_and_ndcg_by_hand():
    top = np.array([[3, 1, 2], [0, 1, 2]])
    recall, ndcg = recall_ndcg(top, [{1}, {2, 5}], k=3)
    assert recall.tolist() == [1.0, 0.5]
    assert ndcg[0] == pytest.approx(1 / np.log2(3))
    assert ndcg[1] == pytest.approx((1 / np.log2(4)) / (1 + 1 / np.log2(3)))


def test_evaluate_ranking_batches_agree():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(7, 20))
    relevant = [{int(i)} for i in rng.integers(0, 20, size=7)]
    full = lambda rows: scores[rows]  # noqa: E731
    cands = lambda rows: np.ones((len(rows), 20), bool)  # noqa: E731
    assert evaluate_ranking(full, cands, relevant, [5], batch_size=2) == evaluate_ranking(full, cands, relevant, [5], batch_size=100)


def test_random_recall():
    assert random_recall(np.array([20, 5]), np.array([1, 2]), 10) == pytest.approx((0.5 + 1.0) / 2)


def test_coverage_counts_distinct_items_in_any_top_k():
    scores = np.array([[3.0, 2.0, 1.0, 0.0], [3.0, 0.0, 2.0, 1.0]])
    cands = lambda rows: np.ones((len(rows), 4), bool)  # noqa: E731
    out = evaluate_ranking(lambda rows: scores[rows], cands, [{0}, {2}], [1, 2])
    assert out["coverage@1"] == 0.25
    assert out["coverage@2"] == 0.75
