"""Re-score stored models' cold task at several ``model.cold_fusion_temperature`` values.

The temperature acts at inference only, so one trained model answers for every value:

    python -m bench.rescore_cold --features FEATURES --models RUN/model [RUN2/model ...] --temperatures 1,1.5,2,3

prints one JSON line per model: ``{"model", "cold_recall@10": {temperature: value}, "text_search_unseen@10": ...}``.
The scores are the cold task of ``braid evaluate`` (``models/evaluate.py``) and the unseen items' text
search of ``metrics.json``'s ``alignment.text_search``.
"""

from __future__ import annotations

import argparse
import json
import sys

from braidrec.models import ranking
from braidrec.models.checkpoint import load_model_dir
from braidrec.models.diagnostics import text_search_report
from braidrec.models.evaluate import EvalData, item_embeddings, task_scores


def rescore(features: str, model_dir: str, temperatures: list[float], k: int = 10) -> dict:
    """Cold Recall@k and the cold items' text search Recall@k of one stored model at each temperature.

    Args:
        features: the features directory the model was trained on.
        model_dir: output of ``braid train``.
        temperatures: values of ``model.cold_fusion_temperature`` (each > 0).
        k: the cut-off.

    Returns:
        ``{"model", "cold_recall@k": {t: value}, "text_search_unseen@k": {t: value}}``.

    Raises:
        ValueError: a temperature <= 0.
    """
    if any(t <= 0 for t in temperatures):
        raise ValueError(f"--temperatures {temperatures}: every value must be > 0 (1: as trained)")
    data = EvalData.load(features)
    model = load_model_dir(model_dir, features).model
    ids, histories, relevant, candidates = data.cold_task()
    cold, search = {}, {}
    for temperature in temperatures:
        model.item_tower.cold_fusion_temperature = temperature
        items = item_embeddings(model, data.catalogue)
        scores = task_scores(model, data, None, ids, histories, items)
        cold[temperature] = ranking.evaluate_ranking(scores, candidates, relevant, [k])[f"recall@{k}"]
        report = text_search_report(model, data.catalogue, items.embeddings, data.cold_mask)
        search[temperature] = report.get("unseen", {}).get(f"recall@{k}")
    return {"model": str(model_dir), f"cold_recall@{k}": cold, f"text_search_unseen@{k}": search}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", required=True, help="the features directory the models were trained on")
    parser.add_argument("--models", nargs="+", required=True, help="`braid train` output directories")
    parser.add_argument("--temperatures", default="1,1.5,2,3", help="comma list of model.cold_fusion_temperature values")
    args = parser.parse_args(argv)
    temperatures = [float(t) for t in args.temperatures.split(",")]
    for model_dir in args.models:
        print(json.dumps(rescore(args.features, model_dir, temperatures)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
