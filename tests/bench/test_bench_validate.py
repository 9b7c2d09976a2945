"""bench-validate's generated dataset and its two measured sides, on a short table."""

import pandas as pd

from bench.bench_validate import ITEMS, make_dataset, measure
from braidrec.data.validate import validate_dataset


def test_the_generated_dataset_is_valid_and_both_sides_measure_it(tmp_path):
    dataset = make_dataset(tmp_path, rows=1_500_000)
    # Two row groups, so the chunked side reads more than one chunk.
    assert len(pd.read_parquet(dataset / "interactions.parquet", columns=["rating"])) == 1_500_000
    assert len(pd.read_parquet(dataset / "items.parquet")) == ITEMS
    whole, chunked = measure(dataset, "whole"), measure(dataset, "1000000")
    assert whole["problems"] == chunked["problems"] == 0 and chunked["peak_mib"] > 0 < whole["seconds"]


def test_a_broken_row_past_the_first_chunk_is_named_by_its_row(tmp_path):
    dataset = make_dataset(tmp_path, rows=2_500)
    frame = pd.read_parquet(dataset / "interactions.parquet")
    frame.loc[2_345, "item_id"] = "nowhere"
    frame.to_parquet(dataset / "interactions.parquet", index=False)
    problems = validate_dataset(dataset, chunk_rows=1_000)
    assert [(p.row, p.column, p.kind) for p in problems] == [(2_346, "item_id", "unknown-id")]
