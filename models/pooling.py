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

    def build(self, input_shape):
        self.hidden = keras.layers.Dense(self.hidden_dim, activation="tanh", name="hidden")
        self.score = keras.layers.Dense(1, use_bias=False, name="score")
        super().build(input_shape)

    def call(self, sequence, mask):
        mask = tf.cast(mask, tf.bool)
        logits = tf.squeeze(self.score(self.hidden(sequence)), -1)
        logits = tf.where(mask, logits, tf.fill(tf.shape(logits), tf.constant(-1e9, logits.dtype)))
        weights = tf.nn.softmax(logits, axis=-1) * tf.cast(mask, sequence.dtype)
        return tf.einsum("bl,bld->bd", weights, sequence)

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim}
