"""``braid run``: every stage in order into one run directory, then a summary.

Run directory layout::

    RUN/data/          the raw dataset (synthetic source only)
    RUN/features/      braid extract
    RUN/model/         braid train
    RUN/metrics.json   braid evaluate
    RUN/export/NAME/<version>/   braid export
    RUN/recs.parquet   braid recommend
    RUN/config.yaml    the resolved configuration
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import yaml

from braidrec.config import RunConfig
from braidrec.features import readers
from braidrec.models.checkpoint import HISTORY_JSON, MODEL_JSON
from braidrec.models.content_prior import MIN_HELDOUT_GAIN


@dataclasses.dataclass
class RunPaths:
    """Where each stage of a run writes."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def export(self) -> Path:
        return self.root / "export"

    @property
    def recs(self) -> Path:
        return self.root / "recs.parquet"


def run_all(config: RunConfig, beam_args: list[str] | None = None) -> dict:
    """Runs data -> extract -> train -> evaluate -> export -> recommend.

    Returns:
        ``{"run": path, "metrics": ..., "export": version dir, "recs": path}``.

    Raises:
        ValueError: a setting that a stage would refuse, before any stage runs
            (:func:`braidrec.models.preflight.check_settings`), or as the stages raise.
    """
    from braidrec.data.synth import generate_synthetic
    from braidrec.models.evaluate_run import evaluate_model_dir, write_metrics
    from braidrec.models.preflight import check_settings
    from braidrec.models.train import train
    from braidrec.pipeline.extract_runner import run_extract
    from braidrec.pipeline.fileutil import write_text_atomic
    from braidrec.pipeline.recommend import run_recommend
    from braidrec.serving.export import export

    # Minutes of data generation, extraction and training come before the later stages read their settings.
    encoders = check_settings(config)
    paths = RunPaths(Path(config.out))
    paths.root.mkdir(parents=True, exist_ok=True)
    write_text_atomic(paths.root / "config.yaml", yaml.safe_dump(dataclasses.asdict(config), sort_keys=False))
    if config.data.source == "synthetic":
        print(f"[1/6] synthetic catalogue -> {paths.data}", flush=True)
        generate_synthetic(paths.data, config.data.synth)
        data_dir = paths.data
    else:
        data_dir = Path(config.data.source)
    print(f"[2/6] extract {data_dir} -> {paths.features}", flush=True)
    manifest = run_extract(data_dir, paths.features, config.extract, beam_args, encoders)
    print(f"      {json.dumps(manifest['interactions'])}", flush=True)
    print(f"[3/6] train -> {paths.model}", flush=True)
    train(paths.features, paths.model, config)
    print(f"[4/6] evaluate -> {paths.metrics}", flush=True)
    metrics = evaluate_model_dir(paths.model, paths.features, config.eval.ks, config.eval.batch_size)
    write_metrics(metrics, paths.metrics)
    print(f"[5/6] export -> {paths.export}", flush=True)
    version = export(paths.model, paths.export, config.export.name, config.export.k, config=config.export)
    print(f"[6/6] recommend -> {paths.recs}", flush=True)
    run_recommend(version, paths.recs, config.recommend.k, batch_size=config.recommend.batch_size, beam_args=beam_args,
                  explain=config.recommend.explain and config.export.explain)  # no parts exported: nothing to explain
    return {"run": str(paths.root), "metrics": metrics, "export": str(version), "recs": str(paths.recs)}


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def prior_line(model_dir: Path) -> str | None:
    """What the cold-item content prior (models/content_prior.py) chose, from the model's history."""
    path = model_dir / HISTORY_JSON
    if not path.is_file():
        return None
    prior = json.loads(path.read_text()).get("cold_prior")
    if prior is None:
        return "cold-item content prior: off (model.cold_prior_weight 0)"
    gain = f"content predicts held-out items' popularity by {prior['heldout_gain']:.3f} nats per interaction"
    if prior["scale"] == 0:
        return f"cold-item content prior: off, {gain} (under {MIN_HELDOUT_GAIN})"
    return f"cold-item content prior: on, scale {prior['scale']:.2f}; {gain}"


def profile_line(model_dir: Path) -> str | None:
    """How items without a trained id are scored (models/taste_profile.py), from the model's configuration."""
    path = model_dir / MODEL_JSON
    if not path.is_file():
        return None
    model = json.loads(path.read_text())["model"]
    weight = 0.0 if model.get("scoring") == "dot" else model.get("cold_profile_weight", 0.0)
    if weight == 0:
        return "cold items scored with the user tower's vector (model.cold_profile_weight 0)"
    return f"cold items scored with the user's taste profile at weight {weight:.2f}, the tower's vector at {1 - weight:.2f}"


def efficiency_lines(efficiency: dict | None) -> list[str]:
    """What the model costs, from metrics.json's ``efficiency`` (none without it)."""
    if not efficiency:
        return []
    parameters = efficiency["parameters"]
    by_modality = ", ".join(f"{m} {n:,}" for m, n in parameters["item_tower"].items() if n)
    training = efficiency.get("training", {})
    trained = f", trained to its best epoch in {training['seconds_to_best_epoch']:.0f} s" if "seconds_to_best_epoch" in training else ""
    rates = ", ".join(f"{stage['per_s']:,.0f} {name.replace('_', ' ')}/s" for name, stage in efficiency["throughput"].items()
                      if stage["per_s"])
    return [f"cost: {parameters['total']:,} weights (item tower: {by_modality}; user tower {parameters['user_tower']:,}), "
            f"{efficiency['bytes_per_item']['embedding']} bytes per item served{trained}",
            f"  evaluation's passes on {efficiency['cores']} cores: {rates}"]


def _shares(shares: dict) -> str:
    return ", ".join(f"{name} {share:.2f}" for name, share in shares.items() if share > 0)


def summary(result: dict, users: int = 3, top: int = 5) -> str:
    """A human summary: artefacts, metrics against baselines, and a few users' recommendations."""
    paths = RunPaths(Path(result["run"]))
    metrics = result["metrics"]
    lines = [f"run directory: {paths.root.resolve()}", f"export:        {result['export']}", f"recs:          {result['recs']}", ""]
    lines.append(f"{'':12}{'warm R@10':>11}{'warm R@20':>11}{'warm N@10':>11}{'warm N@20':>11}{'cold R@10':>11}{'cold N@10':>11}")
    for name in ("braidrec", "popularity", "random", "oracle"):
        if name not in metrics:
            continue
        warm, cold = metrics[name].get("warm", {}), metrics[name].get("cold", {})
        cells = [warm.get("recall@10"), warm.get("recall@20"), warm.get("ndcg@10"), warm.get("ndcg@20"), cold.get("recall@10"), cold.get("ndcg@10")]
        lines.append(f"{name:12}" + "".join(f"{_fmt(c) if c is not None else '-':>11}" for c in cells))
    alignment = metrics.get("alignment", {}).get("text_to_image")
    if alignment:
        lines.append(f"text->image Recall@10 {alignment['recall@10']:.3f} over {alignment['items']} items; coverage@10 {metrics['coverage@10']:.3f}")
        unseen = metrics["alignment"].get("unseen_text_to_image")
        if unseen:
            lines.append(f"  of which cold items, never aligned in training: {unseen['recall@10']:.3f} ({unseen['items']} queries)")
    search = metrics.get("alignment", {}).get("text_search")
    if search:
        cold = f" (cold items {search['unseen']['recall@10']:.3f})" if "unseen" in search else ""
        lines.append(f"text search (search_text): an item's own text finds it in the top 10 for {search['recall@10']:.3f} "
                     f"of {search['items']} items{cold}")
    lines.append("mean fusion weight: " + ", ".join(f"{k} {v:.2f}" for k, v in metrics["attention"]["overall"].items()))
    drivers = metrics.get("drivers@10")
    if drivers and drivers["slots"]["all"]:
        lines.append("top-10 slots driven by (largest contribution to the score): " + _shares(drivers["all"]))
        if drivers["slots"]["without_id"]:
            lines.append(f"  the {drivers['slots']['without_id']} slots of items without a trained id: " + _shares(drivers["without_id"]))
    split = metrics.get("split", {})
    if split.get("unplaced_items"):
        lines.append(f"{split['unplaced_items']} items ({split['unplaced_cold_items']} of them cold) have neither a trained id "
                     "nor any content: nothing places them, so they rank below every other item; give them text, an "
                     "image, categories or numbers to recommend them")
    lines += [line for line in (prior_line(paths.model), profile_line(paths.model)) if line]
    mixed = metrics.get("mixed")
    if mixed:
        lines.append(f"warm and cold items ranked together: Recall@10 {mixed['recall@10']:.3f}, the held-out warm item in "
                     f"the top-10 for {mixed['warm_hits@10']:.3f} of users, cold items in {mixed['cold_share@10']:.3f} of "
                     f"the slots ({mixed['relevant_cold_share']:.3f} of what users met next)")
    lines += efficiency_lines(metrics.get("efficiency"))
    catalogue = readers.load_catalogue(paths.features)
    # An item whose title cell is empty is shown by its id.
    titles = {item: title.strip() or item for item, title in zip(catalogue.item_ids.tolist(), catalogue.titles.tolist())}
    histories = {u.user_id: u for u in readers.load_histories(paths.features)}
    recs = pd.read_parquet(result["recs"])
    for user_id in sorted(recs["user_id"].unique())[:users]:
        lines.append("")
        lines.append(f"user {user_id}")
        last = histories[user_id].items[-top:] if user_id in histories else []
        mine = recs[recs["user_id"] == user_id].sort_values("rank").head(top)
        width = max([len(titles.get(i, i)) for i in last] + [10])
        lines.append(f"  {'last items':<{width}}   top-{top} recommendations")
        for row in range(top):
            left = titles.get(last[row], last[row]) if row < len(last) else ""
            right = ""
            if row < len(mine):
                rec = mine.iloc[row]
                driver = f", {rec['driver']}" if rec.get("driver") else ""
                right = f"{rec['rank']}. {titles.get(rec['item_id'], rec['item_id'])} ({rec['score']:.3f}{driver})"
            lines.append(f"  {left:<{width}}   {right}")
    return "\n".join(lines)
