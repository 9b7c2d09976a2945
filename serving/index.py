"""Exact (brute-force) top-k over a fixed catalogue, in core TensorFlow ops.

An index answers ``top_k(queries, known, k)``: the ``k`` best catalogue rows per
query by dot product plus the row's score offset (the content prior of items
without a trained id, :mod:`braidrec.models.content_prior`; ``with_offsets=False``
leaves it out, for cross-modal search), never returning a row listed in that
query's ``known`` (int32 rows padded with -1). :mod:`braidrec.serving.partitioned` implements the
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
    """

    def __init__(self, embeddings: np.ndarray, offsets: np.ndarray | None = None):
        super().__init__(name="brute_force")
        self.size = int(len(embeddings))
        self.embeddings = tf.Variable(np.asarray(embeddings, np.float32), trainable=False, name="embeddings")
        self.offsets = tf.Variable(item_offsets(offsets, self.size), trainable=False, name="offsets")

    def embeddings_of(self, rows: tf.Tensor) -> tf.Tensor:
        """Embeddings [n, dim] of catalogue ``rows`` (all valid)."""
        return tf.gather(self.embeddings, rows)

    def offsets_of(self, rows: tf.Tensor) -> tf.Tensor:
        """Score offsets [n] of catalogue ``rows`` (all valid)."""
        return tf.gather(self.offsets, rows)

    def top_k(self, queries: tf.Tensor, known: tf.Tensor, k: int, with_offsets: bool = True) -> tuple[tf.Tensor, tf.Tensor]:
        """(rows [batch, k], scores [batch, k]) best first; ``known`` rows get ``NEG_INF``.

        Args:
            queries: float32 [batch, dim].
            known: int32 [batch, K] catalogue rows to exclude, padded with -1.
            k: results per query (Python int, at most the catalogue size).
            with_offsets: add the rows' score offsets (False: the dot product alone).
        """
        scores = tf.matmul(queries, self.embeddings, transpose_b=True)
        if with_offsets:
            scores += self.offsets[None]
        batch_index = tf.broadcast_to(tf.range(tf.shape(known)[0])[:, None], tf.shape(known))
        valid = known >= 0
        indices = tf.stack([tf.boolean_mask(batch_index, valid), tf.boolean_mask(known, valid)], axis=1)
        updates = tf.fill([tf.shape(indices)[0]], tf.constant(NEG_INF, scores.dtype))
        scores = tf.tensor_scatter_nd_update(scores, indices, updates)
        top = tf.math.top_k(scores, k=min(k, self.size))
        return pad_top_k(top.indices, top.values, k)
