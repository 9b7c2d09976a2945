"""Validation and test curves of a training, and which epoch a selection rule would keep on them.

``record`` trains as ``braid train`` does, but validates every epoch on the test
split too (warm items) and writes the curves to ``<out>.curves.json``; give it a
large ``--train.patience`` so that it runs every epoch. ``replay`` reads such
files and says, for a selection rule (``train.selection_metric``,
``train.selection_window``, ``train.min_delta``, ``train.patience``), which epoch
early stopping would keep and its test metrics: rules compared on the same runs,
without training again. Test metrics never steer a training here; they are only
logged beside validation.

    python -m bench.epoch_curves record --features F --out M --train.seed 0 --train.patience 40
    python -m bench.epoch_curves replay M.curves.json ... --metric recall@50 --window 3

The replay decides as :class:`~braidrec.models.early_stopping.BestValidationEpoch` does
(tests/bench/test_epoch_curves.py checks that the two agree).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from unittest import mock

import numpy as np

from braidrec.config import RunConfig, TrainConfig
from braidrec.config_loader import add_config_flags, config_from_args
from braidrec.features import contract
from braidrec.models import train as train_module
from braidrec.models.early_stopping import BestValidationEpoch, EpochSelection
from braidrec.models.evaluate import model_metrics
from braidrec.pipeline.fileutil import write_text_atomic

CURVE_KS = [10, 20, 50]


class CurveRecorder(BestValidationEpoch):
    """:class:`BestValidationEpoch` that also logs the warm validation and test metrics of every epoch.

    Args:
        *args, **kwargs: as :class:`BestValidationEpoch`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.curves: list[dict] = []

    def _validate(self, epoch, logs):
        super()._validate(epoch, logs)
        row = {"epoch": epoch + 1}
        for name, split in (("val", contract.SPLIT_VAL), ("test", contract.SPLIT_TEST)):
            metrics = model_metrics(self.model, self.data, CURVE_KS, split=split, cold=False)["warm"]
            row[name] = {k: float(v) for k, v in metrics.items() if k != "users"}
        self.curves.append(row)


def record(features: str, out: str, config: RunConfig) -> Path:
    """Trains on ``features`` into ``out`` (a ``braid train`` model directory) and writes the curves.

    Args:
        features: a ``braid extract`` output.
        out: the model directory; the curves go to ``<out>.curves.json``.
        config: the run configuration (its ``train.patience`` says how long the curves run on).

    Returns:
        The curves file.
    """
    recorders: list[CurveRecorder] = []

    def recorder(*args, **kwargs):
        recorders.append(CurveRecorder(*args, **kwargs))
        return recorders[-1]

    with mock.patch.object(train_module, "BestValidationEpoch", recorder):
        train_module.train(features, out, config)
    path = Path(f"{out}.curves.json")
    write_text_atomic(path, json.dumps({"train": vars(config.train), "epochs": recorders[0].curves}, indent=1))
    return path


def replay(curves: list[dict], metric: str, window: int = 1, min_delta: float = 0.0, patience: int = 8) -> dict:
    """The epoch a selection rule keeps on recorded curves (:class:`EpochSelection`, as training decides it).

    Args:
        curves: the ``epochs`` rows of a curves file.
        metric: the validation metric (``recall@50``...).
        window, min_delta, patience: as ``train.selection_window``, ``train.min_delta``, ``train.patience``.

    Returns:
        ``{"best_epoch", "stopped_at", "test": the best epoch's test metrics}`` (epochs count from 1).

    Raises:
        ValueError: the curves hold no epoch.
    """
    if not curves:
        raise ValueError("the curves hold no epoch")
    selection = EpochSelection.replay([row["val"][metric] for row in curves], patience, min_delta, window)
    return {"best_epoch": selection.best_epoch + 1, "stopped_at": len(selection.values),
            "test": curves[selection.best_epoch]["test"]}


def main(argv: list[str] | None = None) -> int:
    """``record`` or ``replay`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.epoch_curves", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    recording = commands.add_parser("record", help="train, logging warm val and test metrics every epoch")
    recording.add_argument("--features", required=True, help="a braid extract output")
    recording.add_argument("--out", required=True, help="the model directory; curves go to OUT.curves.json")
    add_config_flags(recording, ["model", "train"])
    replaying = commands.add_parser("replay", help="the epoch a selection rule keeps on recorded curves")
    replaying.add_argument("curves", nargs="+", help="curves files written by record")
    default = TrainConfig()
    replaying.add_argument("--metric", default=default.selection_metric, help="train.selection_metric (default: the default's)")
    replaying.add_argument("--window", type=int, default=default.selection_window, help="train.selection_window")
    replaying.add_argument("--min-delta", type=float, default=default.min_delta, help="train.min_delta")
    replaying.add_argument("--patience", type=int, default=default.patience, help="train.patience")
    args = parser.parse_args(argv)
    if args.command == "record":
        print(record(args.features, args.out, config_from_args(args)))
        return 0
    kept = []
    for path in args.curves:
        result = replay(json.loads(Path(path).read_text())["epochs"], args.metric, args.window, args.min_delta,
                        args.patience)
        kept.append(result)
        print(f"{path}: epoch {result['best_epoch']} (stopped at {result['stopped_at']}), test Recall@10 / NDCG@10 "
              f"{result['test']['recall@10']:.4f} / {result['test']['ndcg@10']:.4f}")
    print(f"mean test Recall@10 / NDCG@10 {np.mean([r['test']['recall@10'] for r in kept]):.4f} / "
          f"{np.mean([r['test']['ndcg@10'] for r in kept]):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
