"""The SASRec peer's early stopping (TensorFlow only, so it runs without the bench extra)."""

import pytest

from bench.peers.sasrec import SASRecConfig, fit_sasrec


@pytest.mark.parametrize("cutoff, name, best_epoch", [(10, "SASRec", 2), (50, "SASRec (val Recall@50)", 3)])
def test_sasrec_stops_on_the_validation_recall_it_is_given(data, monkeypatch, cutoff, name, best_epoch):
    import bench.peers.sasrec as sasrec

    # Scripted validation: Recall@10 peaks at epoch 2, Recall@50 at epoch 3.
    script = {10: iter([0.1, 0.3, 0.2]), 50: iter([0.5, 0.4, 0.6])}
    monkeypatch.setattr(sasrec, "val_recall", lambda scorer, d, k: next(script[k]))
    scorer = fit_sasrec(data, 0, SASRecConfig(dim=8, max_epochs=3, batch_size=64), selection_cutoff=cutoff)
    assert scorer.name == name
    assert scorer.info["best_epoch"] == best_epoch and scorer.info["selection_cutoff"] == cutoff


def test_sasrec_refuses_a_cutoff_below_one(data):
    with pytest.raises(ValueError, match="selection_cutoff 0"):
        fit_sasrec(data, 0, SASRecConfig(dim=8, max_epochs=1), selection_cutoff=0)
