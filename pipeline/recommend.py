"""``braid recommend``: top-k for every user, a Beam job running the exported SavedModel.

Users are batched by Beam's ``RunInference`` and scored by the export's
``serving_default``, or by ``recommend_candidates`` when ``--candidates`` or
``--exclude`` narrow the catalogue, so offline recommendations are exactly
what TF Serving would answer. Results leave RunInference one user at a time
and are regrouped into Arrow tables for the Parquet sink (one Python dict per
row would dominate the run time).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from braidrec.pipeline.beam_runner import open_pipeline
from braidrec.pipeline.fileutil import temp_dir_beside
from braidrec.pipeline.recommend_inputs import Exclusions, read_exclusions, read_id_file

__all__ = ["SavedModelRecommender", "build_recommend_pipeline", "read_id_file", "read_exclusions", "recs_schema", "run_recommend"]

class LoadedModel:
    """The restored SavedModel and the candidate ids it ranks (``None``: use ``serving_default``).

    A class rather than a tuple: Beam's shared model cache keeps weak references.
    """

    def __init__(self, model, candidates):
        self.model = model
        self.candidates = candidates


RECS_COLUMNS = [("user_id", pa.string()), ("rank", pa.int32()), ("item_id", pa.string()), ("score", pa.float32())]
RECS_SCHEMA = pa.schema(RECS_COLUMNS)
EXCLUDED_SCORE = -1e29


def recs_schema(modalities: Sequence[str] | None = None) -> pa.Schema:
    """The Parquet schema of ``recs.parquet``; with ``modalities``, the explanation columns too:
    ``driver`` (the modality that earned most of the score), ``contribution_<modality>`` per
    modality and ``base`` (the rest), which add up to ``score``."""
    if not modalities:
        return RECS_SCHEMA
    return pa.schema(RECS_COLUMNS + [("driver", pa.string())] + [(f"contribution_{m}", pa.float32()) for m in modalities]
                     + [("base", pa.float32())])


def export_modalities(model) -> list[str] | None:
    """The export's modality names when it has the ``explain`` signature, else None (exports made
    before it, or with ``--export.explain false``)."""
    if "explain" not in model.signatures:
        return None
    return [m.decode() for m in model.modality_names().numpy()]


class SavedModelRecommender(ModelHandler[str, PredictionResult, object]):
    """RunInference handler: a batch of user ids -> each user's ranked (item ids, scores).

    Args:
        version_dir: ``EXPORT_BASE/NAME/<version>``.
        k: list length.
        candidates: if given, only these item ids are ranked.
        batch_size: users per call.
        exclusions: items never recommended (everyone's and per user).
        explain: also call the export's ``explain`` signature, so each result carries its
            modalities' contributions (the export must have it).
    """

    def __init__(self, version_dir: str, k: int, candidates: Sequence[str] | None = None, batch_size: int = 256,
                 exclusions: Exclusions | None = None, explain: bool = False):
        super().__init__()
        self._version_dir = str(version_dir)
        self._k = k
        self._candidates = list(candidates) if candidates is not None else None
        self._batch_size = batch_size
        self._exclusions = exclusions or Exclusions()
        self._explain = explain

    def load_model(self):
        import braidrec  # noqa: F401  (Keras 2 before TensorFlow, on every worker)
        import tensorflow as tf

        model = tf.saved_model.load(self._version_dir)
        probe = model.signatures["serving_default"](user_id=tf.constant([""]))["item_ids"]
        catalogue = [i.decode() for i in model.all_item_ids().numpy()]
        # serving_default answers a fixed k over everything; anything else needs the candidates signature.
        narrowed = self._candidates is not None or not self._exclusions.empty or probe.shape[1] < min(self._k, len(catalogue))
        candidates = None
        if narrowed:
            pool = self._candidates if self._candidates is not None else catalogue
            candidates = tf.constant([i for i in pool if i not in self._exclusions.everyone], tf.string)
        return LoadedModel(model, candidates)

    def run_inference(self, batch: Sequence[str], model, inference_args=None) -> Iterable[PredictionResult]:
        import tensorflow as tf

        model, candidates = model.model, model.candidates
        users = tf.constant(list(batch), dtype=tf.string)
        per_user = [self._exclusions.per_user.get(u, frozenset()) for u in batch]
        if candidates is None:
            out = model.signatures["serving_default"](user_id=users)
        else:
            extra = max((len(p) for p in per_user), default=0)
            out = model.signatures["recommend_candidates"](user_id=users, candidates=candidates, k=tf.constant(self._k + extra, tf.int32))
        ids, scores = out["item_ids"].numpy(), out["scores"].numpy()
        explained = None
        if self._explain:
            answer = model.signatures["explain"](user_id=users, item_ids=out["item_ids"])
            explained = (answer["driver"].numpy(), answer["contributions"].numpy(), answer["base"].numpy())
        for row, (user, row_ids, row_scores, excluded) in enumerate(zip(batch, ids, scores, per_user)):
            row_ids = np.array([i.decode() for i in row_ids], dtype=object)
            keep = row_scores > EXCLUDED_SCORE
            if excluded:
                keep &= np.array([i not in excluded for i in row_ids], dtype=bool)
            columns = {"item_id": row_ids[keep][: self._k], "score": row_scores[keep][: self._k]}
            if explained is not None:
                driver, contributions, base = (part[row][keep][: self._k] for part in explained)
                columns.update(driver=np.array([d.decode() for d in driver], dtype=object), contributions=contributions, base=base)
            yield PredictionResult(user, columns)

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self._batch_size}


def to_table(results: Sequence[PredictionResult], schema: pa.Schema = RECS_SCHEMA) -> pa.Table:
    """One Arrow table of ``schema`` (:func:`recs_schema`) for a group of users' results."""
    users = np.concatenate([[r.example] * len(r.inference["item_id"]) for r in results] or [[]]).astype(object)
    ranks = np.concatenate([np.arange(1, len(r.inference["item_id"]) + 1) for r in results] or [[]]).astype(np.int32)
    columns = {"user_id": users, "rank": ranks}
    for name in ("item_id", "score", "driver", "base"):
        if name in schema.names:
            columns[name] = np.concatenate([r.inference[name] for r in results] or [[]])
    modalities = [n[len("contribution_"):] for n in schema.names if n.startswith("contribution_")]
    if modalities:
        stacked = np.concatenate([r.inference["contributions"] for r in results] or [np.zeros((0, len(modalities)))])
        columns.update({f"contribution_{m}": stacked[:, j] for j, m in enumerate(modalities)})
    return pa.Table.from_arrays([pa.array(columns[f.name], f.type) for f in schema], schema=schema)


class ProgressBar(beam.DoFn):
    """Counts users through a ``tqdm`` bar on stderr (one bar per worker), passing elements on."""

    def __init__(self, total: int):
        self._total = total
        self._bar = None

    def setup(self):
        from tqdm import tqdm

        self._bar = tqdm(total=self._total, unit="user", desc="recommend", mininterval=0.5)

    def process(self, element):
        self._bar.update(1)
        yield element

    def teardown(self):
        if self._bar is not None:
            self._bar.close()


def build_recommend_pipeline(p: beam.Pipeline, users: Sequence[str], handler: SavedModelRecommender, out_prefix: str,
                             progress: bool = True, schema: pa.Schema = RECS_SCHEMA) -> None:
    """Adds the batch-recommendation job to ``p``: users -> RunInference -> Arrow tables of ``schema`` -> Parquet."""
    results = p | "Users" >> beam.Create(list(users)) | "Recommend" >> RunInference(handler)
    if progress:
        results = results | "Progress" >> beam.ParDo(ProgressBar(len(users)))
    _ = (
        results
        | "Group" >> beam.BatchElements(min_batch_size=64, max_batch_size=4096)
        | "Tables" >> beam.Map(to_table, schema)
        | "Write" >> beam.io.WriteToParquetBatched(out_prefix, schema, num_shards=1, shard_name_template="")
    )


def check_recommend_settings(k: int, batch_size: int) -> None:
    """Raises ValueError unless ``k`` (items per user) and ``batch_size`` (users per call) are >= 1."""
    if k < 1:
        raise ValueError(f"recommend k {k} must be >= 1 (items per user), e.g. --k 100")
    if batch_size < 1:
        raise ValueError(f"--recommend.batch_size {batch_size} must be >= 1 (users per SavedModel call)")


def run_recommend(
    version_dir: str | Path,
    out_path: str | Path,
    k: int,
    users_file: str | Path | None = None,
    candidates_file: str | Path | None = None,
    batch_size: int = 256,
    beam_args: list[str] | None = None,
    exclude_file: str | Path | None = None,
    progress: bool = True,
    explain: bool = True,
) -> int:
    """Writes ``out_path`` (Parquet: user_id, rank, item_id, score, and the explanation columns of
    :func:`recs_schema`) atomically.

    Args:
        version_dir: an exported version directory.
        out_path: the Parquet file to write.
        k: items per user (fewer when candidates run out).
        users_file: users to recommend for (default: every user known at export).
        candidates_file: item ids to rank among (default: the whole catalogue).
        batch_size: users per SavedModel call.
        beam_args: Beam pipeline options.
        exclude_file: items never to recommend (see :func:`read_exclusions`).
        progress: show a tqdm progress bar.
        explain: add each result's modality contributions when the export has the ``explain``
            signature (a warning says when it has not).

    Returns:
        The number of users recommended for.

    Raises:
        ValueError: as :func:`check_recommend_settings`, before any work.
    """
    import braidrec.serving.export as export

    check_recommend_settings(k, batch_size)

    model = export.load_servable(version_dir)
    users = read_id_file(users_file, "user_id") if users_file else [u.decode() for u in model.all_user_ids().numpy()]
    candidates = read_id_file(candidates_file, "item_id") if candidates_file else None
    exclusions = read_exclusions(exclude_file) if exclude_file else None
    modalities = export_modalities(model) if explain else None
    if explain and modalities is None:
        logging.warning("recommend: %s has no explain signature (exported before it, or with --export.explain false), so "
                        "recs.parquet has no driver or contribution columns; export again to get them", version_dir)
    out_path = Path(out_path)
    work = temp_dir_beside(out_path)
    try:
        handler = SavedModelRecommender(str(version_dir), k, candidates, batch_size, exclusions, explain=modalities is not None)
        with open_pipeline(beam_args) as p:
            build_recommend_pipeline(p, users, handler, str(work / "recs.parquet"), progress, recs_schema(modalities))
        os.replace(work / "recs.parquet", out_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return len(users)
