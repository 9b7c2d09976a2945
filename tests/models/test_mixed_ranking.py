"""The whole-catalogue (mixed) ranking task, its metrics and the cold items' calibration shift."""

import json
import types

import numpy as np
import pytest

from braidrec.features import contract
from braidrec.features.readers import UserHistory
from braidrec.models.evaluate import EvalData
from braidrec.models.evaluate_mixed import MixedRanking, mixed_ranking_metrics
from braidrec.models.mixed_ranking import MixedTask, check_calibration, fit_cold_shift, mixed_metrics, mixed_task, mixed_top_k

TRAIN, VAL, TEST = contract.SPLIT_TRAIN, contract.SPLIT_VAL, contract.SPLIT_TEST


def _data():
    """Items a-d warm (a-c in train), x and y cold; one user: a, b (train), c (val, t=30), d (test, t=50),
    and cold x at t=40 (between val and test) and y at t=60 (after test)."""
    user = UserHistory("u", ["a", "b", "c", "d"], [10, 20, 30, 50], [TRAIN, TRAIN, VAL, TEST])
    index = {item: row for row, item in enumerate("abcdxy")}
    return types.SimpleNamespace(
        catalogue=list("abcdxy"), index=index, cold_mask=np.array([False] * 4 + [True] * 2), train_counts=np.array([1, 1, 1, 0, 0, 0]),
        cold_events={"u": [(4, 40), (5, 60)]}, task_users=lambda split: [user],
    )


def test_windows_split_the_cold_items_between_validation_and_test():
    data = _data()
    val, test = mixed_task(data, VAL), mixed_task(data, TEST)
    assert val.relevant == [{2, 4}]  # c, and x met before the test item's time
    assert test.relevant == [{3, 5}]  # d, and y
    assert set(val.known[0]) == {0, 1} and set(test.known[0]) == {0, 1, 2, 4}
    # Candidates: warm items in train and every cold item (d has no train interaction).
    np.testing.assert_array_equal(val.candidates, [True, True, True, False, True, True])


def test_metrics_count_recall_warm_hits_and_cold_slots():
    task = MixedTask(TEST, [np.array([0]), np.array([], np.int64)], [{1, 3}, {2}], np.ones(4, bool))
    cold = np.array([False, False, False, True])
    scores = np.array([[9.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0]])
    # k=2: user 0 gets 3, 2 (row 0 known): hits {3}, recall 1/2, no warm hit; user 1 gets 3, 2: hit {2}.
    out = mixed_metrics(lambda rows: scores[rows], task, cold, k=2)
    assert out["recall@2"] == pytest.approx(0.75)
    assert out["warm_hits@2"] == pytest.approx(0.5)
    assert out["cold_share@2"] == pytest.approx(0.5)
    assert out["relevant_cold_share"] == pytest.approx(0.25)


@pytest.mark.parametrize("target", [0.0, 0.1, 0.3])
def test_shift_gives_cold_items_the_target_share(target):
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(400, 60))
    cold = np.arange(60) < 12
    scores[:, cold] += 1.0  # cold items score high before the shift
    task = MixedTask(VAL, [np.array([], np.int64)] * 400, [set()] * 400, np.ones(60, bool))
    shift = fit_cold_shift(scores, task.candidate_mask(task.user_rows), cold, target)
    top = np.argsort(-(scores + shift * cold), axis=1)[:, :10]
    assert cold[top].mean() == pytest.approx(target, abs=0.005)
    with pytest.raises(ValueError, match="target share"):
        fit_cold_shift(scores, task.candidate_mask(task.user_rows), cold, 1.5)


def test_trained_model_records_its_calibration_and_mixed_metrics(tiny_run):
    history = json.loads((tiny_run["model"] / "history.json").read_text())
    calibration = history["cold_calibration"]
    assert 0 < calibration["target_share"] < 1 and np.isfinite(calibration["shift"])
    mixed = json.loads(tiny_run["metrics"].read_text())["mixed"]
    assert set(mixed) == {"recall@10", "warm_hits@10", "cold_share@10", "relevant_cold_share", "users"}
    assert 0 <= mixed["cold_share@10"] <= 1 and mixed["users"] > 0


def test_model_mixed_metrics_count_the_splits_cold_items(tiny_run):
    # Every item given a trained id: only the split says which are cold, as for the bench's peers.
    data = EvalData.load(tiny_run["features"])
    items = types.SimpleNamespace(has_id=np.ones(len(data.catalogue), bool))
    scores = np.random.default_rng(0).normal(size=(len(data.histories), len(data.catalogue)))
    task = mixed_task(data, TEST)
    ranked = MixedRanking(task, None, None, mixed_top_k(lambda rows: scores[rows], task))

    mixed = mixed_ranking_metrics(None, data, items, ranked=ranked)

    by_hand = np.mean([np.mean([data.cold_mask[row] for row in relevant]) for relevant in task.relevant])
    assert by_hand > 0 and mixed["relevant_cold_share"] == pytest.approx(by_hand)
    assert mixed["cold_share@10"] > 0


def test_unknown_calibration_is_refused_with_the_choices():
    check_calibration("none")
    with pytest.raises(ValueError, match="'catalogue', 'none'"):
        check_calibration("share")
