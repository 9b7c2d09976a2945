"""bench-incremental's "yesterday": the earliest interactions of the same catalogue."""

import pandas as pd
import pytest

from bench.bench_incremental import yesterday_data


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
