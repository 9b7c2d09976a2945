"""The ``explain`` signatures: each modality's share of a user's score for an item.

The catalogue's per-modality parts (:func:`braidrec.models.score_parts.modality_parts`)
are stored at export (float32, or float16 with ``export.explain_precision``); a score
``query . embedding + offset`` then splits into ``query . part_m`` per modality and a
base (``query . bias part``, plus the cold-item bias and the score offset of items
without a trained id). Only core TensorFlow ops, as every signature.
"""

from __future__ import annotations

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.features import contract
from braidrec.models.score_parts import ItemParts

# recommend_profile's inputs, which explain_profile takes too.
PROFILE_INPUTS = [
    tf.TensorSpec([None, None], tf.string, name="history"),
    tf.TensorSpec([None, None], tf.string, name=contract.USER_CATEGORICAL),
    tf.TensorSpec([None, None], tf.float32, name=contract.USER_NUMERIC),
    tf.TensorSpec([None, None], tf.float32, name=contract.USER_NUMERIC_MASK),
]


def explain_rows(users: tf.Tensor, cold_queries: tf.Tensor, cold_bias: tf.Tensor, rows: tf.Tensor, index,
                 parts: tf.Variable, modalities: list[str]) -> dict:
    """Per-modality contributions to B users' scores for their k catalogue rows.

    Args:
        users: float [B, dim], the user tower's vectors (query of items with a trained id).
        cold_queries: float [B, dim], and ``cold_bias`` [B]: query and bias of items without one.
        rows: int [B, k] catalogue rows; -1 for an id not in the catalogue (or padding).
        index: the export's index (``has_id_of``, ``embeddings_of``, ``offsets_of``).
        parts: float32 or float16 [items, M, dim], each modality's part of each item's embedding.
        modalities: the M names.

    Returns:
        ``contributions`` [B, k, M], ``base`` [B, k], ``scores`` [B, k] (the recommending signatures'
        score: the contributions plus the base), ``driver`` [B, k] (the modality with the largest
        contribution among those the item has; '' for an item nothing places) and ``found`` [B, k];
        zeros and '' where not found.
    """
    found = rows >= 0
    safe = tf.maximum(rows, 0)
    has_id = index.has_id_of(safe)
    queries = tf.where(has_id[..., None], users[:, None, :], cold_queries[:, None, :])
    item_parts = tf.cast(tf.gather(parts, safe), tf.float32)
    contributions = tf.reduce_sum(queries[:, :, None, :] * item_parts, axis=-1)
    scores = tf.reduce_sum(queries * index.embeddings_of(safe), axis=-1)
    scores += tf.where(has_id, 0.0, cold_bias[:, None]) + index.offsets_of(safe)
    found_weight = tf.cast(found, tf.float32)
    contributions *= found_weight[..., None]
    scores *= found_weight
    # What the modalities leave: the fusion's shared bias, the cold-item bias and the offset, and with
    # float16 parts their rounding, so that the contributions and the base add up to the served score.
    base = scores - tf.reduce_sum(contributions, axis=-1)
    # A modality the item lacks has an all-zero part; its zero must not outrank a present one's negative share.
    present = tf.reduce_any(tf.not_equal(item_parts, 0.0), axis=-1)
    ranked = tf.where(present, contributions, tf.fill(tf.shape(contributions), float("-inf")))
    driver = tf.gather(tf.constant(modalities), tf.argmax(ranked, axis=-1, output_type=tf.int32))
    return {
        "contributions": contributions,
        "base": base,
        "scores": scores,
        "driver": tf.where(found & tf.reduce_any(present, axis=-1), driver, tf.constant(contract.PAD)),
        "found": found,
    }


class ExplainSignatures:
    """The ``explain``, ``explain_history`` and ``explain_profile`` signatures of
    :class:`~braidrec.serving.module.RetrievalModule`: one per way of naming users.

    A mixin: it reads the module's ``_users``, ``_history_users``, ``_profile_users``,
    ``_cold_queries``, ``profiles``, ``item_table``, ``index`` and ``modalities``, and
    :meth:`init_explain` adds the parts.
    """

    def init_explain(self, parts: ItemParts) -> None:
        """Stores the catalogue's per-modality parts and defines both signatures."""
        # The bias part is not stored: the base is what the modalities leave of the index's score.
        self.item_parts = tf.Variable(parts.parts, trainable=False, name="item_parts")
        items = tf.TensorSpec([None, None], tf.string, name="item_ids")
        self.explain = tf.function(self._explain, input_signature=[tf.TensorSpec([None], tf.string, name=contract.USER_ID), items])
        self.explain_history = tf.function(self._explain_history,
                                           input_signature=[tf.TensorSpec([None, None], tf.string, name="history"), items])
        if self.profiles:
            self.explain_profile = tf.function(self._explain_profile, input_signature=[*PROFILE_INPUTS, items])

    def _explain_users(self, users: tf.Tensor, known: tf.Tensor, item_ids: tf.Tensor) -> dict:
        cold_queries, cold_bias = self._cold_queries(users, known)
        return explain_rows(users, cold_queries, cold_bias, self.item_table.lookup(item_ids), self.index,
                            self.item_parts, self.modalities)

    def _explain(self, user_id, item_ids):
        """Users [B] and items [B, k] (e.g. their recommendations; '' padding) -> each modality's
        ``contributions`` [B, k, M] to the score (in ``modality_names`` order), ``base``, ``scores``,
        ``driver`` and ``found`` (:func:`explain_rows`)."""
        return self._explain_users(*self._users(user_id), item_ids)

    def _explain_history(self, history, item_ids):
        """As ``explain``, for users unseen in training given by their histories [B, L] (``recommend_history``'s users)."""
        return self._explain_users(*self._history_users(history), item_ids)

    def _explain_profile(self, history, user_categorical, user_numeric, user_numeric_mask, item_ids):
        """As ``explain``, for ``recommend_profile``'s users: histories and the users table's profiles."""
        return self._explain_users(*self._profile_users(history, user_categorical, user_numeric, user_numeric_mask), item_ids)
