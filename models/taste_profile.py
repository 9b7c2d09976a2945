"""The query that scores items without a trained id: the tower's vector blended with the user's taste.

The user tower reads the last ``max_history`` items in order and is trained to
predict the next one. An item without a trained id has no place in that
sequence: it is matched by content alone, and the question is whether the user
likes things like it at all. The user's **taste profile**, the L2-normalised mean
of the catalogue embeddings of every item in their history (all of it, not
the tower's window), answers that better. On ml-100k, where a cold item's
interactions are spread over each user's whole timeline, scoring cold items
against the profile instead of the tower's vector raised cold Recall@10 on
every seed (models/README.md, "Cold items: the taste profile"); items with a trained id
keep the tower's vector, so warm rankings are unchanged.

A profile is a centroid of the user's own items, so its dot products run higher
than the tower's: unscaled, cold items would crowd warm ones out of a mixed
ranking. :func:`cold_item_queries` therefore rescales it per user so that over
the items with a trained id its scores have the mean and spread of the tower's
(:class:`ScoreMoments`), which also keeps the content prior's offsets, fitted in
the tower's units, in proportion. It then blends the two with
``model.cold_profile_weight``. Evaluation, the serving index (brute force and
partitioned) and every recommending signature use it, so an offline figure and a
served answer rank cold items the same way.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf


def check_profile_weight(weight: float) -> None:
    """Raises ValueError unless ``0 <= weight <= 1`` (``model.cold_profile_weight``)."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"model.cold_profile_weight {weight} must be between 0 (the user tower's vector alone) "
                         "and 1 (the taste profile alone)")


def taste_profiles(history_rows: tf.Tensor, embeddings_of: Callable[[tf.Tensor], tf.Tensor]) -> tf.Tensor:
    """float32 [batch, dim]: the L2-normalised mean of each row's items' embeddings.

    Args:
        history_rows: int [batch, L] catalogue rows of each user's items, padded with -1
            (order does not matter; a repeated row counts each time).
        embeddings_of: catalogue rows int32 [n] -> their embeddings float32 [n, dim]
            (``functools.partial(tf.gather, embeddings)``, or an index's ``embeddings_of``).

    Returns:
        One unit vector per row; all zeros for a row without items.
    """
    history_rows = tf.convert_to_tensor(history_rows)
    valid = history_rows >= 0
    # Only the valid entries are gathered: a dense [batch, L, dim] gather is 350 MB for ml-100k's
    # 943 users at L = 737 and 128 dimensions.
    user_of = tf.cast(tf.where(valid)[:, 0], tf.int32)
    rows = tf.cast(tf.boolean_mask(history_rows, valid), tf.int32)
    sums = tf.math.unsorted_segment_sum(embeddings_of(rows), user_of, tf.shape(history_rows)[0])
    return tf.math.l2_normalize(sums, axis=-1)


class ScoreMoments(NamedTuple):
    """Mean [dim] and covariance [dim, dim] of the embeddings of the items with a trained id:
    a query ``q`` scores them with mean ``q @ mean`` and variance ``q @ covariance @ q``."""

    mean: np.ndarray
    covariance: np.ndarray


def score_moments(embeddings: np.ndarray, has_id: np.ndarray) -> ScoreMoments:
    """:class:`ScoreMoments` of the rows of ``embeddings`` [items, dim] where ``has_id`` (all rows if none has)."""
    embeddings = np.asarray(embeddings, np.float64)
    rows = embeddings[has_id] if np.any(has_id) else embeddings
    mean = rows.mean(axis=0)
    centred = rows - mean
    return ScoreMoments(mean.astype(np.float32), (centred.T @ centred / max(len(rows), 1)).astype(np.float32))


def cold_item_queries(users: tf.Tensor, profiles: tf.Tensor, weight: float, moments: ScoreMoments) -> tuple[tf.Tensor, tf.Tensor]:
    """(queries [batch, dim], bias [batch]): a user's score for an item without a trained id is
    ``queries @ item + bias`` (plus the item's score offset: the content prior and calibration shift).

    The profile ``p`` is rescaled to ``s * p`` with ``s = sd(user) / sd(p)`` and shifted by
    ``mean(user) - s * mean(p)``, the moments of each vector's scores over the items with an id
    (``moments``); then ``queries = (1 - weight) * user + weight * s * p`` and
    ``bias = weight * (mean(user) - s * mean(p))``. A user without a profile keeps the tower's
    vector and no bias.

    Args:
        users: the user tower's vectors [batch, dim].
        profiles: :func:`taste_profiles` of the same users.
        weight: ``model.cold_profile_weight`` in [0, 1].
        moments: :func:`score_moments` of the catalogue.

    Raises:
        ValueError: ``weight`` outside [0, 1].
    """
    check_profile_weight(weight)
    users, profiles = tf.convert_to_tensor(users, tf.float32), tf.convert_to_tensor(profiles, tf.float32)
    mean, covariance = tf.constant(moments.mean), tf.constant(moments.covariance)

    def spread(vectors):
        return tf.sqrt(tf.maximum(tf.reduce_sum(tf.matmul(vectors, covariance) * vectors, axis=-1), 1e-12))

    scale = spread(users) / spread(profiles)
    shift = tf.linalg.matvec(users, mean) - scale * tf.linalg.matvec(profiles, mean)
    has_profile = tf.reduce_any(profiles != 0, axis=-1)
    queries = (1.0 - weight) * users + weight * scale[:, None] * profiles
    return tf.where(has_profile[:, None], queries, users), tf.where(has_profile, weight * shift, tf.zeros_like(shift))
