"""The human summary `braid run` prints."""

import json

import pandas as pd

from braidrec.pipeline.run import summary


def test_summary_reports_metrics_alignment_and_recommendations(tiny_run):
    metrics = json.loads(tiny_run["metrics"].read_text())
    result = {"run": tiny_run["data"].parent, "metrics": metrics, "export": tiny_run["export"], "recs": tiny_run["recs"]}
    text = summary(result, users=1, top=3)
    assert f"{metrics['braidrec']['warm']['recall@10']:.4f}" in text
    unseen = metrics["alignment"]["unseen_text_to_image"]
    assert f"of which cold items, never aligned in training: {unseen['recall@10']:.3f} ({unseen['items']} queries)" in text
    search = metrics["alignment"]["text_search"]
    assert f"finds it in the top 10 for {search['recall@10']:.3f} of {search['items']} items" in text
    assert "top-3 recommendations" in text
    prior = json.loads((tiny_run["model"] / "history.json").read_text())["cold_prior"]
    assert f"by {prior['heldout_gain']:.3f} nats per interaction" in text
    # The tiny run keeps the default weight of the taste profile for items without a trained id.
    assert "cold items scored with the user's taste profile at weight 0.75, the tower's vector at 0.25" in text
    assert f"cold items in {metrics['mixed']['cold_share@10']:.3f} of the slots" in text
    drivers = metrics["drivers@10"]
    shares = [f"{name} {share:.2f}" for name, share in drivers["all"].items() if share > 0]
    assert "top-10 slots driven by (largest contribution to the score): " + ", ".join(shares) in text
    assert drivers["slots"]["without_id"] > 0, "the tiny run ranks some cold items into the top 10"
    cold = [f"{name} {share:.2f}" for name, share in drivers["without_id"].items() if share > 0]
    assert f"the {drivers['slots']['without_id']} slots of items without a trained id: " + ", ".join(cold) in text
    # Each recommendation shown names what drove it.
    recs = pd.read_parquet(tiny_run["recs"])
    first = recs[recs["user_id"] == sorted(recs["user_id"].unique())[0]].sort_values("rank").iloc[0]
    assert f"({first['score']:.3f}, {first['driver']})" in text
    efficiency = metrics["efficiency"]
    assert f"cost: {efficiency['parameters']['total']:,} weights" in text
    assert f"{efficiency['throughput']['users_ranked_over_the_catalogue']['per_s']:,.0f} users ranked over the catalogue/s" in text
