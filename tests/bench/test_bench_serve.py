"""bench-serve's measurement of the partitioned index with score offsets, on a small catalogue."""

import numpy as np

from bench.bench_serve import lifted_items
from bench.serve_fixtures import numpy_top_k, synthetic_catalogue


def test_numpy_top_k_adds_item_offsets():
    users = np.array([[1.0, 0.0]], np.float32)
    items = np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 1.0]], np.float32)
    known = np.zeros((1, 0), np.int64)
    assert numpy_top_k(users, items, known, 1).tolist() == [[0]]
    assert numpy_top_k(users, items, known, 1, np.array([0.0, 0.0, 2.0], np.float32)).tolist() == [[2]]


def test_lifted_items_are_found_and_fill_part_of_the_exact_top_k(tmp_path):
    data, user_vectors = synthetic_catalogue(3000, 256)
    result = lifted_items(data, user_vectors, tmp_path, np.random.default_rng(0), share=0.02)
    assert result["lifted"] == 60
    assert result["recall@10"] >= 0.99
    # The offsets are drawn to matter: without lifted items in the exact top-k the recall says nothing.
    assert 0.0 < result["lifted_share_of_exact_top10"] < 1.0
    assert result["batch1"]["savedmodel"]["p50_ms"] > 0
