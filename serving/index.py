"""Exact (brute-force) top-k over a fixed catalogue, in core TensorFlow ops.

An index answers ``top_k(queries, known, k)``: the ``k`` best catalogue rows per
query by dot product plus the row's score offset (the content prior of items
without a trained id, :mod:`braidrec.models.content_prior`; ``with_offsets=False``
leaves it out, for cross-modal search), never returning a row listed in that
query's ``known`` (int32 rows padded with -1). Given ``cold_queries``, rows
without a trained id are scored with those instead
(:func:`braidrec.models.taste_profile.cold_item_queries`). :mod:`braidrec.serving.partitioned` implements the
same interface approximately for large catalogues.
"""

from __future__ import annotations

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

NEG_INF = -1e30


def pad_top_k(rows: tf.Tensor, scores: tf.Tensor, k: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Pads [batch, <=k] results to exactly ``k`` columns (row -1, score ``NEG_INF``).

    Signatures promise ``[batch, k]`` outputs; a query with fewer candidates
    than ``k`` (a tiny catalogue, few probed cells) is padded rather than
    changing the output shape.
    """
    missing = k - tf.shape(rows)[1]
    rows = tf.pad(rows, [[0, 0], [0, missing]], constant_values=-1)
    scores = tf.pad(scores, [[0, 0], [0, missing]], constant_values=NEG_INF)
    return rows, scores


def mask_known(rows: tf.Tensor, scores: tf.Tensor, known: tf.Tensor) -> tf.Tensor:
    """``scores`` [B, C] with ``NEG_INF`` where ``rows`` [B, C] is -1 or among ``known`` [B, K] (-1 padded).

    Membership is a binary search per candidate (``searchsorted`` on the sorted
    known rows), so a long history costs log(K) per candidate, not K.
    """
    known = tf.sort(known, axis=1)
    at = tf.minimum(tf.searchsorted(known, rows), tf.shape(known)[1] - 1)
    excluded = (tf.gather(known, at, batch_dims=1) == rows) | (rows < 0)
    return tf.where(excluded, tf.constant(NEG_INF, scores.dtype), scores)


def item_flags(has_id: np.ndarray | None, size: int) -> np.ndarray:
    """bool [size]: which items have a trained id (all, when ``has_id`` is None).

    Raises:
        ValueError: ``has_id`` does not have one value per item.
    """
    if has_id is None:
        return np.ones(size, bool)
    has_id = np.asarray(has_id, bool)
    if has_id.shape != (size,):
        raise ValueError(f"item has_id flags have shape {has_id.shape}; the catalogue has {size} items, one flag each")
    return has_id


def item_offsets(offsets: np.ndarray | None, size: int) -> np.ndarray:
    """float32 [size] score offsets (zeros when ``offsets`` is None).

    Raises:
        ValueError: ``offsets`` does not have one value per item.
    """
    if offsets is None:
        return np.zeros(size, np.float32)
    offsets = np.asarray(offsets, np.float32)
    if offsets.shape != (size,):
        raise ValueError(f"item score offsets have shape {offsets.shape}; the catalogue has {size} items, one offset each")
    return offsets


class BruteForceIndex(tf.Module):
    """Scores every item: one matmul and one ``top_k``.

    Args:
        embeddings: float32 [items, dim], row order of the catalogue.
        offsets: float32 [items] added to every query's scores (default: none).
        has_id: bool [items], the item has a trained id (default: all have).
    """

    def __init__(self, embeddings: np.ndarray, offsets: np.ndarray | None = None, has_id: np.ndarray | None = None):
        super().__init__(name="brute_force")
        self.size = int(len(embeddings))
        self.embeddings = tf.Variable(np.asarray(embeddings, np.float32), trainable=False, name="embeddings")
        self.offsets = tf.Variable(item_offsets(offsets, self.size), trainable=False, name="offsets")
        flags = item_flags(has_id, self.size)
        self.has_id = tf.Variable(flags, trainable=False, name="has_id")
        self.cold_count = int((~flags).sum())
        self.cold_rows = tf.Variable(np.flatnonzero(~flags).astype(np.int32), trainable=False, name="cold_rows")

    def has_id_of(self, rows: tf.Tensor) -> tf.Tensor:
        """Whether catalogue ``rows`` (all valid) have a trained id [n]."""
        return tf.gather(self.has_id, rows)

    def embeddings_of(self, rows: tf.Tensor) -> tf.Tensor:
        """Embeddings [n, dim] of catalogue ``rows`` (all valid)."""
        return tf.gather(self.embeddings, rows)

    def offsets_of(self, rows: tf.Tensor) -> tf.Tensor:
        """Score offsets [n] of catalogue ``rows`` (all valid)."""
        return tf.gather(self.offsets, rows)

    def top_k(self, queries: tf.Tensor, known: tf.Tensor, k: int, with_offsets: bool = True,
              cold_queries: tf.Tensor | None = None, cold_bias: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """(rows [batch, k], scores [batch, k]) best first; ``known`` rows get ``NEG_INF``.

        Args:
            queries: float32 [batch, dim].
            known: int32 [batch, K] catalogue rows to exclude, padded with -1.
            k: results per query (Python int, at most the catalogue size).
            with_offsets: add the rows' score offsets (False: the dot product alone).
            cold_queries: float32 [batch, dim] that score the rows without a trained id
                (default: ``queries`` score every row).
            cold_bias: float32 [batch] added to those rows' scores with ``cold_queries`` (default: 0).
        """
        scores = tf.matmul(queries, self.embeddings, transpose_b=True)
        # Skipped without cold rows: a MatMul with an empty operand aborts the process under oneDNN here.
        if cold_queries is not None and self.cold_count:
            cold_scores = tf.matmul(cold_queries, tf.gather(self.embeddings, self.cold_rows), transpose_b=True)
            if cold_bias is not None:
                cold_scores += cold_bias[:, None]
            # Scattered as columns: the transposed [items, batch] layout takes whole rows.
            scores = tf.transpose(tf.tensor_scatter_nd_update(tf.transpose(scores), self.cold_rows[:, None], tf.transpose(cold_scores)))
        if with_offsets:
            scores += self.offsets[None]
        batch_index = tf.broadcast_to(tf.range(tf.shape(known)[0])[:, None], tf.shape(known))
        valid = known >= 0
        indices = tf.stack([tf.boolean_mask(batch_index, valid), tf.boolean_mask(known, valid)], axis=1)
        updates = tf.fill([tf.shape(indices)[0]], tf.constant(NEG_INF, scores.dtype))
        scores = tf.tensor_scatter_nd_update(scores, indices, updates)
        top = tf.math.top_k(scores, k=min(k, self.size))
        return pad_top_k(top.indices, top.values, k)
