"""Thin runner for the extraction pipeline: validate, run into a temp dir, manifest, rename."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from pathlib import Path

from braidrec.config import ExtractConfig
from braidrec.data import bad_records, validate
from braidrec.features import contract
from braidrec.pipeline.beam_runner import open_pipeline
from braidrec.pipeline.encoders import describe_encoders
from braidrec.pipeline.extract import COUNTS_FILE, build_extract_pipeline
from braidrec.pipeline.fileutil import atomic_dir, sha256_file


def _schema(num_numeric: int, encoder_info: dict) -> dict:
    text = encoder_info["text"]
    spec = contract.item_feature_spec(num_numeric, encoder_info["image"]["dim"], text["dim"] if text else 0)
    return {
        "items": {name: {"dtype": f.dtype.name, "shape": list(getattr(f, "shape", []) or [])} for name, f in spec.items()},
        "histories": {name: f.dtype.name for name, f in contract.HISTORY_SPEC.items()},
        "splits": ["user_id", "item_id", "timestamp"],
    }


def _accounting(counts: dict) -> dict:
    dead_interactions = sum(v for k, v in counts.items() if k.startswith("dead_letter.interaction_"))
    parts = {name: counts.get(name, 0) for name in contract.SPLIT_NAMES}
    parts["duplicates"] = counts.get("duplicates", 0)
    parts["dead_letter"] = dead_interactions
    total = sum(parts.values())
    read = counts.get("interactions_parsed", 0) + dead_interactions
    return {**parts, "accounted": total, "read": read, "balanced": total == read}


def run_extract(data_dir: str | Path, out_dir: str | Path, config: ExtractConfig, beam_args: list[str] | None = None,
                encoder_info: dict | None = None) -> dict:
    """Validates the dataset, runs the Beam job and writes ``manifest.json``.

    Outputs appear at ``out_dir`` only when the whole job succeeded.

    Args:
        data_dir: raw dataset directory (with ``dataset.yaml``).
        out_dir: the features directory to create or replace.
        config: extraction settings.
        beam_args: standard Beam pipeline options, e.g. ``["--runner=DirectRunner",
            "--direct_running_mode=multi_processing", "--direct_num_workers=2"]``.
        encoder_info: ``describe_encoders(config)`` when the caller has it already (resolved when None).

    Returns:
        The manifest.

    Raises:
        validate.InvalidDatasetError: the dataset has problems (all of them are listed), or with
            ``extract.bad_records dead_letter`` problems of the whole dataset.
    """
    started = time.time()
    spec, let_through = bad_records.check_dataset(data_dir, config.bad_records)
    out_dir = Path(out_dir)
    encoder_info = encoder_info or describe_encoders(config)
    cache_dir = cache_location(out_dir, config)
    # The cache is replaced before the features (the stack unwinds in reverse); either is replaced only
    # when the whole job succeeded.
    with contextlib.ExitStack() as outputs:
        work = outputs.enter_context(atomic_dir(out_dir))
        cache_work = outputs.enter_context(atomic_dir(cache_dir)) if cache_dir else None
        with open_pipeline(beam_args) as p:
            runner = type(p.runner).__name__
            cache_in = cache_dir if cache_dir and cache_dir.is_dir() else None
            build_extract_pipeline(p, spec, config, work, encoder_info, cache_in, cache_work)
        counts = json.loads((work / COUNTS_FILE).read_text())
        (work / COUNTS_FILE).unlink()
        for name in ("items_reused", "items_encoded", "items_without_image"):
            counts.setdefault(name, 0)
        inputs = [spec.root / "dataset.yaml"] + [spec.root / t.path for t in (spec.items, spec.interactions, spec.users) if t]
        manifest = {
            "dataset": str(spec.root),
            "inputs": {str(path.relative_to(spec.root)): sha256_file(path) for path in inputs},
            "config": dataclasses.asdict(config),
            "beam_args": beam_args or [],
            "runner": runner,
            "counts": counts,
            "interactions": _accounting(counts),
            "schema": _schema(len(spec.items.numeric), encoder_info),
            "encoders": encoder_info,
            "cache": str(cache_dir) if cache_dir else None,
            "seconds": round(time.time() - started, 1),
        }
        manifest["validation"] = _validation(let_through, work, config.bad_records)
        (work / contract.MANIFEST).write_text(json.dumps(manifest, indent=2))
    if let_through:
        logging.warning("extract: went on past %d bad records (--extract.bad_records dead_letter): %s; each is in %s",
                        manifest["validation"]["problems"], manifest["validation"]["by_kind"],
                        out_dir / contract.DEAD_LETTER_DIR / "validation.jsonl")
    return manifest


def _validation(problems: list[validate.Problem], work: Path, mode: str) -> dict:
    """The record problems a ``dead_letter`` run went on with: counted per kind in the manifest, each one
    (up to ``validate.MAX_PER_KIND`` per table, column and kind) in ``dead_letter/validation.jsonl``."""
    counts: dict[str, int] = {}
    for problem in problems:
        counts[problem.kind] = counts.get(problem.kind, 0) + (problem.omitted or 1)
    path = work / contract.DEAD_LETTER_DIR / "validation.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"table": p.table, "row": p.row, "column": p.column, "kind": p.kind,
                                        "problem": p.message, "omitted": p.omitted}) + "\n" for p in problems))
    return {"bad_records": mode, "problems": validate.count_problems(problems), "by_kind": dict(sorted(counts.items()))}


def cache_location(out_dir: Path, config: ExtractConfig) -> Path | None:
    """The extraction cache directory: ``extract.cache_dir``, by default ``OUT/../.extract_cache``; None for "none"."""
    if config.cache_dir == "none":
        return None
    return Path(config.cache_dir) if config.cache_dir else Path(out_dir).parent / ".extract_cache"
