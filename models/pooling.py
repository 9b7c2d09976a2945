"""Masked attention pooling: a sequence of vectors -> one vector, with a learned query."""

from __future__ import annotations

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tf_keras as keras


@keras.utils.register_keras_serializable(package="braidrec")
class MaskedAttentionPooling(keras.layers.Layer):
    """Softmax-weighted sum of a sequence's valid positions.

    Call args:
        sequence: float [batch, length, dim]; with ``index``, float [distinct, dim].
        mask: bool [batch, length].
        index: optional int [batch, length]: the sequences are then
            ``tf.gather(sequence, index)``, given as their distinct vectors.
            The result is the same; the scoring MLP, which sees one vector at a
            time, runs once per distinct vector instead of once per position
            (ml-100k's text: at most its 609 vocabulary tokens against about
            1,050 items x 64 positions per training batch).

    Returns:
        float [batch, dim]; zeros for a row with no valid position.
    """

    def __init__(self, hidden_dim: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        # Built here, not in build(), so that prefixes() works before call() has run.
        self.hidden = keras.layers.Dense(hidden_dim, activation="tanh", name="hidden")
        self.score = keras.layers.Dense(1, use_bias=False, name="score")

    def call(self, sequence, mask, index=None):
        mask = tf.cast(mask, tf.bool)
        if index is None:
            # A broadcast product, not einsum("bl,bld->bd"), whose gradient is a batched matmul
            # of inner size 1: the costliest op of an ml-100k training step on CPU.
            return tf.reduce_sum(self._weights(self._logits(sequence), mask)[..., None] * sequence, axis=1)
        # A row's softmax weights are exp(score) / its sum, and a shift of every score by one
        # constant cancels out: so the pooled row is C @ (e * sequence) / C @ e, with e the
        # distinct vectors' exp(score - max) and C the [batch, distinct] count of each
        # vector's valid positions in the row. C is a constant, so the backward pass needs no
        # gradient of a per-position weight (two [positions, dim] gathers, the costliest ops
        # of the step), and padding costs nothing. The clamp at -60 (exp(-60) is about 1e-26,
        # a normal float32) keeps every row with a valid position from dividing by zero; it
        # changes the weights only of a row whose every score is 60 below the batch's best.
        logits = self._logits(sequence)
        scale = tf.exp(tf.maximum(logits - tf.stop_gradient(tf.reduce_max(logits)), -60.0))[:, None]
        valid = tf.where(mask)
        columns = tf.cast(tf.gather_nd(index, valid), tf.int64)
        counts = tf.SparseTensor(
            tf.stack([valid[:, 0], columns], axis=1),
            tf.ones(tf.shape(valid)[:1], sequence.dtype),
            tf.cast(tf.stack([tf.shape(index)[0], tf.shape(sequence)[0]]), tf.int64),
        )
        sums = tf.sparse.sparse_dense_matmul(counts, tf.concat([scale * sequence, scale], axis=1))
        total = sums[:, -1:]
        # A row with no valid position has zero sums: it gives zeros, as the unindexed form does.
        return sums[:, :-1] / tf.where(total > 0, total, tf.ones_like(total))

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
