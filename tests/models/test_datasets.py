"""Training inputs: next-item pairs and the sampling probabilities the logQ correction reads."""

import numpy as np
import pytest

from braidrec.features import contract
from braidrec.models import datasets
from braidrec.models.two_tower import NEGATIVE_PROBABILITY, SAMPLING_PROBABILITY, TARGET_PREFIX


def test_pad_histories_keeps_most_recent_on_the_right():
    out = datasets.pad_histories([["a", "b", "c"], [], ["x"]], 2)
    assert out.tolist() == [["b", "c"], ["", ""], ["", "x"]]


def test_next_item_pairs_use_only_earlier_train_items():
    user = contract.UserHistory("u", ["a", "b", "c", "d"], [1, 2, 3, 4], [0, 0, 1, 2])
    users, histories, targets = datasets.next_item_pairs([user], contract.SPLIT_TRAIN, 3)
    assert targets.tolist() == ["a", "b"]
    assert histories.tolist() == [["", "", ""], ["", "", "a"]]
    _, histories, targets = datasets.next_item_pairs([user], contract.SPLIT_TEST, 3)
    assert targets.tolist() == ["d"] and histories.tolist() == [["a", "b", "c"]]


@pytest.mark.parametrize("negatives", [0, 16])
def test_sampling_probabilities_stay_proportional_and_below_one(tiny_run, negatives):
    """TFRS clips the probability to [1e-6, 1]: values above 1 would silently flatten logQ."""
    catalogue = contract.load_catalogue(tiny_run["features"])
    histories = contract.load_histories(tiny_run["features"])
    share = datasets.sampling_probabilities(catalogue, histories)
    users, hist, targets = datasets.next_item_pairs(histories, contract.SPLIT_TRAIN, 5)
    batch = next(iter(datasets.retrieval_dataset(catalogue, users, hist, targets, share, 256, None, negatives)))
    probability = batch[SAMPLING_PROBABILITY].numpy()
    assert ((probability > 0) & (probability <= 1)).all()
    rows = [catalogue.index()[i.decode()] for i in batch[TARGET_PREFIX + contract.ITEM_ID].numpy()]
    size = len(rows)
    np.testing.assert_allclose(probability, share[rows] + negatives / len(catalogue) / size, rtol=1e-5)
    if negatives:
        assert batch[NEGATIVE_PROBABILITY].shape == (negatives,)
