"""Re-score stored models' cold task at other inference-time settings of items without a trained id.

``model.cold_fusion_temperature``, ``model.cold_prior_weight`` and ``model.cold_profile_weight`` act
after training only, so one trained model answers for every value of each:

    python -m bench.rescore_cold --features FEATURES --models RUN/model [RUN2/model ...] \\
        --temperatures 1,1.5,2,3 [--prior-weights 1,2,3] [--profile-weights 0.5,0.75,1]

prints one JSON line per model, ``{"model", "runs": [{"temperature", "prior_weight",
"profile_weight", "cold_recall@10", "text_search_unseen@10"}, ...]}`` (one run per combination;
a setting left out keeps the model's own value), then ``{"mean": [...]}``, the same runs averaged
over the models. The scores are the cold task of ``braid evaluate`` (``models/evaluate.py``) and the
unseen items' text search of ``metrics.json``'s ``alignment.text_search``. The content prior keeps the
fit stored with the model; only its weight changes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys

import numpy as np

from braidrec.models import ranking
from braidrec.models.checkpoint import load_model_dir
from braidrec.models.diagnostics import text_search_report
from braidrec.models.evaluate import EvalData, item_embeddings, task_scores


def _check(name: str, values: list[float] | None, positive: bool) -> None:
    if values is None:
        return
    if not values:
        raise ValueError(f"--{name}: give at least one value")
    if any(v <= 0 if positive else v < 0 for v in values):
        raise ValueError(f"--{name} {values}: every value must be {'> 0 (1: as trained)' if positive else '>= 0 (0: off)'}")


def rescore(features: str, model_dir: str, temperatures: list[float] | None = None,
            prior_weights: list[float] | None = None, profile_weights: list[float] | None = None, k: int = 10) -> dict:
    """Cold Recall@k and the cold items' text search Recall@k of one stored model at each combination.

    Args:
        features: the features directory the model was trained on.
        model_dir: output of ``braid train``.
        temperatures: values of ``model.cold_fusion_temperature`` (each > 0); None: the model's.
        prior_weights: values of ``model.cold_prior_weight`` (each >= 0); None: the model's. Needs a
            model trained with a prior (weight > 0), whose fit is reused.
        profile_weights: values of ``model.cold_profile_weight`` (each >= 0); None: the model's.
        k: the cut-off.

    Returns:
        ``{"model", "runs": [{"temperature", "prior_weight", "profile_weight", "cold_recall@k",
        "text_search_unseen@k"}, ...]}``, temperatures outermost.

    Raises:
        ValueError: an out-of-range or empty list, or prior weights for a model without a prior.
    """
    _check("temperatures", temperatures, positive=True)
    _check("prior-weights", prior_weights, positive=False)
    _check("profile-weights", profile_weights, positive=False)
    data = EvalData.load(features)
    model = load_model_dir(model_dir, features).model
    tower, prior = model.item_tower, model.item_tower.content_prior
    if prior_weights is not None and prior is None:
        raise ValueError(f"{model_dir} was trained with model.cold_prior_weight 0, so it has no fitted prior to "
                         "re-weight: leave out --prior-weights, or train with a weight > 0")
    temperatures = temperatures or [tower.cold_fusion_temperature]
    prior_weights = prior_weights or [prior.weight if prior is not None else 0.0]
    profile_weights = profile_weights or [model.cold_profile_weight]
    ids, histories, relevant, candidates = data.cold_task()
    runs, search = [], {}
    for temperature, prior_weight in itertools.product(temperatures, prior_weights):
        tower.cold_fusion_temperature = temperature
        if prior is not None:
            prior.weight = prior_weight
        items = item_embeddings(model, data.catalogue)
        # Text search reads the embeddings alone, which only the temperature changes: once per temperature.
        if temperature not in search:
            search[temperature] = text_search_report(model, data.catalogue, items.embeddings, data.cold_mask).get("unseen", {})
        for profile_weight in profile_weights:
            model.cold_profile_weight = profile_weight
            scores = task_scores(model, data, None, ids, histories, items)
            runs.append({"temperature": temperature, "prior_weight": prior_weight, "profile_weight": profile_weight,
                         f"cold_recall@{k}": ranking.evaluate_ranking(scores, candidates, relevant, [k])[f"recall@{k}"],
                         f"text_search_unseen@{k}": search[temperature].get(f"recall@{k}")})
    return {"model": str(model_dir), "runs": runs}


def mean_runs(results: list[dict]) -> list[dict]:
    """The runs of :func:`rescore` results (same settings, same order) averaged over the models."""
    out = []
    for runs in zip(*(result["runs"] for result in results)):
        mean = dict(runs[0])
        for key, value in runs[0].items():
            if key.startswith(("cold_recall", "text_search")) and value is not None:
                mean[key] = float(np.mean([run[key] for run in runs]))
        out.append(mean)
    return out


def _floats(value: str | None) -> list[float] | None:
    return None if value is None else [float(v) for v in value.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", required=True, help="the features directory the models were trained on")
    parser.add_argument("--models", nargs="+", required=True, help="`braid train` output directories")
    parser.add_argument("--temperatures", help="comma list of model.cold_fusion_temperature values (default: the model's)")
    parser.add_argument("--prior-weights", help="comma list of model.cold_prior_weight values (default: the model's)")
    parser.add_argument("--profile-weights", help="comma list of model.cold_profile_weight values (default: the model's)")
    args = parser.parse_args(argv)
    results = []
    for model_dir in args.models:
        results.append(rescore(args.features, model_dir, _floats(args.temperatures), _floats(args.prior_weights),
                               _floats(args.profile_weights)))
        print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"mean": mean_runs(results)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
