"""The servable: a ``tf.Module`` whose signatures TF Serving calls.

Item embeddings of the whole catalogue (cold items included) are precomputed
and stored as variables; the user tower runs in the graph on the user's
stored history, so the export holds the same preprocessing as training.
Only core TensorFlow ops are used, so stock TF Serving can load it.
"""

from __future__ import annotations

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.features import contract

NEG_INF = -1e30


class RetrievalModule(tf.Module):
    """Top-k retrieval over a fixed catalogue.

    Args:
        user_tower: the trained user tower (called on ``{"user_id", "history"}``).
        item_ids: [items] catalogue ids, row order of ``item_embeddings``.
        item_embeddings: float32 [items, dim].
        user_ids: [users] known users.
        user_histories: [users, L] each known user's most recent items, left-padded with ''.
        known_items: int32 [users, K] catalogue rows the user already has, padded with -1.
        k: how many items ``serving_default`` returns (capped at the catalogue size).
    """

    def __init__(self, user_tower, item_ids, item_embeddings, user_ids, user_histories, known_items, k: int):
        super().__init__(name="braidrec")
        self.user_tower = user_tower
        self.k = min(int(k), len(item_ids))
        self.item_ids = tf.Variable(np.asarray(item_ids, dtype=object).astype(str), trainable=False, name="item_ids")
        self.item_embeddings = tf.Variable(np.asarray(item_embeddings, np.float32), trainable=False, name="item_embeddings")
        self.user_ids = tf.Variable(np.asarray(user_ids, dtype=object).astype(str), trainable=False, name="user_ids")
        self.user_histories = tf.Variable(np.asarray(user_histories, dtype=object).astype(str), trainable=False, name="user_histories")
        self.known_items = tf.Variable(np.asarray(known_items, np.int32), trainable=False, name="known_items")
        self.user_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(np.asarray(user_ids, dtype=object).astype(str)), tf.range(len(user_ids), dtype=tf.int32)
            ),
            default_value=-1,
        )
        self.item_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(np.asarray(item_ids, dtype=object).astype(str)), tf.range(len(item_ids), dtype=tf.int32)
            ),
            default_value=-1,
        )

    def _masked_scores(self, user_id: tf.Tensor) -> tf.Tensor:
        """Scores [batch, items] with each known user's own items at -inf.

        An unknown user has no stored history and an out-of-vocabulary id: the
        user tower then returns its learned default vector (popular, broadly
        liked items), so the call still answers.
        """
        rows = self.user_table.lookup(user_id)
        known_user = rows >= 0
        safe = tf.maximum(rows, 0)
        history = tf.where(known_user[:, None], tf.gather(self.user_histories, safe), tf.constant(contract.PAD))
        users = self.user_tower({contract.USER_ID: user_id, "history": history}, training=False)
        scores = tf.matmul(users, self.item_embeddings, transpose_b=True)
        known = tf.where(known_user[:, None], tf.gather(self.known_items, safe), -1)
        batch_index = tf.broadcast_to(tf.range(tf.shape(known)[0])[:, None], tf.shape(known))
        valid = known >= 0
        indices = tf.stack([tf.boolean_mask(batch_index, valid), tf.boolean_mask(known, valid)], axis=1)
        updates = tf.fill([tf.shape(indices)[0]], tf.constant(NEG_INF, scores.dtype))
        return tf.tensor_scatter_nd_update(scores, indices, updates)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="user_id")])
    def serve(self, user_id):
        """``serving_default``: user ids -> their top-k item ids and scores."""
        top = tf.math.top_k(self._masked_scores(user_id), k=self.k)
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="user_id"),
            tf.TensorSpec([None], tf.string, name="candidates"),
            tf.TensorSpec([], tf.int32, name="k"),
        ]
    )
    def recommend_candidates(self, user_id, candidates, k):
        """Top-k among ``candidates`` (ids not in the catalogue are ignored), known items excluded."""
        rows = self.item_table.lookup(candidates)
        rows = tf.boolean_mask(rows, rows >= 0)
        rows, _ = tf.unique(rows)
        scores = tf.gather(self._masked_scores(user_id), rows, axis=1)
        top = tf.math.top_k(scores, k=tf.minimum(k, tf.shape(rows)[0]))
        return {"item_ids": tf.gather(self.item_ids, tf.gather(rows, top.indices)), "scores": top.values}

    @tf.function(input_signature=[])
    def all_user_ids(self):
        """Every user known at export time (for batch recommendation)."""
        return self.user_ids.read_value()
