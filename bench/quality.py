"""``make bench-quality``: braidrec and its peers on the same splits, mean ± std over seeds.

Usage::

    python -m bench.quality --datasets synthetic,ml100k --seeds 0,1,2 [--peers als,sasrec] [--variants attention,sum] [--quick]

Every peer and braidrec variant is trained on the features ``braid extract``
wrote and scored with braidrec's own evaluation (``EvalData`` tasks,
``evaluate_ranking``); val is used for tuning and early stopping, test is
reported. Results go to ``bench/results/quality.{md,json,png}``, rewritten after
every run so an interrupted benchmark still leaves its finished rows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from bench import datasets, report
from bench.peers.base import evaluate_scorer
from bench.peers.registry import PEERS, QUICK_PEERS, fit_function
from bench.variants import QUICK_VARIANTS, VARIANTS, extract_overrides, run_variant, variant_config
from braidrec.config import TrainConfig
from braidrec.data.synth_truth import GroundTruth
from braidrec.features import contract
from braidrec.models.evaluate import EvalData, baseline_metrics
from braidrec.models.preflight import check_settings
from braidrec.runtime import set_op_threads

KS = [10, 20]
RESULTS = Path(__file__).resolve().parent / "results"


class KeptRuns(list):
    """Runs kept from an earlier benchmark: appending a run of the same (dataset, method, seed) replaces it."""

    def append(self, record: dict) -> None:
        key = (record["dataset"], record["method"], record["seed"])
        self[:] = [r for r in self if (r["dataset"], r["method"], r["seed"]) != key]
        super().append(record)


def _names(value: str | None, known, default) -> list[str]:
    if value is None:
        return list(default)
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown name(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The harness's flags."""
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="synthetic,ml100k", help="comma list of: " + ", ".join(datasets.DATASETS))
    parser.add_argument("--seeds", default="0,1,2", help="comma list of integer seeds")
    parser.add_argument("--peers", default=None, help="comma list of: " + ", ".join(PEERS) + " ('' for none)")
    parser.add_argument("--variants", default=None, help="comma list of: " + ", ".join(VARIANTS) + " ('' for none)")
    parser.add_argument("--quick", action="store_true", help="seed 0 only, fewer peers and variants (a smoke run)")
    parser.add_argument("--work", default="runs/bench", help="datasets, features and models go here")
    parser.add_argument("--ml100k-src", default=str(datasets.DEFAULT_ML100K), help="the MovieLens 100K folder")
    parser.add_argument("--out", default=str(RESULTS), help="results directory")
    parser.add_argument("--fresh", action="store_true", help="re-create datasets and features")
    parser.add_argument("--op-threads", type=int, default=TrainConfig().op_threads,
                        help="TensorFlow threads per op for every model of the run (train.op_threads; default: the "
                             "default's); rows made before 2026-12-02 ran with 0, TensorFlow's own count")
    parser.add_argument("--keep-previous", action="store_true",
                        help="keep the runs in an existing OUT/quality.json that this command does not redo "
                             "(same dataset, method and seed), so a benchmark can be run in parts")
    return parser.parse_args(argv)


def _oracle(features: Path, data: EvalData) -> dict | None:
    manifest = json.loads((features / contract.MANIFEST).read_text())
    dataset_dir = Path(manifest["dataset"])
    truth = GroundTruth.load(dataset_dir) if (dataset_dir / "dataset.yaml").is_file() else None
    return baseline_metrics(data, KS, truth).get("oracle") if truth is not None else None


def run_dataset(name: str, args, peers: list[str], variants: list[str], seeds: list[int], records: list, notes: list) -> None:
    """Runs every peer and variant on dataset ``name`` for every seed, appending to ``records``."""
    features = datasets.prepare(name, Path(args.work), Path(args.ml100k_src), args.fresh)
    data = EvalData.load(features)
    # Variants that change extraction get their own features, made once from the same raw data and split.
    variant_features = {}
    for variant in variants:
        extract = extract_overrides(variant)
        variant_features[variant] = (
            datasets.prepare(name, Path(args.work), Path(args.ml100k_src), args.fresh, extract) if extract else features
        )
    oracle = _oracle(features, data)
    if oracle is not None:
        records.append({"dataset": name, "method": "oracle", "kind": "reference", "seed": None, **oracle, "seconds": 0.0})
    for seed in seeds:
        for peer in peers:
            started = time.time()
            scorer = fit_function(peer)(data, seed)
            seconds = time.time() - started
            metrics = evaluate_scorer(scorer, data, KS)
            # Under info, as braidrec runs keep their metrics.json "mixed".
            mixed = {"mixed": metrics.pop("mixed")} if "mixed" in metrics else {}
            records.append({"dataset": name, "method": scorer.name, "kind": "peer", "seed": seed, **metrics,
                            "seconds": round(seconds, 1), "info": {**scorer.info, **mixed}})
            _progress(name, scorer.name, seed, metrics, seconds)
            report.write_results(records, notes, Path(args.out), chart_png=False)
        trained: list[Path] = []  # this seed's models trained here, which post-training variants refit
        for variant in variants:
            model_dir = Path(args.work) / name / "models" / f"{variant}-{seed}"
            result = run_variant(variant_features[variant], model_dir, variant, seed, KS, args.op_threads, trained)
            if "skipped" in result:
                note = f"{name}: braidrec {variant} skipped: {result['skipped']}"
                if note not in notes:
                    notes.append(note)
                continue
            metrics = result["metrics"]
            if result["refit_from"] is None:
                trained.append(model_dir)
            refit_from = {"refit_from": result["refit_from"].name} if result["refit_from"] else {}
            records.append({
                "dataset": name, "method": f"braidrec {variant}", "kind": "braidrec", "seed": seed,
                **metrics["braidrec"], "seconds": result["seconds"],
                "info": {"best_epoch": result["history"].get("best_epoch"),
                         "seconds_to_best_epoch": result["history"].get("seconds_to_best_epoch"), **refit_from,
                         **{k: metrics[k] for k in ("alignment", "attention", "robustness", "coverage@10", "mixed") if k in metrics}},
            })
            _progress(name, f"braidrec {variant}", seed, metrics["braidrec"], result["seconds"])
            report.write_results(records, notes, Path(args.out), chart_png=False)


def _progress(dataset: str, method: str, seed: int, metrics: dict, seconds: float) -> None:
    warm, cold = metrics["warm"], metrics.get("cold", {})
    print(f"[{time.strftime('%H:%M:%S')}] {dataset} {method} seed {seed}: warm R@10 {warm['recall@10']:.4f} "
          f"N@10 {warm['ndcg@10']:.4f} cold R@10 {cold.get('recall@10', float('nan')):.4f} ({seconds:.0f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the process exit code."""
    args = parse_args(argv)
    # Process-wide and fixed when TensorFlow starts (which turning on determinism does): every model
    # of the run, peers included, trains with these threads per op.
    set_op_threads(args.op_threads)
    # braidrec's train() turns deterministic kernels on process-wide; turning them on here gives every
    # peer the same, instead of only the peers that happen to run after the first braidrec model.
    tf.config.experimental.enable_op_determinism()
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",") if s.strip()]
    peers = _names(args.peers, PEERS, QUICK_PEERS if args.quick else PEERS)
    variants = _names(args.variants, list(VARIANTS), QUICK_VARIANTS if args.quick else list(VARIANTS))
    names = _names(args.datasets, datasets.DATASETS, datasets.DATASETS)
    # A variant whose settings training would refuse fails now, not after hours of peers and seeds.
    for variant in variants:
        config = variant_config(variant, op_threads=args.op_threads)
        if config is not None:
            try:
                check_settings(config)
            except ValueError as err:
                raise SystemExit(f"bench.quality: variant {variant}: {err}") from err
    records: list[dict] = []
    notes: list[str] = []
    previous = Path(args.out) / "quality.json"
    if args.keep_previous and previous.is_file():
        old = json.loads(previous.read_text())
        records, notes = KeptRuns(old["runs"]), list(old["notes"])
    for name in names:
        run_dataset(name, args, peers, variants, seeds, records, notes)
    rows = report.write_results(records, notes, Path(args.out))
    print(report.markdown(rows, notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
