"""``make bench-extract``: image decode + encode items/s, Beam multi-processing (2 workers) vs a Python loop.

Both sides do the same work with the extraction job's own code: read the file,
decode (``image_features.decode_image``), make the thumbnail and the model
input (``extract_items.DecodeForEncoders``) and encode it (the built-in
descriptor's RunInference handler). The Beam side runs on DirectRunner with
``--direct_running_mode=multi_processing --direct_num_workers=2``.

Two Beam figures are reported: wall-clock items/s of the whole run (start-up
included), and the marginal items/s between a run over a quarter of the items
and a run over all of them, which cancels the fixed start-up (each worker
process imports TensorFlow, 5-20 s depending on load) and is what a long job
over a large catalogue sees. Workloads: generated catalogue-size JPEGs
(640x960) and, when ``../shared/datasets/ml-100k`` exists, its 92x138 posters.

Writes ``bench/results/extract.md`` and ``extract.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from PIL import Image, ImageDraw

from braidrec.config import ExtractConfig
from braidrec.pipeline import encoders
from braidrec.pipeline.beam_runner import open_pipeline
from braidrec.pipeline.extract_items import DecodeForEncoders, PreparedItem
from braidrec.pipeline.fileutil import write_text_atomic

RESULTS = Path(__file__).parent / "results"
POSTERS = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "ml-100k" / "posters"
MULTI = ("--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2")


def make_images(directory: Path, count: int, width: int = 640, height: int = 960, seed: int = 0) -> list[Path]:
    """Writes ``count`` JPEGs of coloured shapes (about 28 kB each) and returns their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        image = Image.new("RGB", (width, height), tuple(int(c) for c in rng.integers(0, 255, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            size = rng.integers(20, 300, 2)
            draw.ellipse([x, y, x + int(size[0]), y + int(size[1])], fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        path = directory / f"{i}.jpg"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def _elements(paths: list[Path]) -> list:
    return [(str(i), [PreparedItem(base={}, image_path=str(p), text="")]) for i, p in enumerate(paths)]


def loop(paths: list[Path], info: dict, size: int) -> tuple[float, int]:
    """The plain single-process loop: (seconds, vectors made)."""
    decode = DecodeForEncoders(size, info, with_text=False)
    handler = encoders.image_handler(info, 64)
    model = handler.load_model()
    started = time.perf_counter()
    inputs = [out.value[1] for element in _elements(paths) for out in decode.process(element)
              if getattr(out, "tag", None) == "image_input"]
    vectors = [r.inference for r in handler.run_inference(inputs, model)]
    return time.perf_counter() - started, len(vectors)


def beam_run(paths: list[Path], info: dict, size: int, args: list[str]) -> tuple[float, int]:
    """The Beam job over the same elements: (seconds including start-up, vectors made)."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with open_pipeline(args) as p:
            decoded = (
                p
                | beam.Create(_elements(paths))
                | "Spread" >> beam.Reshuffle()
                | beam.ParDo(DecodeForEncoders(size, info, with_text=False)).with_outputs("image_input", "thumb", "problem", "text_input")
            )
            _ = (
                decoded.image_input
                | RunInference(KeyedModelHandler(encoders.image_handler(info, 64)))
                | beam.combiners.Count.Globally()
                | beam.io.WriteToText(f"{tmp}/count", shard_name_template="")
            )
        seconds = time.perf_counter() - started
        return seconds, int(Path(f"{tmp}/count").read_text())


def run(count: int, posters: bool) -> dict:
    """Measures every workload and returns the results."""
    config = ExtractConfig()
    info = encoders.describe_encoders(config)["image"]
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "beam_args": list(MULTI),
               "encoder": info["name"], "workloads": []}
    with tempfile.TemporaryDirectory() as tmp:
        workloads = [("catalogue JPEG 640x960", make_images(Path(tmp), count))]
        if posters and POSTERS.is_dir():
            workloads.append(("ml-100k posters 92x138", sorted(POSTERS.glob("*.jpg"))))
        for name, paths in workloads:
            quarter = paths[: len(paths) // 4]
            loop_s, loop_n = loop(paths, info, config.image_size)
            beam_s, beam_n = beam_run(paths, info, config.image_size, list(MULTI))
            small_s, small_n = beam_run(quarter, info, config.image_size, list(MULTI))
            assert loop_n == beam_n == len(paths) and small_n == len(quarter), (name, loop_n, beam_n, small_n)
            loop_rate = len(paths) / loop_s
            marginal = (len(paths) - len(quarter)) / max(beam_s - small_s, 1e-9)
            row = {"workload": name, "items": len(paths), "loop_seconds": round(loop_s, 2),
                   "beam_seconds": round(beam_s, 2), "beam_seconds_quarter": round(small_s, 2),
                   "loop_items_per_s": round(loop_rate, 1), "beam_items_per_s": round(len(paths) / beam_s, 1),
                   "beam_marginal_items_per_s": round(marginal, 1), "speedup_wall": round(loop_s / beam_s, 2),
                   "speedup_marginal": round(marginal / loop_rate, 2), "load_average": round(os.getloadavg()[0], 1)}
            print(json.dumps(row))
            results["workloads"].append(row)
    return results


def write(results: dict) -> None:
    """bench/results/extract.{json,md}."""
    lines = ["# Extraction: image decode + encode throughput", "",
             f"Beam `{' '.join(results['beam_args'])}` against a plain Python loop, same code, encoder "
             f"`{results['encoder']}`, {results['machine']['cpus']} CPUs. Wall: whole run including start-up; "
             "marginal: (all items - a quarter) / (time of all - time of a quarter), start-up cancelled.", "",
             "| workload | items | loop items/s | Beam wall items/s | Beam marginal items/s | speed-up wall | speed-up marginal | load avg |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in results["workloads"]:
        lines.append(f"| {row['workload']} | {row['items']} | {row['loop_items_per_s']} | {row['beam_items_per_s']} | "
                     f"{row['beam_marginal_items_per_s']} | {row['speedup_wall']}x | {row['speedup_marginal']}x | {row['load_average']} |")
    write_text_atomic(RESULTS / "extract.json", json.dumps(results, indent=2))
    write_text_atomic(RESULTS / "extract.md", "\n".join(lines) + "\n")


def main() -> None:
    """Entry point of ``python -m bench.bench_extract``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000, help="generated catalogue images")
    parser.add_argument("--no-posters", action="store_true", help="skip the ml-100k posters workload")
    args = parser.parse_args()
    write(run(args.images, not args.no_posters))


if __name__ == "__main__":
    main()
