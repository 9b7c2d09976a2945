"""``make bench-explain``: what the per-modality explanation costs, against the same export without it.

On a synthetic catalogue (clustered embeddings, each split into random
per-modality parts that add up to it), in one process:

- the ``explain`` signature's p50 latency for a user's top-k, as a ratio of
  ``serving_default``'s (the call that produced that top-k);
- ``braid recommend`` (the Beam job, start-up and Parquet included) with and
  without the explanation columns: users/s and the ratio;
- the export's size with and without the stored parts, and with them in float16
  (``--export.explain_precision float16``): its latency, and how far its
  contributions and drivers are from float32's on the same top-k (also on a
  trained model's export with ``--model``).

Writes ``bench/results/explain.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from bench.bench_serve import percentiles, timed
from bench.serve_fixtures import synthetic_catalogue, synthetic_module
from braidrec.models.score_parts import ItemParts
from braidrec.config import ExportConfig
from braidrec.pipeline.recommend import run_recommend
from braidrec.serving.export import build_module, save_module

K = 10
MODALITIES = ["id", "text", "image", "categorical", "numeric"]
RESULTS = Path(__file__).parent / "results"


def with_parts(data, rng: np.random.Generator):
    """``data`` with random per-modality parts (and a bias part) that add up to each item's embedding."""
    items, dim = data.item_embeddings.shape
    parts = rng.normal(0, 0.1, (items, len(MODALITIES), dim)).astype(np.float32)
    split = ItemParts(parts, rng.uniform(0.5, 1.5, items).astype(np.float32), rng.normal(0, 0.01, dim).astype(np.float32))
    parts[:, 0] = data.item_embeddings - parts[:, 1:].sum(axis=1) - split.bias_parts
    return dataclasses.replace(data, modalities=MODALITIES, item_weights=np.full((items, len(MODALITIES)), 0.2, np.float32),
                               item_parts=split)


def export_size(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def signature_latency(served, users: np.ndarray, batch: int, reps: int, rng: np.random.Generator) -> dict:
    """p50/p99 of ``serving_default`` and of ``explain`` on its answers, over the same batches."""
    batches = [tf.constant(users[rng.integers(0, len(users), batch)]) for _ in range(reps)]
    answers = [served.signatures["serving_default"](user_id=b)["item_ids"] for b in batches]
    recommend = percentiles(timed(lambda b: served.signatures["serving_default"](user_id=b)["scores"].numpy(), batches))
    pairs = list(zip(batches, answers))
    explain = percentiles(timed(lambda pair: served.signatures["explain"](user_id=pair[0], item_ids=pair[1])["scores"].numpy(), pairs))
    return {"serving_default": recommend, "explain": explain, "p50_ratio": explain["p50_ms"] / recommend["p50_ms"]}


def precision_agreement(exact, rounded, users: np.ndarray, batch: int = 256) -> dict:
    """How far the float16 export ``rounded``'s explanations are from the float32 export ``exact``'s,
    over every user's top-k (``serving_default`` of ``exact``): the largest and mean absolute
    contribution difference, the largest contribution's size, and the share of slots whose driver agrees."""
    diffs, biggest, agree, slots = [], 0.0, 0, 0
    for start in range(0, len(users), batch):
        ids = tf.constant(users[start:start + batch])
        items = exact.signatures["serving_default"](user_id=ids)["item_ids"]
        a, b = (served.signatures["explain"](user_id=ids, item_ids=items) for served in (exact, rounded))
        found = a["found"].numpy()
        diffs.append(np.abs(a["contributions"].numpy() - b["contributions"].numpy())[found])
        biggest = max(biggest, float(np.abs(a["contributions"].numpy()[found]).max(initial=0.0)))
        agree += int((a["driver"].numpy() == b["driver"].numpy())[found].sum())
        slots += int(found.sum())
    diff = np.concatenate(diffs)
    return {"slots": slots, "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
            "max_abs_contribution": biggest, "driver_agreement": agree / max(slots, 1)}


def trained_model_agreement(model_dir: str, work: Path) -> dict:
    """:func:`precision_agreement` of a trained model's two exports, over every known user."""
    exports = {precision: tf.saved_model.load(str(save_module(
        build_module(model_dir, K, config=ExportConfig(explain_precision=precision)), work / precision, "model")))
        for precision in ("float32", "float16")}
    users = exports["float32"].all_user_ids().numpy().astype(str)
    return {"model": model_dir, "users": len(users), **precision_agreement(exports["float32"], exports["float16"], users)}


def batch_recommendation(version: Path, work: Path, explain: bool) -> dict:
    """users/s of ``braid recommend`` over every user of the export."""
    start = time.perf_counter()
    users = run_recommend(version, work / f"recs-{explain}.parquet", K, batch_size=256, progress=False, explain=explain)
    seconds = time.perf_counter() - start
    return {"users": users, "seconds": seconds, "users_per_s": users / seconds}


def run(items: int, users: int, work: Path, model_dir: str | None = None) -> dict:
    """Every measurement (``model_dir``: also float16's agreement on that trained model); returns the results dict."""
    rng = np.random.default_rng(0)
    plain, user_vectors = synthetic_catalogue(items, users)
    explained = with_parts(plain, rng)
    out: dict = {"items": items, "users": users, "modalities": len(MODALITIES), "dim": int(plain.item_embeddings.shape[1]),
                 "k": K, "machine_cores": os.cpu_count()}
    rounded = dataclasses.replace(explained, item_parts=explained.item_parts._replace(parts=explained.item_parts.parts.astype(np.float16)))
    versions = {}
    for name, data in (("plain", plain), ("explain", explained), ("explain_float16", rounded)):
        versions[name] = save_module(synthetic_module(data, user_vectors, K), work / name, "synthetic")
        out[f"export_mib_{name}"] = export_size(versions[name]) / 2**20
    out["export_size_ratio"] = out["export_mib_explain"] / out["export_mib_plain"]
    out["export_size_ratio_float16"] = out["export_mib_explain_float16"] / out["export_mib_plain"]
    ids = plain.user_ids.astype(str)
    for name, key in (("explain", "latency"), ("explain_float16", "latency_float16")):
        served = tf.saved_model.load(str(versions[name]))
        out[key] = {f"batch{b}": signature_latency(served, ids, b, 200 if b == 1 else 50, rng) for b in (1, 64)}
    out["float16_agreement"] = precision_agreement(*(tf.saved_model.load(str(versions[n])) for n in ("explain", "explain_float16")), ids)
    if model_dir:
        out["float16_agreement_trained"] = trained_model_agreement(model_dir, work / "trained")
    # Each job twice, alternating, and the faster run of each: the first Beam job of a process pays start-up.
    runs: dict = {}
    for _ in range(2):
        for name in ("plain", "explain"):
            measured = batch_recommendation(versions[name], work, explain=name == "explain")
            if name not in runs or measured["seconds"] < runs[name]["seconds"]:
                runs[name] = measured
    out["batch_recommendation"] = {**runs, "time_ratio": runs["explain"]["seconds"] / runs["plain"]["seconds"]}
    return out


def markdown(results: dict) -> str:
    """The results as a short markdown report."""
    r = results
    lines = ["# bench-explain", "",
             f"`python -m bench.bench_explain --items {r['items']} --users {r['users']}"
             f"{' --model ' + r['float16_agreement_trained']['model'] if 'float16_agreement_trained' in r else ''}`: {r['items']} items, "
             f"{r['modalities']} modalities, {r['dim']}-d, k = {r['k']}, {r['machine_cores']} CPUs; one process.", "",
             "| batch, parts | serving_default p50 ms | explain p50 ms | explain p99 ms | explain / serving_default |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for precision, latency in (("float32", r["latency"]), ("float16", r["latency_float16"])):
        for batch, row in latency.items():
            lines.append(f"| {batch[len('batch'):]}, {precision} parts | {row['serving_default']['p50_ms']:.2f} | "
                         f"{row['explain']['p50_ms']:.2f} | {row['explain']['p99_ms']:.2f} | {row['p50_ratio']:.2f}x |")
    b = r["batch_recommendation"]
    lines += ["", f"`braid recommend`, {b['plain']['users']} users, whole Beam job: {b['plain']['users_per_s']:.0f} users/s plain, "
              f"{b['explain']['users_per_s']:.0f} users/s with the explanation columns ({b['time_ratio']:.2f}x the time).", "",
              f"Export size: {r['export_mib_plain']:.1f} MiB plain, {r['export_mib_explain']:.1f} MiB with the parts "
              f"({r['export_size_ratio']:.2f}x), {r['export_mib_explain_float16']:.1f} MiB with them in float16 "
              f"({r['export_size_ratio_float16']:.2f}x).", "",
              "float16 parts against float32, explaining every user's top-10 (`driver agreement`: slots whose driver is the same):", "",
              "| export | slots | max abs contribution diff | mean abs diff | largest abs contribution | driver agreement |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, key in (("synthetic catalogue above", "float16_agreement"), ("trained model", "float16_agreement_trained")):
        if key in r:
            a = r[key]
            label = f"{name} (`--model {a['model']}`, {a['users']} users)" if "model" in a else name
            lines.append(f"| {label} | {a['slots']} | {a['max_abs_diff']:.2e} | {a['mean_abs_diff']:.2e} | "
                         f"{a['max_abs_contribution']:.3f} | {a['driver_agreement']:.5f} |")
    return "\n".join(lines + [""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=4096)
    parser.add_argument("--out", default=str(RESULTS), help="directory for explain.json and explain.md")
    parser.add_argument("--model", help="a trained model directory (RUN/model) whose float16 explanations to compare too")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-explain-") as work:
        results = run(args.items, args.users, Path(work), args.model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "explain.json").write_text(json.dumps(results, indent=2))
    (out / "explain.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
