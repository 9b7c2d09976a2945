"""Synthetic catalogues for ``bench_serve.py``: clustered unit embeddings and a table user tower.

Sizes beyond the datasets at hand (100K, 1M items) are synthetic, as the issue
allows. Embeddings are drawn around random topic centres, the structure a
trained two-tower space has; uniform random vectors would have none and are
not what a partitioned index is for.
"""

from __future__ import annotations

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.serving.module import USER_ID, RetrievalModule, ServingData


def clustered_unit_vectors(n: int, dim: int, topics: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` float32 unit vectors, each a random topic centre plus Gaussian noise of norm ~``spread``."""
    centres = rng.standard_normal((topics, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 262_144):
        part = slice(start, min(n, start + 262_144))
        size = part.stop - part.start
        noise = rng.standard_normal((size, dim)).astype(np.float32) * (spread / np.sqrt(dim))
        out[part] = centres[rng.integers(0, topics, size)] + noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


class TableUserTower(tf.Module):
    """A user tower that looks vectors up by id (unknown users: the mean vector).

    Stands in for the trained tower so the bench measures retrieval, not the tower.
    """

    def __init__(self, user_ids: np.ndarray, vectors: np.ndarray):
        super().__init__(name="table_user_tower")
        init = tf.lookup.KeyValueTensorInitializer(tf.constant(user_ids), tf.range(len(user_ids), dtype=tf.int32))
        self.table = tf.lookup.StaticHashTable(init, default_value=-1)
        self.vectors = tf.Variable(vectors, trainable=False, name="vectors")
        mean = vectors.mean(axis=0)
        self.default = tf.Variable(mean / np.linalg.norm(mean), trainable=False, name="default")

    def __call__(self, inputs: dict, training: bool = False) -> tf.Tensor:
        rows = self.table.lookup(inputs[USER_ID])
        found = tf.gather(self.vectors, tf.maximum(rows, 0))
        return tf.where((rows >= 0)[:, None], found, self.default[None])


def synthetic_catalogue(items: int, users: int, dim: int = 64, known: int = 20, seed: int = 0, spread: float = 1.0):
    """(ServingData, user vectors) of a synthetic catalogue with ``known`` seen items per user.

    ``spread`` is the noise norm around topic centres (unit norm): larger is
    less clustered, so harder for a partitioned index.
    """
    rng = np.random.default_rng(seed)
    topics = max(8, int(np.sqrt(items)))
    vectors = clustered_unit_vectors(items + users, dim, topics, spread=spread, rng=rng)
    item_vectors, user_vectors = vectors[:items], vectors[items:]
    data = ServingData(
        item_ids=np.array([f"i{i:07d}" for i in range(items)], dtype=object),
        item_embeddings=item_vectors,
        item_weights=np.ones((items, 1), np.float32),
        modalities=["id"],
        user_ids=np.array([f"u{u:07d}" for u in range(users)], dtype=object),
        user_histories=np.full((users, 1), "", dtype=object),
        known_items=rng.integers(0, items, size=(users, known)).astype(np.int32),
    )
    return data, user_vectors


def synthetic_module(data: ServingData, user_vectors: np.ndarray, k: int, index=None) -> RetrievalModule:
    """A :class:`RetrievalModule` over ``data`` with a :class:`TableUserTower`."""
    tower = TableUserTower(data.user_ids.astype(str), user_vectors)
    return RetrievalModule(tower, data, k, index=index)


def numpy_top_k(user_vectors: np.ndarray, item_vectors: np.ndarray, known: np.ndarray, k: int,
                offsets: np.ndarray | None = None) -> np.ndarray:
    """The NumPy baseline: matmul (plus item score ``offsets``), known items to -inf, argpartition,
    sort the k; returns rows [B, k]."""
    scores = user_vectors @ item_vectors.T
    if offsets is not None:
        scores += offsets[None]
    np.put_along_axis(scores, known, -np.inf, axis=1)
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)
