"""Incremental extraction: only items whose text or image changed are encoded again."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
from PIL import Image

from braidrec.config import ExtractConfig
from braidrec.features import contract
from braidrec.pipeline.extract_runner import run_extract


def _change_two_items(data):
    """Edits one item's text and another's image; returns their ids."""
    items = pd.read_parquet(data / "items.parquet")
    with_image = items[items["image_path"].notna()].index
    text_row, image_row = int(with_image[0]), int(with_image[1])
    items.loc[text_row, "description"] = "an entirely new description"
    items.to_parquet(data / "items.parquet", index=False)
    Image.new("RGB", (20, 30), (0, 200, 0)).save(data / items.loc[image_row, "image_path"])
    return items.loc[text_row, "item_id"], items.loc[image_row, "item_id"]


def test_rerun_reencodes_only_changed_items(small_data, tmp_path, features_reader):
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    config = ExtractConfig(num_shards=1, cache_dir=str(tmp_path / "cache"))
    first = run_extract(data, tmp_path / "features", config)
    n = first["counts"]["items"]
    assert (first["counts"]["items_encoded"], first["counts"]["items_reused"]) == (n, 0)
    before = features_reader.items(tmp_path / "features")

    text_item, image_item = _change_two_items(data)
    second = run_extract(data, tmp_path / "features", config)
    assert (second["counts"]["items_encoded"], second["counts"]["items_reused"]) == (2, n - 2)
    assert second["counts"]["dead_letter.image_corrupt"] == first["counts"]["dead_letter.image_corrupt"] > 0, \
        "a cached undecodable image is reported again"
    after = features_reader.items(tmp_path / "features")
    assert not np.array_equal(after[image_item][contract.IMAGE], before[image_item][contract.IMAGE])
    assert after[text_item][contract.TEXT] != before[text_item][contract.TEXT]
    unchanged = set(before) - {text_item, image_item}
    for item in unchanged:
        np.testing.assert_array_equal(after[item][contract.IMAGE], before[item][contract.IMAGE])

    fresh = run_extract(data, tmp_path / "fresh", ExtractConfig(num_shards=1, cache_dir="none"))
    assert fresh["counts"]["items_encoded"] == n and not (tmp_path / ".extract_cache").exists()
    recomputed = features_reader.items(tmp_path / "fresh")
    for item in before:
        np.testing.assert_array_equal(recomputed[item][contract.IMAGE], after[item][contract.IMAGE])
        assert recomputed[item][contract.THUMBNAIL] == after[item][contract.THUMBNAIL]
