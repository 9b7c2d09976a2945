"""bench-incremental's "yesterday" (the earliest interactions of the same catalogue) and its replay of
shorter patiences."""

import pandas as pd
import pytest

from bench.bench_incremental import patience_replay, yesterday_data


@pytest.mark.parametrize("share", [0.5, 0.8])
def test_yesterday_keeps_the_earliest_share_of_interactions_and_every_item(tiny_run, tmp_path, share):
    today = pd.read_parquet(tiny_run["data"] / "interactions.parquet")
    out = yesterday_data(tiny_run["data"], tmp_path / "yesterday", share)
    kept = pd.read_parquet(out / "interactions.parquet")
    assert abs(len(kept) - share * len(today)) <= today["timestamp"].value_counts().max()
    # Every interaction up to the cut, and none after it.
    assert (today["timestamp"] <= kept["timestamp"].max()).sum() == len(kept) < len(today)
    for table in ("items.parquet", "users.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / table), pd.read_parquet(tiny_run["data"] / table))
    # The raw data the bench's features came from is left as it was.
    assert len(pd.read_parquet(tiny_run["data"] / "interactions.parquet")) == len(today)


@pytest.mark.parametrize("patience, window, expected", [
    # 0.201 is no gain over 0.20 at min_delta 0.002, so the wait starts at epoch 2.
    (2, 1, {"best_epoch": 2, "stop_epoch": 4, "best_value": 0.20}),
    (3, 1, {"best_epoch": 5, "stop_epoch": 8, "best_value": 0.25}),
    (8, 1, {"best_epoch": 5, "stop_epoch": 8, "best_value": 0.25}),
    # Means of three epochs: 0.10, 0.15, 0.167, 0.197, 0.214, 0.227, 0.243, 0.240; each of epochs 2-7 gains.
    (2, 3, {"best_epoch": 7, "stop_epoch": 8, "best_value": 0.24}),
])
def test_patience_replay_follows_early_stopping_by_hand(patience, window, expected):
    curve = [0.10, 0.20, 0.201, 0.19, 0.25, 0.24, 0.24, 0.24]
    assert patience_replay(curve, patience, min_delta=0.002, window=window) == expected
