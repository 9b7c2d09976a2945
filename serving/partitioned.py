"""A partitioned (IVF-style) top-k index built from core TensorFlow ops only.

At export the catalogue is clustered by spherical k-means (NumPy) into
``cells``; items are stored sorted by cell, with the cell boundaries. A query
scores the centroids, probes its ``nprobe`` best cells and re-scores exactly
the items in them; items without a trained id or with a score offset (the
cold-item prior) are scored for every query instead, with the query for such
items when one is given. Because only core ops (``MatMul``, ``TopKV2``,
``RaggedRange``, ``GatherV2``, ``RaggedTensorToTensor``...) run, stock TF Serving loads it
(ScaNN's custom ops would not load there; see STACK_NOTES.md).
"""

from __future__ import annotations

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.serving.index import NEG_INF, item_flags, item_offsets, mask_known, pad_top_k


def default_cells(items: int) -> int:
    """About ``2 * sqrt(items)`` cells: ~500 items per cell at 1M, a few per cell when tiny."""
    return max(1, min(items, int(round(2 * np.sqrt(items)))))


def _assign(x: np.ndarray, centroids: np.ndarray, chunk: int = 65536) -> np.ndarray:
    out = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), chunk):
        out[start : start + chunk] = np.argmax(x[start : start + chunk] @ centroids.T, axis=1)
    return out


def spherical_kmeans(x: np.ndarray, cells: int, iterations: int = 12, sample: int = 100_000, seed: int = 0) -> np.ndarray:
    """Unit-norm centroids [cells, dim] maximising the dot product with their members.

    Trained on a seeded sample of at most ``sample`` rows (the full assignment
    is one pass afterwards); an emptied cell is re-seeded at a random row so
    every cell stays in use.
    """
    rng = np.random.default_rng(seed)
    train = x[rng.choice(len(x), size=min(sample, len(x)), replace=False)]
    centroids = train[rng.choice(len(train), size=cells, replace=False)].copy()
    for _ in range(iterations):
        members = _assign(train, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, members, train)
        counts = np.bincount(members, minlength=cells)
        empty = counts == 0
        sums[empty] = train[rng.choice(len(train), size=int(empty.sum()))]
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return centroids.astype(np.float32)


class PartitionedIndex(tf.Module):
    """Approximate top-k: probe the ``nprobe`` nearest cells, re-score their items exactly.

    Items without a trained id, and items with a non-zero score offset (cold
    items lifted by the content prior), are kept out of the cells and scored for
    every query: an offset can lift an item above anything in the probed cells,
    cold items are scored with their own query (``cold_queries``), and cells are
    chosen by the dot product with ``queries``, so such an item in an unprobed
    cell would be missed. Their count sets the extra cost per query.

    Args:
        embeddings: float32 [items, dim] (L2-normalised), catalogue row order.
        cells: number of k-means cells (0: :func:`default_cells` of the items in cells).
        nprobe: cells searched per query (capped at ``cells``).
        seed: k-means seed (the export is reproducible).
        offsets: float32 [items] added to the exact scores (default: none).
        has_id: bool [items], the item has a trained id (default: all have).
    """

    def __init__(self, embeddings: np.ndarray, cells: int = 0, nprobe: int = 16, seed: int = 0,
                 offsets: np.ndarray | None = None, has_id: np.ndarray | None = None):
        super().__init__(name="partitioned")
        embeddings = np.asarray(embeddings, np.float32)
        self.size = int(len(embeddings))
        offsets = item_offsets(offsets, self.size)
        has_id = item_flags(has_id, self.size)
        lifted = (offsets != 0) | ~has_id
        clustered = np.flatnonzero(~lifted)
        if len(clustered) == 0:
            # Every item is lifted: cluster them all and probe every cell, which is exact.
            clustered, lifted[:] = np.arange(self.size), False
            nprobe = self.size  # capped at the number of cells below
        cells = min(cells or default_cells(len(clustered)), len(clustered))
        self.nprobe = int(min(max(nprobe, 1), cells))
        centroids = spherical_kmeans(embeddings[clustered], cells, seed=seed)
        members = _assign(embeddings[clustered], centroids)
        # Cell members sorted by cell, then the lifted items, which every query scans.
        order = np.concatenate([clustered[np.argsort(members, kind="stable")], np.flatnonzero(lifted)])
        splits = np.concatenate([[0], np.cumsum(np.bincount(members, minlength=cells))])
        self.cell_sizes = np.diff(splits)
        self.scanned = int(lifted.sum())
        # Only when every item was lifted (then all are clustered): such cells need the cold query too.
        self.cold_in_cells = bool((~has_id[clustered]).any())
        self.centroids = tf.Variable(centroids, trainable=False, name="centroids")
        self.sorted_embeddings = tf.Variable(embeddings[order], trainable=False, name="sorted_embeddings")
        self.sorted_offsets = tf.Variable(offsets[order], trainable=False, name="sorted_offsets")
        self.sorted_has_id = tf.Variable(has_id[order], trainable=False, name="sorted_has_id")
        self.sorted_rows = tf.Variable(order.astype(np.int32), trainable=False, name="sorted_rows")
        self.positions = tf.Variable(np.argsort(order).astype(np.int32), trainable=False, name="positions")
        self.splits = tf.Variable(splits.astype(np.int64), trainable=False, name="splits")
        # Their own small copies: sliced out of the sorted variables instead, 10,000 of them cost 15 ms
        # per batch-1 query at 1M items, against 1.2 ms this way (bench/bench_serve.py: lifted_items).
        scanned = order[len(order) - self.scanned:]
        self.scanned_embeddings = tf.Variable(embeddings[scanned], trainable=False, name="scanned_embeddings")
        self.scanned_offsets = tf.Variable(offsets[scanned], trainable=False, name="scanned_offsets")
        self.scanned_rows = tf.Variable(scanned.astype(np.int32), trainable=False, name="scanned_rows")
        self.scanned_has_id = tf.Variable(has_id[scanned], trainable=False, name="scanned_has_id")

    def embeddings_of(self, rows: tf.Tensor) -> tf.Tensor:
        """Embeddings [n, dim] of catalogue ``rows`` (all valid)."""
        return tf.gather(self.sorted_embeddings, tf.gather(self.positions, rows))

    def offsets_of(self, rows: tf.Tensor) -> tf.Tensor:
        """Score offsets [n] of catalogue ``rows`` (all valid)."""
        return tf.gather(self.sorted_offsets, tf.gather(self.positions, rows))

    def has_id_of(self, rows: tf.Tensor) -> tf.Tensor:
        """Whether catalogue ``rows`` (all valid) have a trained id [n]."""
        return tf.gather(self.sorted_has_id, tf.gather(self.positions, rows))

    def candidates(self, queries: tf.Tensor, with_offsets: bool = True, cold_queries: tf.Tensor | None = None,
                   cold_bias: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """(rows [batch, C], exact scores [batch, C]) of the items in each query's probed cells,
        then of every lifted item (those without a trained id scored with ``cold_queries`` plus
        ``cold_bias`` when given).

        C is the largest candidate count in the batch; shorter rows are padded
        with row -1 and score ``NEG_INF`` before the lifted items.
        """
        probe = tf.math.top_k(tf.matmul(queries, self.centroids, transpose_b=True), k=self.nprobe).indices
        starts = tf.gather(self.splits, probe)
        limits = tf.gather(self.splits, probe + 1)
        positions = tf.ragged.range(tf.reshape(starts, [-1]), tf.reshape(limits, [-1])).flat_values
        counts = tf.reduce_sum(limits - starts, axis=1)
        query_of = tf.repeat(tf.range(tf.shape(queries)[0], dtype=tf.int64), counts)
        flat_scores = tf.reduce_sum(tf.gather(self.sorted_embeddings, positions) * tf.gather(queries, query_of), axis=1)
        cold_bias = tf.zeros(tf.shape(queries)[:1]) if cold_bias is None else cold_bias
        if cold_queries is not None and self.cold_in_cells:
            cold_flat = tf.reduce_sum(tf.gather(self.sorted_embeddings, positions) * tf.gather(cold_queries, query_of), axis=1)
            cold_flat += tf.gather(cold_bias, query_of)
            flat_scores = tf.where(tf.gather(self.sorted_has_id, positions), flat_scores, cold_flat)
        if with_offsets:
            flat_scores += tf.gather(self.sorted_offsets, positions)
        scores = tf.RaggedTensor.from_row_lengths(flat_scores, counts).to_tensor(default_value=NEG_INF)
        rows = tf.RaggedTensor.from_row_lengths(tf.gather(self.sorted_rows, positions), counts).to_tensor(default_value=-1)
        if not self.scanned:
            # Nothing to scan; and a MatMul with an empty operand aborts the process under oneDNN here.
            return rows, scores
        scanned_scores = tf.matmul(queries, self.scanned_embeddings, transpose_b=True)
        if cold_queries is not None:
            cold_scores = tf.matmul(cold_queries, self.scanned_embeddings, transpose_b=True) + cold_bias[:, None]
            scanned_scores = tf.where(self.scanned_has_id[None], scanned_scores, cold_scores)
        if with_offsets:
            scanned_scores += self.scanned_offsets[None]
        scanned_rows = tf.tile(self.scanned_rows[None], [tf.shape(queries)[0], 1])
        return tf.concat([rows, scanned_rows], axis=1), tf.concat([scores, scanned_scores], axis=1)

    def top_k(self, queries: tf.Tensor, known: tf.Tensor, k: int, with_offsets: bool = True,
              cold_queries: tf.Tensor | None = None, cold_bias: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """(rows [batch, k], scores [batch, k]) best first, ``known`` rows (padded -1) excluded;
        the other arguments as :meth:`BruteForceIndex.top_k`."""
        rows, scores = self.candidates(queries, with_offsets, cold_queries, cold_bias)
        scores = mask_known(rows, scores, known)
        top = tf.math.top_k(scores, k=tf.minimum(k, tf.shape(scores)[1]))
        return pad_top_k(tf.gather(rows, top.indices, batch_dims=1), top.values, k)
