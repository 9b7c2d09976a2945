"""Cross-modal retrieval on hand-made embeddings; the robustness variants' inputs; the fusion weights' means."""

import numpy as np
import pytest

from braidrec.features import contract, readers
from braidrec.models import diagnostics
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


def test_attention_report_averages_over_the_placed_items_only():
    weights = np.array([[0.5, 0.5], [1.0, 0.0], [0.0, 0.0]])  # the last item has no modality present
    catalogue = readers.Catalogue(np.array(["a", "b", "c"]), np.array(["a", "b", "c"]),
                                  {contract.CATEGORICAL: np.array([[b"x"], [b"y"], [b"x"]])})
    report = diagnostics.attention_report(weights, ["id", "text"], catalogue, np.array([True, True, False]))
    assert report["overall"] == {"id": 0.75, "text": 0.25}
    assert report["per_category"] == {"x": {"id": 0.5, "text": 0.5}, "y": {"id": 1.0, "text": 0.0}}
    # Without the mask every row counts, the empty one's zeros included.
    assert diagnostics.attention_report(weights, ["id", "text"], catalogue)["overall"] == {"id": 0.5, "text": 0.5 / 3}
