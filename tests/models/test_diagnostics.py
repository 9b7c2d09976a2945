"""Cross-modal retrieval on hand-made embeddings."""

import numpy as np
import pytest

from braidrec.models.diagnostics import cross_modal_recall


def test_cross_modal_recall_by_hand():
    keys = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # Query 0 finds key 0 first; query 1 ranks key 2 above its own key 1; query 2 finds key 2 first.
    queries = np.array([[1.0, 0.1], [0.6, 1.0], [1.0, 1.1]])
    assert cross_modal_recall(queries, keys, ks=(1, 2)) == pytest.approx({"recall@1": 2 / 3, "recall@2": 1.0})
    # Scoring some queries only still ranks them against every key.
    assert cross_modal_recall(queries, keys, ks=(1,), rows=np.array([1])) == {"recall@1": 0.0}
