"""The ``braid`` command.

Every stage is a subcommand; each takes ``--config YAML`` and ``--section.field``
overrides for the configuration sections it uses. ``extract``, ``recommend``
and ``run`` pass any other ``--flag`` to Beam as pipeline options (e.g.
``--runner=DirectRunner --direct_running_mode=multi_processing --direct_num_workers=2``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing

from braidrec.config import SynthConfig
from braidrec.config_loader import ConfigError, add_config_flags, config_from_args

BEAM_STAGES = {"extract", "recommend", "run"}


def _synth_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="directory to write the dataset into")
    kinds = typing.get_type_hints(SynthConfig)
    for field in dataclasses.fields(SynthConfig):
        parser.add_argument(
            f"--{field.name.replace('_', '-')}", dest=f"synth_{field.name}", type=kinds[field.name], default=None,
            help=f"default {field.default}",
        )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="braid", description="braidrec: multimodal two-tower recommendations")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="datasets: synthesise, validate").add_subparsers(dest="data_command", required=True)
    synth = data.add_parser("synth", help="write the synthetic catalogue with planted ground truth")
    _synth_flags(synth)
    validate = data.add_parser("validate", help="check a dataset directory and report every problem")
    validate.add_argument("dir")
    movielens = data.add_parser("movielens", help="convert MovieLens 100K / latest CSVs / RecBole atomic files")
    movielens.add_argument("--src", required=True, help="source directory (layout detected from its files)")
    movielens.add_argument("--out", required=True, help="dataset directory to write (outside the repository)")

    extract = sub.add_parser("extract", help="Beam job: raw dataset -> features, vocabularies, splits")
    extract.add_argument("--data", required=True, help="dataset directory with dataset.yaml")
    extract.add_argument("--out", required=True, help="features directory to write")
    add_config_flags(extract, ["extract"])

    train = sub.add_parser("train", help="train the two-tower model")
    train.add_argument("--features", required=True)
    train.add_argument("--out", required=True, help="model directory to write")
    add_config_flags(train, ["model", "train"])

    evaluate = sub.add_parser("evaluate", help="full-ranking metrics on the test split")
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--features", default=None, help="default: the features the model was trained on")
    evaluate.add_argument("--out", required=True, help="metrics.json to write")
    add_config_flags(evaluate, ["eval"])

    export = sub.add_parser("export", help="SavedModel for TF Serving at OUT/NAME/<version>")
    export.add_argument("--model", required=True)
    export.add_argument("--out", required=True, help="model base path (what TF Serving watches)")
    export.add_argument("--name", default=None, help="model name (default: export.name)")
    export.add_argument("--k", type=int, default=None, help="items per answer (default: export.k)")
    add_config_flags(export, ["export"])

    recommend = sub.add_parser("recommend", help="Beam job: top-k for every user into Parquet")
    recommend.add_argument("--model", required=True, help="an exported version directory OUT/NAME/<version>")
    recommend.add_argument("--out", required=True, help="Parquet file to write")
    recommend.add_argument("--k", type=int, default=None)
    recommend.add_argument("--users", default=None, help="file of user ids (one per line, or Parquet/CSV with user_id)")
    recommend.add_argument("--candidates", default=None, help="file of item ids to rank among (one per line, or Parquet/CSV with item_id)")
    recommend.add_argument("--exclude", default=None,
                           help="items never to recommend: a Parquet/CSV file with user_id and item_id columns (per-user pairs), or item ids (one per line, or a file with only item_id) excluded for everyone")
    add_config_flags(recommend, ["recommend"])

    explain = sub.add_parser("explain", help="why a user got an item: each modality's contribution to the served score")
    explain.add_argument("--model", required=True, help="an exported version directory OUT/NAME/<version>")
    named = explain.add_mutually_exclusive_group(required=True)
    named.add_argument("--user", default=None, help="a user id known to the export")
    named.add_argument("--history", default=None, help="comma-separated item ids, oldest first: a user unseen in training")
    explain.add_argument("--items", default=None, help="comma-separated item ids to explain (default: the user's top-k)")
    explain.add_argument("--k", type=int, default=10, help="how many of the user's top items (without --items)")
    explain.add_argument("--json", action="store_true", help="print JSON instead of a table")

    serve = sub.add_parser("serve", help="serve EXPORT_BASE over TF Serving's REST and gRPC APIs")
    serve.add_argument("--model-base", required=True, help="the --out of `braid export` (holds NAME/<version>/)")
    serve.add_argument("--port", type=int, default=None, help="REST port (default: serve.port, 8501)")
    serve.add_argument("--grpc-port", type=int, default=None, help="gRPC port (default: serve.grpc_port, 8500)")
    add_config_flags(serve, ["serve"])

    run = sub.add_parser("run", help="every stage into one run directory, then a summary")
    add_config_flags(run, ["", "data", "extract", "model", "train", "eval", "export", "recommend"])
    return parser


def _dispatch(args: argparse.Namespace, beam_args: list[str]) -> int:
    if args.command == "data" and args.data_command == "synth":
        from braidrec.data.synth import generate_synthetic

        config = SynthConfig(**{f.name: getattr(args, f"synth_{f.name}") for f in dataclasses.fields(SynthConfig) if getattr(args, f"synth_{f.name}") is not None})
        spec = generate_synthetic(args.out, config)
        print(f"wrote {spec.root} ({config.items} items, {config.users} users)")
        return 0
    if args.command == "explain":
        from braidrec.serving.explain_report import explain_user, format_explanation

        def ids(value: str | None) -> list[str] | None:
            return None if value is None else [v.strip() for v in value.split(",") if v.strip()]

        report = explain_user(args.model, args.user, ids(args.history), ids(args.items), args.k)
        print(json.dumps(report, indent=2) if args.json else format_explanation(report))
        return 0
    if args.command == "data" and args.data_command == "movielens":
        from braidrec.data.movielens import convert

        print(json.dumps(convert(args.src, args.out), indent=2))
        return 0
    if args.command == "data":
        from braidrec.data.validate import count_problems, format_report, validate_dataset

        problems = validate_dataset(args.dir)
        print(format_report(problems) if problems else f"{args.dir}: valid")
        return 1 if count_problems(problems) else 0
    config = config_from_args(args)
    if args.command in ("train", "run"):
        from braidrec.runtime import set_op_threads

        # Before any stage: TensorFlow fixes the count when it first runs an op (extraction runs some).
        set_op_threads(config.train.op_threads)
    if args.command == "extract":
        from braidrec.pipeline.extract_runner import run_extract

        manifest = run_extract(args.data, args.out, config.extract, beam_args)
        print(json.dumps({"counts": manifest["counts"], "interactions": manifest["interactions"]}, indent=2))
    elif args.command == "train":
        from braidrec.models.train import train

        history = train(args.features, args.out, config)
        metric = history["selection_metric"]
        print(f"best epoch {history['best_epoch']}: val {metric} {history['best_val'][metric]:.4f} -> {args.out}")
    elif args.command == "evaluate":
        from braidrec.models.evaluate_run import evaluate_model_dir, write_metrics

        metrics = evaluate_model_dir(args.model, args.features, config.eval.ks, config.eval.batch_size)
        write_metrics(metrics, args.out)
        print(json.dumps(metrics, indent=2))
    elif args.command == "export":
        from braidrec.serving.export import export

        print(export(args.model, args.out, args.name or config.export.name, args.k or config.export.k, config=config.export))
    elif args.command == "recommend":
        from braidrec.pipeline.recommend import run_recommend

        n = run_recommend(args.model, args.out, args.k or config.recommend.k, args.users, args.candidates, config.recommend.batch_size, beam_args,
                          exclude_file=args.exclude, explain=config.recommend.explain)
        print(f"wrote top-{args.k or config.recommend.k} for {n} users to {args.out}")
    elif args.command == "serve":
        from braidrec.serving.serve import run_serve

        config.serve.port = config.serve.port if args.port is None else args.port
        config.serve.grpc_port = config.serve.grpc_port if args.grpc_port is None else args.grpc_port
        run_serve(args.model_base, config.serve)
    elif args.command == "run":
        from braidrec.pipeline.run import run_all, summary

        print(summary(run_all(config, beam_args)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``braid``; returns the process exit code."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command not in BEAM_STAGES:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return _dispatch(args, unknown)
    except ConfigError as err:
        print(f"braid: configuration error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as err:
        print(f"braid {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
