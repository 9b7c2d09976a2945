"""Modality encoders. Each maps its raw feature(s) to (embedding [batch, dim], present [batch]).

Preprocessing (lookups, tokenisation, normalisation) lives inside the layers,
built from the vocabularies of the extraction job, so the SavedModel takes the
same raw features the Beam job wrote and there is no train/serve skew.
"""

from __future__ import annotations

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tf_keras as keras

from braidrec.features import contract, text_normalization
from braidrec.models.pooling import MaskedAttentionPooling

TEXT_MAX_TOKENS = 64


class IdEncoder(keras.layers.Layer):
    """Id -> embedding; ids outside the vocabulary (cold items, new users) are reported absent."""

    def __init__(self, vocabulary: list[str], dim: int, **kwargs):
        super().__init__(**kwargs)
        self.lookup = keras.layers.StringLookup(vocabulary=vocabulary or ["<none>"], mask_token=None, num_oov_indices=1)
        self.embedding = keras.layers.Embedding(self.lookup.vocabulary_size(), dim, name="embedding")

    def call(self, ids):
        index = self.lookup(ids)
        return self.embedding(index), index > 0


class TextEncoder(keras.layers.Layer):
    """Text -> tokens (in-graph normalisation) -> embeddings -> attention pooling -> projection."""

    def __init__(self, vocabulary: list[str], token_dim: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.vectorize = keras.layers.TextVectorization(
            standardize=None, split="whitespace", vocabulary=vocabulary or ["<none>"],
            output_sequence_length=TEXT_MAX_TOKENS,
        )
        self.embedding = keras.layers.Embedding(self.vectorize.vocabulary_size(), token_dim, name="tokens")
        self.pool = MaskedAttentionPooling(token_dim, name="pool")
        self.project = keras.layers.Dense(dim, name="project")

    def tokenize(self, text):
        """Raw text [batch] -> token ids [batch, TEXT_MAX_TOKENS] (0 padding, 1 unknown)."""
        return self.vectorize(text_normalization.tf_normalize_text(text))

    def call(self, tokens):
        # 0 is padding and 1 the out-of-vocabulary token: neither says anything about the item.
        valid = tokens > 1
        pooled = self.pool(self.embedding(tokens), valid)
        return self.project(pooled), tf.reduce_any(valid, axis=-1)


class ImageEncoder(keras.layers.Layer):
    """Image features -> embedding: an MLP over the descriptor, or a small CNN over the thumbnail.

    The descriptor's parts live on different scales (histogram shares, mean
    colours), so it is standardised per item before the MLP.
    """

    def __init__(self, kind: str, dim: int, thumbnail_size: int, **kwargs):
        super().__init__(**kwargs)
        if kind not in ("descriptor", "cnn"):
            raise ValueError(f"model.image_encoder '{kind}' is not 'descriptor' or 'cnn'")
        self.kind = kind
        self.thumbnail_size = thumbnail_size
        if kind == "descriptor":
            self.net = keras.Sequential(
                [keras.layers.LayerNormalization(), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(dim)],
                name="descriptor_mlp",
            )
        else:
            self.net = keras.Sequential(
                [
                    keras.layers.Conv2D(16, 3, strides=2, activation="relu", padding="same"),
                    keras.layers.Conv2D(32, 3, strides=2, activation="relu", padding="same"),
                    keras.layers.Conv2D(64, 3, strides=2, activation="relu", padding="same"),
                    keras.layers.GlobalAveragePooling2D(),
                    keras.layers.Dense(dim),
                ],
                name="cnn",
            )

    def call(self, features):
        present = features[contract.HAS_IMAGE] > 0
        if self.kind == "descriptor":
            return self.net(features[contract.IMAGE]), present
        size = self.thumbnail_size
        pixels = tf.io.decode_raw(features[contract.THUMBNAIL], tf.uint8)
        pixels = tf.reshape(pixels, [-1, size, size, 3])
        return self.net(tf.cast(pixels, tf.float32) / 255.0), present


class VectorEncoder(keras.layers.Layer):
    """A precomputed feature vector (e.g. a pretrained sentence embedding) -> embedding."""

    def __init__(self, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.net = keras.Sequential([keras.layers.Dense(2 * dim, activation="relu"), keras.layers.Dense(dim)], name="mlp")

    def call(self, vectors):
        return self.net(vectors)


class CategoricalEncoder(keras.layers.Layer):
    """Bag of ``column=value`` tokens -> mean embedding -> projection."""

    def __init__(self, vocabulary: list[str], dim: int, **kwargs):
        super().__init__(**kwargs)
        self.lookup = keras.layers.StringLookup(vocabulary=vocabulary or ["<none>"], mask_token=contract.PAD)
        self.embedding = keras.layers.Embedding(self.lookup.vocabulary_size(), dim, name="embedding")
        self.project = keras.layers.Dense(dim, name="project")

    def call(self, tokens):
        index = self.lookup(tokens)
        valid = index > 1
        weights = tf.cast(valid, tf.float32)
        summed = tf.einsum("bt,btd->bd", weights, self.embedding(index))
        mean = summed / tf.maximum(tf.reduce_sum(weights, axis=-1, keepdims=True), 1.0)
        return self.project(mean), tf.reduce_any(valid, axis=-1)


class NumericEncoder(keras.layers.Layer):
    """Numeric columns, standardised with the extraction job's statistics, plus their presence."""

    def __init__(self, mean: list[float], std: list[float], dim: int, **kwargs):
        super().__init__(**kwargs)
        self.mean = tf.constant(np.asarray(mean, np.float32))
        self.std = tf.constant(np.asarray(std, np.float32))
        self.net = keras.Sequential([keras.layers.Dense(dim, activation="relu"), keras.layers.Dense(dim)], name="mlp")

    def call(self, values, mask):
        scaled = (values - self.mean) / self.std * mask
        return self.net(tf.concat([scaled, mask], axis=-1)), tf.reduce_any(mask > 0, axis=-1)
