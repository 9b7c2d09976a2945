"""The same input gives the same examples on DirectRunner in-process and in multi-processing mode."""

from __future__ import annotations

import numpy as np
import pandas as pd

from braidrec.config import ExtractConfig
from braidrec.features import contract
from braidrec.pipeline.extract_runner import run_extract

MULTI = ("--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2")


def test_in_process_and_multi_processing_agree(small_data, tmp_path, features_reader):
    config = ExtractConfig(num_shards=2, cache_dir="none")
    single = run_extract(small_data, tmp_path / "single", config, ["--runner=DirectRunner"])
    multi = run_extract(small_data, tmp_path / "multi", config, list(MULTI))
    assert single["counts"] == multi["counts"]
    assert single["runner"] == multi["runner"] == "FnApiRunner"
    items_a, items_b = features_reader.items(tmp_path / "single"), features_reader.items(tmp_path / "multi")
    assert sorted(items_a) == sorted(items_b) and len(items_a) == single["counts"]["items"]
    for item_id, features in items_a.items():
        other = items_b[item_id]
        assert features.keys() == other.keys(), item_id
        for name, value in features.items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(value, other[name], err_msg=f"{item_id} {name}")
            else:
                assert value == other[name], (item_id, name)
    assert features_reader.histories(tmp_path / "single") == features_reader.histories(tmp_path / "multi")
    for name in contract.SPLIT_NAMES:
        frames = [pd.read_parquet(tmp_path / d / contract.SPLITS_DIR / f"{name}.parquet")
                  .sort_values(["user_id", "item_id"]).reset_index(drop=True) for d in ("single", "multi")]
        pd.testing.assert_frame_equal(*frames)
    for name in (contract.ITEM_VOCAB, contract.TEXT_VOCAB, contract.CATEGORICAL_VOCAB, contract.ENCODERS):
        vocab = [(tmp_path / d / contract.VOCAB_DIR / name).read_text() for d in ("single", "multi")]
        assert vocab[0] == vocab[1], name
