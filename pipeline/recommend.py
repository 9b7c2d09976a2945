"""``braid recommend``: top-k for every user, a Beam job running the exported SavedModel.

Users are batched by Beam's ``RunInference`` and scored by the export's
``serving_default`` (or ``recommend_candidates`` with ``--candidates``), so
offline recommendations are exactly what TF Serving would answer.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import apache_beam as beam
import pandas as pd
import pyarrow as pa
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from braidrec.pipeline.fileutil import temp_dir_beside

RECS_SCHEMA = pa.schema([("user_id", pa.string()), ("rank", pa.int32()), ("item_id", pa.string()), ("score", pa.float32())])
EXCLUDED_SCORE = -1e29


class SavedModelRecommender(ModelHandler[str, PredictionResult, object]):
    """RunInference handler: a batch of user ids -> each user's ranked (item id, score) list.

    Args:
        version_dir: ``EXPORT_BASE/NAME/<version>``.
        k: list length.
        candidates: if given, only these item ids are ranked.
        batch_size: users per call.
    """

    def __init__(self, version_dir: str, k: int, candidates: Sequence[str] | None = None, batch_size: int = 256):
        super().__init__()
        self._version_dir = str(version_dir)
        self._k = k
        self._candidates = list(candidates) if candidates is not None else None
        self._batch_size = batch_size

    def load_model(self):
        import braidrec  # noqa: F401  (Keras 2 before TensorFlow, on every worker)
        import tensorflow as tf

        return tf.saved_model.load(self._version_dir)

    def run_inference(self, batch: Sequence[str], model, inference_args=None) -> Iterable[PredictionResult]:
        import tensorflow as tf

        users = tf.constant(list(batch), dtype=tf.string)
        if self._candidates is None:
            out = model.signatures["serving_default"](user_id=users)
        else:
            out = model.signatures["recommend_candidates"](
                user_id=users, candidates=tf.constant(self._candidates, tf.string), k=tf.constant(self._k, tf.int32)
            )
        ids = out["item_ids"].numpy()[:, : self._k]
        scores = out["scores"].numpy()[:, : self._k]
        for user, row_ids, row_scores in zip(batch, ids, scores):
            yield PredictionResult(user, list(zip((i.decode() for i in row_ids), row_scores.tolist())))

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self._batch_size}


def to_rows(result: PredictionResult) -> Iterable[dict]:
    """One Parquet row per recommended item; items excluded as already known are skipped."""
    rank = 0
    for item, score in result.inference:
        if score <= EXCLUDED_SCORE:
            continue
        rank += 1
        yield {"user_id": result.example, "rank": rank, "item_id": item, "score": float(score)}


def build_recommend_pipeline(p: beam.Pipeline, users: Sequence[str], handler: SavedModelRecommender, out_prefix: str) -> None:
    """Adds the batch-recommendation job to ``p``: users -> RunInference -> Parquet."""
    _ = (
        p
        | "Users" >> beam.Create(list(users))
        | "Recommend" >> RunInference(handler)
        | "Rows" >> beam.FlatMap(to_rows)
        | "Write" >> beam.io.WriteToParquet(out_prefix, RECS_SCHEMA, num_shards=1, shard_name_template="")
    )


def read_id_file(path: str | Path, column: str) -> list[str]:
    """Ids from a text file (one per line) or a Parquet/CSV file with ``column``.

    Raises:
        ValueError: the file does not hold the column, naming it.
    """
    path = Path(path)
    if path.suffix in (".parquet", ".csv"):
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
        if column not in frame.columns:
            raise ValueError(f"{path}: no column '{column}' (columns: {', '.join(frame.columns)})")
        return frame[column].dropna().astype(str).tolist()
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def run_recommend(
    version_dir: str | Path,
    out_path: str | Path,
    k: int,
    users_file: str | Path | None = None,
    candidates_file: str | Path | None = None,
    batch_size: int = 256,
    beam_args: list[str] | None = None,
) -> int:
    """Writes ``out_path`` (Parquet: user_id, rank, item_id, score) atomically.

    Returns:
        The number of users recommended for.
    """
    import braidrec.serving.export as export

    model = export.load_servable(version_dir)
    users = read_id_file(users_file, "user_id") if users_file else [u.decode() for u in model.all_user_ids().numpy()]
    candidates = read_id_file(candidates_file, "item_id") if candidates_file else None
    out_path = Path(out_path)
    work = temp_dir_beside(out_path)
    try:
        handler = SavedModelRecommender(str(version_dir), k, candidates, batch_size)
        with beam.Pipeline(options=PipelineOptions(beam_args or [])) as p:
            build_recommend_pipeline(p, users, handler, str(work / "recs.parquet"))
        os.replace(work / "recs.parquet", out_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return len(users)
