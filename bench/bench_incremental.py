"""``make bench-incremental``: a retrain started from the last model (``train.warm_start``) against one
started from scratch, on the same data and seed.

As a nightly job meets it: "yesterday" is the dataset with only the first ``--share`` of its
interactions by time (items and users tables unchanged, so the same items are cold), "today" all of
them, the bench's own features (``bench.datasets.prepare``). Per dataset and seed, in one process:
train yesterday's model, train today's from it, train today's from scratch, and evaluate both on
today's test split. Reported per side: validation Recall@50 after the first epoch, the best epoch,
seconds to it, and test warm Recall@10 / NDCG@10 and cold Recall@10; and warm over fresh as ratios.
Both of today's runs use the default patience, so the seconds to the best epoch, not the whole run,
are what a shorter ``--train.patience`` would save.

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


def _summary(history: dict, metrics: dict) -> dict:
    braid = metrics["braidrec"]
    return {
        "val_recall@50_epoch1": history["val_recall@50"][0], "best_epoch": history["best_epoch"],
        "seconds_to_best_epoch": history["seconds_to_best_epoch"], "epochs": len(history["loss"]),
        "warm_recall@10": braid["warm"]["recall@10"], "warm_ndcg@10": braid["warm"]["ndcg@10"],
        "cold_recall@10": braid["cold"]["recall@10"],
    }


def run_seed(features: Path, yesterday: Path, work: Path, seed: int) -> dict:
    """Yesterday's model, then today's from it and from scratch; their summaries and what warm start kept."""
    out = {}
    train(yesterday, work / f"yesterday-{seed}", config_with({"train.seed": seed, "train.verbose": 0}))
    for side, start in (("warm", str(work / f"yesterday-{seed}")), ("fresh", "")):
        model_dir = work / f"{side}-{seed}"
        history = train(features, model_dir, config_with({"train.seed": seed, "train.verbose": 0, "train.warm_start": start}))
        out[side] = _summary(history, evaluate_model_dir(model_dir, features, EvalConfig().ks))
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
    RESULTS.mkdir(exist_ok=True)
    write_text_atomic(RESULTS / "incremental.json", json.dumps(results, indent=2))
    write_text_atomic(RESULTS / "incremental.md", "\n".join(lines) + "\n")


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
