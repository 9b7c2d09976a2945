"""Modality fusion: one item's per-modality embeddings -> one embedding plus weights.

A standalone, serialisable Keras layer (as TFRS's ``dcn.Cross``), so it can be
reused, tested and saved on its own.
"""

from __future__ import annotations

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tf_keras as keras

FUSION_MODES = ("sum", "concat", "attention")


@keras.utils.register_keras_serializable(package="braidrec")
class ModalityFusion(keras.layers.Layer):
    """Fuses M modality embeddings, ignoring masked (missing) modalities.

    Modes:
      - ``sum``: mean of the present modalities;
      - ``concat``: concatenation (missing ones zeroed) then a projection;
      - ``attention``: a learned per-item softmax over the present modalities
        (each modality gets its own key, so the layer knows which is which);
        the weights say which modality drove the item's embedding.

    Call args:
        embeddings: float [batch, M, dim].
        mask: bool [batch, M]; True where the modality is present.
        temperature: optional float [batch]; ``attention`` divides each row's logits by it
            (1: the learned weights; larger: closer to an even mix of the present modalities).

    Returns:
        (fused [batch, dim], weights [batch, M]); weights of present modalities
        sum to one (all zeros for a row with no modality at all).
    """

    def __init__(self, mode: str = "attention", hidden_dim: int = 64, **kwargs):
        super().__init__(**kwargs)
        if mode not in FUSION_MODES:
            raise ValueError(f"fusion mode '{mode}' is not one of {FUSION_MODES}; set model.fusion to one of them")
        self.mode = mode
        self.hidden_dim = hidden_dim

    def build(self, input_shape):
        emb_shape = input_shape[0] if isinstance(input_shape, (list, tuple)) else input_shape
        num_modalities, dim = int(emb_shape[-2]), int(emb_shape[-1])
        if self.mode == "attention":
            self.modality_keys = self.add_weight(
                name="modality_keys", shape=(num_modalities, dim), initializer="zeros", trainable=True
            )
            self.score_hidden = keras.layers.Dense(self.hidden_dim, activation="tanh", name="score_hidden")
            self.score_out = keras.layers.Dense(1, use_bias=False, name="score_out")
        elif self.mode == "concat":
            self.projection = keras.layers.Dense(dim, name="projection")
        super().build(input_shape)

    def _present_weights(self, logits: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        logits = tf.where(mask, logits, tf.fill(tf.shape(logits), tf.constant(-1e9, logits.dtype)))
        weights = tf.nn.softmax(logits, axis=-1)
        # A row with nothing present would otherwise get uniform weights over absent inputs.
        return weights * tf.cast(mask, weights.dtype)

    def call(self, embeddings, mask, temperature=None):
        mask = tf.cast(mask, tf.bool)
        present = tf.cast(mask, embeddings.dtype)
        if self.mode == "attention":
            keyed = embeddings + self.modality_keys
            logits = tf.squeeze(self.score_out(self.score_hidden(keyed)), -1)
            if temperature is not None:
                logits /= tf.cast(temperature, logits.dtype)[:, None]
            weights = self._present_weights(logits, mask)
            return self._weighted_sum(weights, embeddings), weights
        weights = present / tf.maximum(tf.reduce_sum(present, axis=-1, keepdims=True), 1.0)
        if self.mode == "sum":
            return self._weighted_sum(weights, embeddings), weights
        masked = embeddings * present[..., None]
        flat = tf.reshape(masked, [-1, embeddings.shape[-2] * embeddings.shape[-1]])
        return self.projection(flat), weights

    @staticmethod
    def _weighted_sum(weights: tf.Tensor, embeddings: tf.Tensor) -> tf.Tensor:
        # A broadcast product, not einsum("bm,bmd->bd"), whose gradient is a batched matmul of inner size 1.
        return tf.reduce_sum(weights[..., None] * embeddings, axis=1)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "hidden_dim": self.hidden_dim}


def balance_penalty(weights: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Summed over rows: KL(uniform over the present modalities || the row's weights).

    Attention fusion trained on warm items can put all its weight on one modality
    (text that memorises them) and ignore another (the image). Added to the loss
    with a small weight, this term keeps every present modality in use while
    letting the weights differ per item. Whether that places cold items better
    depends on the data (``train.fusion_balance_weight`` quotes the bench).

    Args:
        weights: float [batch, M], fusion weights (zero where absent).
        mask: bool [batch, M], True where the modality is present.

    Returns:
        Scalar: the sum over rows; rows with fewer than two present modalities add zero.
    """
    present = tf.cast(mask, weights.dtype)
    count = tf.reduce_sum(present, axis=-1)
    # Renormalised over the given columns, so the caller can leave a modality (the id) out.
    share = weights / tf.maximum(tf.reduce_sum(weights * present, axis=-1, keepdims=True), 1e-12)
    log_share = tf.math.log(tf.maximum(share, 1e-12))
    mean_log = tf.reduce_sum(log_share * present, axis=-1) / tf.maximum(count, 1.0)
    kl = -tf.math.log(tf.maximum(count, 1.0)) - mean_log
    return tf.reduce_sum(tf.where(count >= 2.0, kl, 0.0))
