"""Cross-modal retrieval on hand-made embeddings; the robustness variants' inputs."""

import numpy as np
import pytest

from braidrec.models.diagnostics import _without_profiles, cross_modal_recall
from braidrec.models.evaluate import EvalData


def test_cross_modal_recall_by_hand():
    keys = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # Query 0 finds key 0 first; query 1 ranks key 2 above its own key 1; query 2 finds key 2 first.
    queries = np.array([[1.0, 0.1], [0.6, 1.0], [1.0, 1.1]])
    assert cross_modal_recall(queries, keys, ks=(1, 2)) == pytest.approx({"recall@1": 2 / 3, "recall@2": 1.0})
    # Scoring some queries only still ranks them against every key.
    assert cross_modal_recall(queries, keys, ks=(1,), rows=np.array([1])) == {"recall@1": 0.0}


def test_no_profile_blanks_every_profile_but_keeps_the_numeric_width(tiny_run):
    data = EvalData.load(tiny_run["features"])
    blank = _without_profiles(data)
    assert all(h.categorical == [] and not any(h.numeric_mask) and len(h.numeric) == 1 for h in blank.histories)
    assert [h.items for h in blank.histories] == [h.items for h in data.histories]
