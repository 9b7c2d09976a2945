"""A catalogue of ids alone: new items have nothing to place them, and are never recommended ahead of placed ones."""

import json
import re

import numpy as np
import pandas as pd

from tests.conftest import TINY_TRAIN, braid


def _ids_only_dataset(root):
    rng = np.random.default_rng(0)
    # A title column whose cells are all empty: the summary shows such items by their ids.
    pd.DataFrame({"item_id": [f"p{i}" for i in range(120)], "title": ""}).to_csv(root / "items.csv", index=False)
    # Users favour low item numbers, so every item has a popularity of its own.
    rows = [(f"u{u}", f"p{i}", 1_600_000_000 + 100 * u + j)
            for u in range(80) for j, i in enumerate(rng.choice(120, size=int(rng.integers(4, 20)), replace=False,
                                                                p=np.linspace(2, 1, 120) / np.linspace(2, 1, 120).sum()))]
    pd.DataFrame(rows, columns=["user_id", "item_id", "ts"]).to_csv(root / "interactions.csv", index=False)
    (root / "dataset.yaml").write_text("name: ids-only\nitems: {path: items.csv, id: item_id, title: title}\n"
                                       "interactions: {path: interactions.csv, user: user_id, item: item_id, timestamp: ts}\n")
    return root


def test_new_items_without_content_stay_out_of_the_recommendations(tmp_path, capsys):
    data = tmp_path / "data_in"
    data.mkdir()
    _ids_only_dataset(data)
    out = tmp_path / "run"
    braid("run", "--data.source", data, "--out", out, *TINY_TRAIN, "--model.user_features", "false",
          "--extract.num_shards", "1", "--export.k", "10", "--recommend.k", "5")
    printed = capsys.readouterr().out

    metrics = json.loads((out / "metrics.json").read_text())
    split = metrics["split"]
    assert split["cold_items"] > 0 and split["unplaced_cold_items"] == split["cold_items"]
    assert f"{split['unplaced_items']} items ({split['cold_items']} of them cold) have neither a trained id" in printed
    # The fusion weights average over placed items only: every one of them is its id.
    assert metrics["attention"]["overall"]["id"] == 1.0
    # No placed new item to calibrate, and none of the unplaced ones in anyone's top-10.
    assert json.loads((out / "model" / "history.json").read_text())["cold_calibration"] is None
    assert metrics["mixed"]["cold_share@10"] == 0.0
    cold = set(pd.read_parquet(out / "features" / "splits" / "cold_test.parquet")["item_id"])
    recs = pd.read_parquet(out / "recs.parquet")
    assert len(recs) and not cold & set(recs["item_id"])
    assert re.search(r"   1\. p\d+ \(", printed), printed
