"""``make bench-incremental``: a retrain started from the last model (``train.warm_start``) against one
started from scratch, on the same data and seed.

As a nightly job meets it: "yesterday" is the dataset with only the first ``--share`` of its
interactions by time (items and users tables unchanged, so the same items are cold), "today" all of
them, the bench's own features (``bench.datasets.prepare``). Per dataset and seed, in one process:
train yesterday's model, train today's from it, train today's from scratch, and evaluate both on
today's test split. Reported per side: validation Recall@50 after the first epoch, the best epoch,
seconds to it, and test warm Recall@10 / NDCG@10 and cold Recall@10; and warm over fresh as ratios.
Both of today's runs use the default patience; what a shorter ``--train.patience`` would have done is
replayed on each run's logged validation curve (the same rule as training's early stopping): the
epoch it stops after, whether it keeps the same best epoch, and the validation metric it gives up.

Writes ``bench/results/incremental.md`` and ``incremental.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
from pathlib import Path

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import numpy as np
import pandas as pd

from bench import datasets
from braidrec.config import EvalConfig
from braidrec.config_loader import config_with
from braidrec.data.layout import DatasetSpec
from braidrec.models.early_stopping import EpochSelection
from braidrec.models.evaluate_run import evaluate_model_dir
from braidrec.models.train import train
from braidrec.pipeline.fileutil import write_text_atomic
from braidrec.pipeline.extract_runner import run_extract

RESULTS = Path(__file__).parent / "results"


def yesterday_data(data_dir: Path, out: Path, share: float) -> Path:
    """A copy of the raw dataset ``data_dir`` keeping the first ``share`` of its interactions by time.

    Raises:
        ValueError: the interactions table is not Parquet (the bench's datasets are).
    """
    spec = DatasetSpec.load(data_dir)
    if spec.interactions.format != "parquet":
        raise ValueError(f"{data_dir}: the bench cuts Parquet interaction tables only, not {spec.interactions.format}")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(data_dir, out)
    path = out / spec.interactions.path
    frame = pd.read_parquet(path)
    times = pd.to_numeric(frame[spec.interactions.timestamp])
    frame[times <= times.quantile(share)].to_parquet(path, index=False)
    return out


REPLAYED_PATIENCE = (2, 3, 4)


def patience_replay(curve: list[float], patience: int, min_delta: float, window: int = 1) -> dict:
    """What early stopping at ``patience`` would have done on a logged validation ``curve``.

    The rule of ``models.early_stopping.EpochSelection``, which training uses: an epoch is the new best when its
    score (the mean of the curve over it and up to ``window - 1`` epochs before it) beats the best by more than
    ``min_delta``; training stops once ``patience`` epochs pass without one.

    Returns:
        ``{"best_epoch", "stop_epoch"}`` (1-based) and ``"best_value"``, the curve at the best epoch.
    """
    selection = EpochSelection.replay(curve, patience, min_delta, window)
    return {"best_epoch": selection.best_epoch + 1, "stop_epoch": len(selection.values),
            "best_value": curve[selection.best_epoch]}


def _summary(history: dict, metrics: dict, patience: int, min_delta: float) -> dict:
    braid = metrics["braidrec"]
    curve = history["val_" + history["selection_metric"]]
    seconds_per_epoch = history["seconds_to_best_epoch"] / history["best_epoch"]
    window = history.get("selection_window", 1)  # histories written before it existed judged epochs alone
    if patience_replay(curve, patience, min_delta, window)["best_epoch"] != history["best_epoch"]:
        raise RuntimeError(f"replaying patience {patience} on the logged curve does not give training's best epoch "
                           f"{history['best_epoch']}: patience_replay no longer follows models.early_stopping.BestValidationEpoch")
    full = patience_replay(curve, len(curve), min_delta, window)
    replays = {}
    for patience in REPLAYED_PATIENCE:
        replay = patience_replay(curve, patience, min_delta, window)
        replays[patience] = {"stop_epoch": replay["stop_epoch"], "same_best_epoch": replay["best_epoch"] == history["best_epoch"],
                             "val_given_up": full["best_value"] - replay["best_value"],
                             "seconds": replay["stop_epoch"] * seconds_per_epoch}
    return {
        "val_recall@50_epoch1": history["val_recall@50"][0], "best_epoch": history["best_epoch"],
        "seconds_to_best_epoch": history["seconds_to_best_epoch"], "epochs": len(history["loss"]),
        "seconds_of_epochs": len(history["loss"]) * seconds_per_epoch,
        "warm_recall@10": braid["warm"]["recall@10"], "warm_ndcg@10": braid["warm"]["ndcg@10"],
        "cold_recall@10": braid["cold"]["recall@10"], "patience_replay": replays,
    }


def run_seed(features: Path, yesterday: Path, work: Path, seed: int) -> dict:
    """Yesterday's model, then today's from it and from scratch; their summaries and what warm start kept."""
    out = {}
    train(yesterday, work / f"yesterday-{seed}", config_with({"train.seed": seed, "train.verbose": 0}))
    for side, start in (("warm", str(work / f"yesterday-{seed}")), ("fresh", "")):
        model_dir = work / f"{side}-{seed}"
        # Both sides wait the default train.patience, so that shorter ones can be replayed on their curves.
        config = config_with({"train.seed": seed, "train.verbose": 0, "train.warm_start": start, "train.warm_start_patience": 0})
        history = train(features, model_dir, config)
        out[side] = _summary(history, evaluate_model_dir(model_dir, features, EvalConfig().ks), config.train.patience,
                             config.train.min_delta)
        if start:
            out["tables"] = history["warm_start"]["tables"]
    return out


def write(results: dict) -> None:
    lines = ["# Incremental training: a retrain from yesterday's model against one from scratch", "",
             f"`python -m bench.bench_incremental --datasets {','.join(results['runs'])} --seeds "
             f"{','.join(map(str, results['seeds']))} --share {results['share']}`: yesterday's model saw the first "
             f"{results['share']:.0%} of the interactions by time; today's training sees all of them, from yesterday's "
             f"model (warm) or from scratch (fresh), same features and seed, default settings; {results['machine']['cpus']} CPUs.", "",
             "| dataset | seed | side | val R@50 after epoch 1 | best epoch | s to best epoch | warm R@10 | warm N@10 | cold R@10 |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, seeds in results["runs"].items():
        for seed, run in seeds.items():
            for side in ("fresh", "warm"):
                r = run[side]
                lines.append(f"| {name} | {seed} | {side} | {r['val_recall@50_epoch1']:.3f} | {r['best_epoch']} | "
                             f"{r['seconds_to_best_epoch']:.0f} | {r['warm_recall@10']:.3f} | {r['warm_ndcg@10']:.3f} | "
                             f"{r['cold_recall@10']:.3f} |")
    lines += ["", "Warm over fresh, mean over seeds:", "", "| dataset | s to best epoch | warm R@10 | warm N@10 | cold R@10 |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for name, ratios in results["ratios"].items():
        lines.append(f"| {name} | " + " | ".join(f"{ratios[k]:.2f}x" for k in (
            "seconds_to_best_epoch", "warm_recall@10", "warm_ndcg@10", "cold_recall@10")) + " |")
    lines += patience_lines(results)
    RESULTS.mkdir(exist_ok=True)
    write_text_atomic(RESULTS / "incremental.json", json.dumps(results, indent=2))
    write_text_atomic(RESULTS / "incremental.md", "\n".join(lines) + "\n")


def patience_lines(results: dict) -> list[str]:
    """The markdown table of the shorter patiences, replayed, per dataset and side (means over seeds)."""
    patience = config_with({}).train.patience
    lines = ["", f"A shorter `--train.patience` than the default {patience}, replayed on each run's validation curve: epochs "
             f"run, seeds whose best epoch stays the same, the validation {config_with({}).train.selection_metric} given up "
             f"(mean), and the seconds of the epochs run against the default's:", "",
             "| dataset | side | patience | epochs run | same best epoch | val given up | seconds |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, seeds in results["runs"].items():
        for side in ("fresh", "warm"):
            runs = [run[side] for run in seeds.values()]
            lines.append(f"| {name} | {side} | {patience} | {np.mean([r['epochs'] for r in runs]):.1f} | {len(runs)}/{len(runs)} | 0 | 1.00x |")
            for p in REPLAYED_PATIENCE:
                replays = [r["patience_replay"][p] for r in runs]
                ratio = np.mean([rp["seconds"] / r["seconds_of_epochs"] for rp, r in zip(replays, runs)])
                lines.append(f"| {name} | {side} | {p} | {np.mean([rp['stop_epoch'] for rp in replays]):.1f} | "
                             f"{sum(rp['same_best_epoch'] for rp in replays)}/{len(runs)} | "
                             f"{np.mean([rp['val_given_up'] for rp in replays]):.4f} | {ratio:.2f}x |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="synthetic,ml100k", help="comma list of synthetic, ml100k "
                        "(ml100k is skipped, and said so, when --ml100k-src has no u.data)")
    parser.add_argument("--seeds", default="0", help="comma list of training seeds")
    parser.add_argument("--share", type=float, default=0.8, help="yesterday's share of the interactions, by time")
    parser.add_argument("--work", type=Path, default=Path("runs/bench"), help="datasets, features and models")
    parser.add_argument("--ml100k-src", type=Path, default=datasets.DEFAULT_ML100K)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "share": args.share,
               "seeds": seeds, "runs": {}, "ratios": {}}
    for name in args.datasets.split(","):
        if name == "ml100k" and not (args.ml100k_src / "u.data").is_file():
            print(f"skipping ml100k: {args.ml100k_src}/u.data not found (pass --ml100k-src DIR)")
            continue
        features = datasets.prepare(name, args.work, args.ml100k_src)
        work = args.work / name / "incremental"
        raw = yesterday_data(features.parent / "data", work / "yesterday-data", args.share)
        run_extract(raw, work / "yesterday-features", config_with({}).extract)
        runs = {seed: run_seed(features, work / "yesterday-features", work, seed) for seed in seeds}
        results["runs"][name] = runs
        results["ratios"][name] = {key: float(np.mean([r["warm"][key] / r["fresh"][key] for r in runs.values()]))
                                   for key in ("seconds_to_best_epoch", "warm_recall@10", "warm_ndcg@10", "cold_recall@10")}
        write(results)
    print((RESULTS / "incremental.md").read_text())


if __name__ == "__main__":
    main()
