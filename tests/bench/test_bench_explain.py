"""bench-explain's per-modality parts and one small run of every measurement."""

import numpy as np
import pandas as pd

from bench.bench_explain import MODALITIES, markdown, run, with_parts
from bench.serve_fixtures import synthetic_catalogue


def test_the_random_parts_add_up_to_each_embedding():
    data, _ = synthetic_catalogue(300, 10)
    parts = with_parts(data, np.random.default_rng(0))
    assert parts.item_parts.parts.shape == (300, len(MODALITIES), data.item_embeddings.shape[1])
    np.testing.assert_allclose(parts.item_parts.parts.sum(axis=1) + parts.item_parts.bias_parts, data.item_embeddings, atol=1e-5)


def test_a_small_run_measures_both_sides(tiny_run, tmp_path):
    results = run(items=500, users=40, work=tmp_path, model_dir=str(tiny_run["model"]))
    assert results["export_mib_explain"] > results["export_mib_plain"]
    assert results["batch_recommendation"]["explain"]["users"] == results["batch_recommendation"]["plain"]["users"] == 40
    assert all(row["explain"]["p50_ms"] > 0 for row in results["latency"].values())
    recs = pd.read_parquet(tmp_path / "recs-True.parquet")
    columns = [f"contribution_{m}" for m in MODALITIES]
    np.testing.assert_allclose(recs[columns].sum(axis=1) + recs["base"], recs["score"], rtol=1e-4, atol=1e-5)
    assert "explain / serving_default" in markdown(results)
    assert results["export_mib_explain_float16"] < results["export_mib_explain"]
    agreement = results["float16_agreement"]
    assert agreement["slots"] == 40 * 10
    assert 0 < agreement["max_abs_diff"] < 1e-3 * agreement["max_abs_contribution"] * 10
    assert agreement["driver_agreement"] > 0.95
    trained = results["float16_agreement_trained"]
    assert trained["slots"] > 0 and trained["max_abs_diff"] > 0 and trained["driver_agreement"] > 0.95
    assert "trained model" in markdown(results)
