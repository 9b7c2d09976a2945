"""bench.epoch_curves: per-epoch validation and test curves, and selection rules replayed on them."""

import json

import numpy as np
import pytest
import tf_keras as keras

from bench.epoch_curves import main, replay
from braidrec.models import early_stopping
from braidrec.models.early_stopping import BestValidationEpoch


def _stopping_on(monkeypatch, values: list[float], metric: str, window: int, min_delta: float, patience: int):
    """(best epoch, epochs run) of BestValidationEpoch fed ``values`` as the validation metric, counted from 1."""
    scripted = iter(values)
    monkeypatch.setattr(early_stopping, "model_metrics",
                        lambda *a, **k: {"warm": {metric: next(scripted), "recall@10": 0.0, "users": 5}})
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(1,))])
    callback = BestValidationEpoch(data=None, metric=metric, patience=patience, min_delta=min_delta, window=window)
    callback.set_model(model)
    callback.on_train_begin()
    epochs = 0
    while not model.stop_training and epochs < len(values):
        callback.on_epoch_end(epochs, logs={})
        epochs += 1
    return callback.best_epoch + 1, epochs


@pytest.mark.parametrize("window, min_delta, patience", [(1, 0.0, 3), (1, 0.002, 8), (3, 0.002, 4), (2, 0.0, 2)])
def test_replay_keeps_the_epoch_early_stopping_keeps(monkeypatch, window, min_delta, patience):
    rng = np.random.default_rng(window * 10 + patience)
    for _ in range(20):
        # A rising, noisy validation curve that flattens: plateaus where the rules disagree.
        values = list(np.round(0.6 * (1 - np.exp(-np.arange(1, 31) / 6)) + rng.normal(0, 0.01, 30), 4))
        curves = [{"epoch": i + 1, "val": {"recall@50": v}, "test": {"recall@10": i, "ndcg@10": 0.0}}
                  for i, v in enumerate(values)]
        kept = replay(curves, "recall@50", window, min_delta, patience)
        expected = _stopping_on(monkeypatch, values, "recall@50", window, min_delta, patience)
        assert (kept["best_epoch"], kept["stopped_at"]) == expected
        assert kept["test"]["recall@10"] == expected[0] - 1


def test_replay_refuses_empty_curves():
    with pytest.raises(ValueError, match="no epoch"):
        replay([], "recall@50")


def test_record_writes_val_and_test_for_every_epoch_and_replay_reads_it(tiny_run, tmp_path, capsys):
    out = tmp_path / "model"
    main(["record", "--features", str(tiny_run["features"]), "--out", str(out), "--train.epochs", "2",
          "--train.patience", "9", "--train.batch_size", "128", "--model.embedding_dim", "16", "--train.verbose", "0"])
    recorded = json.loads((tmp_path / "model.curves.json").read_text())
    assert [row["epoch"] for row in recorded["epochs"]] == [1, 2]
    history = json.loads((out / "history.json").read_text())
    # The validation the recorder logs is the one early stopping read.
    assert [row["val"]["recall@50"] for row in recorded["epochs"]] == pytest.approx(history["val_recall@50"])
    assert all(0 <= row["test"][k] <= 1 for row in recorded["epochs"] for k in ("recall@10", "ndcg@10", "recall@50"))
    capsys.readouterr()
    main(["replay", str(tmp_path / "model.curves.json"), "--patience", "9"])
    assert f"epoch {history['best_epoch']} " in capsys.readouterr().out
