"""``make bench-train``: training seconds per epoch, as ratios within one process.

Trains the default configuration for a few epochs, on ml-100k when
``../shared/datasets/ml-100k`` exists and on the synthetic default otherwise,
and reports seconds per epoch against these baselines, run in the same process:

- the same training without the alignment loss (its cost per epoch);
- the same training without the content augmentation of id-dropped items;
- the default before 2026-12-02 (64-d embeddings; deterministic only): what the
  128-d default costs per epoch;
- nondeterministic kernels against ``train.deterministic`` (the cost of
  reproducibility). Deterministic kernels cannot be turned off again in a
  process, so the nondeterministic runs come first, after a warm-up run that
  pays for the first graph tracing and is not reported;
- and, in a second process started by the same command (TensorFlow fixes it
  when it first runs an op), the default with TensorFlow's own threads per op
  (``train.op_threads 0``, one per core) against ``train.op_threads``.

Epochs get slower over a process's life, so the default is measured before
and after its baselines and the mean of the two is reported. Other work on a
shared machine only adds time, so each run is timed ``--repeats`` times and
the fastest kept.

Writes ``bench/results/train.md`` and ``train.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)

from bench import datasets
from bench.variants import VARIANTS
from braidrec.config import TrainConfig
from braidrec.config_loader import config_with
from braidrec.models.train import train
from braidrec.pipeline.fileutil import write_text_atomic
from braidrec.runtime import set_op_threads

RESULTS = Path(__file__).parent / "results"
# The default without the content augmentation of id-dropped items, nothing else changed (the bench
# variant no_augment also keeps the 512 alignment items of the default it was measured on).
NO_AUGMENTATION = {"model.text_token_dropout": 0.0, "model.image_noise": 0.0}
PREVIOUS_DEFAULT = "the default before 2026-12-02 (64-d, temperature 0.05, rate 0.001)"


def train_seconds(features: Path, out: Path, epochs: int, deterministic: bool, overrides: dict | None = None) -> float:
    """Wall-clock seconds of ``train`` for ``epochs`` epochs (no early stop), setup and saving included.

    ``overrides`` maps dotted config fields to values, as :data:`bench.variants.VARIANTS` does.
    """
    config = config_with(overrides)
    config.train.epochs, config.train.patience, config.train.verbose = epochs, epochs, 0
    config.train.deterministic = deterministic
    started = time.time()
    train(features, out, config)
    return time.time() - started


def seconds_per_epoch(
    features: Path, out: Path, epochs: int, deterministic: bool, overrides: dict | None = None, repeats: int = 1
) -> float:
    """Marginal seconds per epoch (validation included): ``epochs + 1`` epochs minus one, which cancels setup.

    Each of the two runs is timed ``repeats`` times and the fastest kept: other work on a shared
    machine only ever adds time, so the minimum is the least disturbed measurement.
    """
    def fastest(count: int) -> float:
        return min(train_seconds(features, out, count, deterministic, overrides) for _ in range(repeats))

    return (fastest(epochs + 1) - fastest(1)) / epochs


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and writes the results; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_train", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per measured run")
    parser.add_argument("--repeats", type=int, default=2, help="timings per run; the fastest is kept")
    parser.add_argument("--work", default="runs/bench", help="datasets and features go here")
    parser.add_argument("--out", default=str(RESULTS), help="results directory")
    parser.add_argument("--op-threads", type=int, default=TrainConfig().op_threads,
                        help="train.op_threads of this process (default: the default's)")
    parser.add_argument("--default-only", action="store_true",
                        help="time only the default, deterministic, and print its s / epoch as JSON (the second process)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.repeats < 1:
        parser.error(f"--epochs ({args.epochs}) and --repeats ({args.repeats}) must be at least 1")
    # Before any TensorFlow work (extraction below runs some): the count is fixed by the first op.
    set_op_threads(args.op_threads)
    overrides = {"train.op_threads": args.op_threads}
    dataset = "ml100k" if (datasets.DEFAULT_ML100K / "u.data").is_file() else "synthetic"
    features = datasets.prepare(dataset, Path(args.work))
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        train_seconds(features, model, 1, deterministic=False, overrides=overrides)  # warm-up, not reported
        if args.default_only:
            print(json.dumps(seconds_per_epoch(features, model, args.epochs, True, overrides, args.repeats)))
            return 0
        for deterministic in (False, True):
            label = "deterministic" if deterministic else "nondeterministic"
            first = runs[f"default, {label}"] = seconds_per_epoch(features, model, args.epochs, deterministic, overrides, args.repeats)
            baselines = [("no alignment loss", VARIANTS["no_alignment"]), ("no augmentation", NO_AUGMENTATION)]
            if deterministic:
                baselines.append((PREVIOUS_DEFAULT, VARIANTS["dim64"]))
            for name, baseline in baselines:
                runs[f"{name}, {label}"] = seconds_per_epoch(
                    features, model, args.epochs, deterministic, {**baseline, **overrides}, args.repeats)
            # Epochs slow down over a process's life (9.1, 9.6, 10.1 s in one ml-100k check): the
            # default is measured before and after its baselines, and the mean compared with them.
            runs[f"default, {label}"] = (first + seconds_per_epoch(features, model, args.epochs, deterministic, overrides, args.repeats)) / 2
            print({k: round(v, 2) for k, v in runs.items()}, flush=True)
    threads = "TensorFlow's threads per op (op_threads 0)"
    # Run after this process's timings, not beside them: the two would share the cores.
    runs[f"default, deterministic, {threads}"] = json.loads(subprocess.run(
        [sys.executable, "-m", "bench.bench_train", "--default-only", "--op-threads", "0", "--epochs", str(args.epochs),
         "--repeats", str(args.repeats), "--work", args.work], check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1])
    ratios = {
        "alignment loss cost (default / no alignment), deterministic":
            runs["default, deterministic"] / runs["no alignment loss, deterministic"],
        "content augmentation cost (default / no augmentation), deterministic":
            runs["default, deterministic"] / runs["no augmentation, deterministic"],
        "deterministic kernels cost (deterministic / not), default":
            runs["default, deterministic"] / runs["default, nondeterministic"],
        "128-d default's cost (default / the 64-d one before it), deterministic":
            runs["default, deterministic"] / runs[f"{PREVIOUS_DEFAULT}, deterministic"],
        f"op_threads {args.op_threads} speed-up ({threads} / op_threads {args.op_threads}), deterministic default":
            runs[f"default, deterministic, {threads}"] / runs["default, deterministic"],
    }
    result = {"dataset": dataset, "epochs": args.epochs, "machine": platform.processor() or platform.machine(),
              "op_threads": args.op_threads, "seconds_per_epoch": runs, "ratios": ratios}
    lines = [
        "# Training speed", "",
        f"Dataset {dataset}; seconds per epoch (validation included) as the difference between runs of "
        f"{args.epochs + 1} and 1 epochs (the fastest of {args.repeats} timings of each), all in one process "
        f"with train.op_threads {args.op_threads} (`python -m bench.bench_train`) but the last row, timed by a second "
        "process the same command starts afterwards; the default is the mean of a measurement before its "
        "baselines and one after.", "",
        "| run | s / epoch |", "| --- | --- |",
        *[f"| {name} | {value:.1f} |" for name, value in runs.items()], "",
        "| ratio | value |", "| --- | --- |",
        *[f"| {name} | {value:.2f}x |" for name, value in ratios.items()], "",
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "train.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(out / "train.md", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
