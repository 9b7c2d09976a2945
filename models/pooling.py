"""Masked attention pooling: a sequence of vectors -> one vector, with a learned query."""

from __future__ import annotations

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tf_keras as keras


@keras.utils.register_keras_serializable(package="braidrec")
class MaskedAttentionPooling(keras.layers.Layer):
    """Softmax-weighted sum of a sequence's valid positions.

    Call args:
        sequence: float [batch, length, dim].
        mask: bool [batch, length].

    Returns:
        float [batch, dim]; zeros for a row with no valid position.
    """

    def __init__(self, hidden_dim: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        # Built here, not in build(), so that prefixes() works before call() has run.
        self.hidden = keras.layers.Dense(hidden_dim, activation="tanh", name="hidden")
        self.score = keras.layers.Dense(1, use_bias=False, name="score")

    def call(self, sequence, mask):
        mask = tf.cast(mask, tf.bool)
        return tf.einsum("bl,bld->bd", self._weights(self._logits(sequence), mask), sequence)

    def prefixes(self, sequence, mask):
        """Pools every prefix: row ``k`` of the result pools the valid positions ``<= k``.

        Returns:
            float [batch, length, dim]; the last row equals :meth:`call`.
        """
        mask = tf.cast(mask, tf.bool)
        length = tf.shape(sequence)[1]
        earlier = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0)
        logits = tf.repeat(self._logits(sequence)[:, None, :], length, axis=1)
        weights = self._weights(logits, earlier[None] & mask[:, None, :])
        return tf.einsum("bkl,bld->bkd", weights, sequence)

    def _logits(self, sequence):
        return tf.squeeze(self.score(self.hidden(sequence)), -1)

    @staticmethod
    def _weights(logits, mask):
        logits = tf.where(mask, logits, tf.fill(tf.shape(logits), tf.constant(-1e9, logits.dtype)))
        return tf.nn.softmax(logits, axis=-1) * tf.cast(mask, logits.dtype)

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim}
