"""``braid evaluate``: metrics.json for a trained model on its features' test split."""

from __future__ import annotations

import json
from pathlib import Path

from braidrec.data.synth_truth import GroundTruth
from braidrec.features import contract
from braidrec.models import diagnostics
from braidrec.models.checkpoint import HISTORY_JSON, load_model_dir
from braidrec.models.efficiency import StageTimer, efficiency_report
from braidrec.models.evaluate import EvalData, baseline_metrics, item_embeddings, model_metrics
from braidrec.models.evaluate_mixed import mixed_ranking, mixed_ranking_metrics
from braidrec.models.explain import driver_report
from braidrec.pipeline.fileutil import write_text_atomic


def check_eval_settings(ks: list[int], batch_size: int) -> None:
    """Raises ValueError unless there is a cut-off, each is >= 1, and ``batch_size`` is >= 1."""
    if not ks or any(k < 1 for k in ks):
        raise ValueError(f"--eval.ks {ks}: give one or more cut-offs, each >= 1, e.g. --eval.ks 10,20")
    if batch_size < 1:
        raise ValueError(f"--eval.batch_size {batch_size} must be >= 1 (users scored per batch)")


def evaluate_model_dir(model_dir: str | Path, features_dir: str | Path | None, ks: list[int], batch_size: int = 1024) -> dict:
    """braidrec's warm/cold metrics, the baselines, alignment, robustness, attention, coverage, drivers, efficiency.

    The oracle is included when the dataset the features came from carries
    ground truth (the synthetic catalogue does).

    Raises:
        ValueError: as :func:`check_eval_settings`, before any work.
    """
    check_eval_settings(ks, batch_size)
    trained = load_model_dir(model_dir, features_dir)
    data = EvalData.load(trained.features_dir)
    manifest = json.loads((Path(trained.features_dir) / contract.MANIFEST).read_text())
    dataset_dir = Path(manifest["dataset"])
    ground_truth = GroundTruth.load(dataset_dir) if (dataset_dir / "dataset.yaml").is_file() else None
    timer = StageTimer()
    with timer("catalogue_items_with_parts", len(data.catalogue)):
        items = item_embeddings(trained.model, data.catalogue, batch_size, with_parts=True)
    metrics = {"braidrec": model_metrics(trained.model, data, sorted(set(ks) | {10}), batch_size=batch_size, items=items)}
    metrics.update(baseline_metrics(data, ks, ground_truth, batch_size))
    metrics["attention"] = diagnostics.attention_report(items.weights, trained.model.item_tower.modalities, data.catalogue,
                                                        items.placed)
    metrics["alignment"] = diagnostics.alignment_report(trained.model, data.catalogue, unseen=data.cold_mask)
    with timer("text_queries_searched", int((data.catalogue.features[contract.HAS_TEXT] > 0).sum())):
        metrics["alignment"]["text_search"] = diagnostics.text_search_report(
            trained.model, data.catalogue, items.embeddings, unseen=data.cold_mask, batch_size=batch_size)
    metrics["robustness"] = diagnostics.robustness_report(trained.model, data, ks)
    metrics["coverage@10"] = metrics["braidrec"]["warm"]["coverage@10"]
    # One whole-catalogue ranking of the test users, read by both.
    with timer("users_ranked_over_the_catalogue", len(data.task_users(contract.SPLIT_TEST))):
        ranked = mixed_ranking(trained.model, data, items, batch_size=batch_size)
    metrics["mixed"] = mixed_ranking_metrics(trained.model, data, items, ranked=ranked)
    metrics["drivers@10"] = driver_report(trained.model, data, items, ranked=ranked)
    # Items with neither a trained id nor content: nothing places them, so they rank below every other.
    unplaced = ~items.placed
    metrics["split"] = {"items": len(data.catalogue), "cold_items": int(len(data.cold_items)),
                        "unplaced_items": int(unplaced.sum()), "unplaced_cold_items": int(unplaced[data.cold_items].sum()),
                        "test_users": metrics["braidrec"]["warm"]["users"]}
    history_file = Path(model_dir) / HISTORY_JSON
    history = json.loads(history_file.read_text()) if history_file.is_file() else None
    metrics["efficiency"] = efficiency_report(trained.model, timer, history)
    return metrics


def write_metrics(metrics: dict, out: str | Path) -> None:
    """Writes metrics.json atomically."""
    write_text_atomic(Path(out), json.dumps(metrics, indent=2))
