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
IMAGE_NORMALIZATIONS = ("item", "catalogue")


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
    """Text -> tokens (in-graph normalisation) -> embeddings -> attention pooling -> projection.

    Args:
        vocabulary: the extraction job's text tokens.
        token_dim: token embedding size.
        dim: output size.
        token_dropout: in training, each token is left out of the pooling with this
            probability (``model.text_token_dropout``), so the encoder cannot tie an
            item to its exact wording.

    Call args:
        tokens: int [batch, TEXT_MAX_TOKENS] from :meth:`tokenize`.
        training: augment only then.
        rows: bool [batch], the rows to augment (default: all).

    Raises:
        ValueError: ``token_dropout`` is not in [0, 1).
    """

    def __init__(self, vocabulary: list[str], token_dim: int, dim: int, token_dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= token_dropout < 1.0:
            raise ValueError(f"model.text_token_dropout is {token_dropout}; it must be in [0, 1)")
        self.token_dropout = token_dropout
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

    def call(self, tokens, training=False, rows=None):
        # 0 is padding and 1 the out-of-vocabulary token: neither says anything about the item.
        valid = tokens > 1
        if training and self.token_dropout > 0:
            kept = tf.random.uniform(tf.shape(tokens)) >= self.token_dropout
            if rows is not None:
                kept |= ~rows[:, None]
            valid &= kept
        distinct, index = tf.unique(tf.reshape(tokens, [-1]))
        pooled = self.pool(self.embedding(distinct), valid, index=tf.reshape(index, tf.shape(tokens)))
        return self.project(pooled), tf.reduce_any(valid, axis=-1)


class ImageEncoder(keras.layers.Layer):
    """Image features -> embedding: an MLP over the descriptor, or a small CNN over the thumbnail.

    The descriptor's parts live on different scales (histogram shares, mean
    colours), so it is standardised before the MLP: per item (``item``: over the
    item's own values) or per feature (``catalogue``: with the means and spreads
    of the training items' descriptors, which :meth:`set_statistics` stores as
    weights before training, so they are saved with the model).

    Args:
        kind: ``descriptor`` (the image vector from extraction) or ``cnn`` (the thumbnail).
        dim: output size.
        thumbnail_size: the thumbnail's side in pixels (``cnn``).
        noise: in training, Gaussian noise of this many times each image's own standard
            deviation on its input (``model.image_noise``): the descriptor, or the pixels.
            With ``catalogue`` standardisation, of this size on the standardised descriptor.
        normalization: ``item`` or ``catalogue`` (``model.image_normalization``; descriptor only).
        input_dim: the descriptor's length (``catalogue``).
        clip: with ``catalogue``, standardised values are clipped to [-clip, clip] (``model.image_clip``;
            0: not clipped), so a colour rare in the catalogue does not dominate a picture's input.

    Call args:
        features: ``image`` (descriptor) or ``thumbnail`` (cnn), and ``has_image``.
        training: augment only then.
        rows: bool [batch], the rows to augment (default: all).

    Raises:
        ValueError: an unknown ``kind`` or ``normalization``, a negative ``noise`` or ``clip``,
            ``catalogue`` with ``cnn``, or a ``clip`` without descriptor ``catalogue`` standardisation.
    """

    def __init__(self, kind: str, dim: int, thumbnail_size: int, noise: float = 0.0,
                 normalization: str = "item", input_dim: int = contract.IMAGE_DESCRIPTOR_DIM, clip: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        if kind not in ("descriptor", "cnn"):
            raise ValueError(f"model.image_encoder '{kind}' is not 'descriptor' or 'cnn'")
        if noise < 0:
            raise ValueError(f"model.image_noise is {noise}; it must be >= 0 (0: no noise)")
        if normalization not in IMAGE_NORMALIZATIONS:
            raise ValueError(f"model.image_normalization '{normalization}' is not one of {IMAGE_NORMALIZATIONS}")
        if clip < 0:
            raise ValueError(f"model.image_clip is {clip}; it must be >= 0 (0: not clipped)")
        # Both settings act on the descriptor's catalogue standardisation only: elsewhere they would do
        # nothing, and a run would look configured when it is not.
        if normalization == "catalogue" and kind != "descriptor":
            raise ValueError(f"model.image_normalization catalogue standardises the image descriptor, but "
                             f"model.image_encoder is '{kind}': use --model.image_encoder descriptor, or "
                             f"--model.image_normalization item")
        # Past that check, catalogue standardisation is of the descriptor.
        self.per_feature = normalization == "catalogue"
        if clip > 0 and not self.per_feature:
            raise ValueError(f"model.image_clip {clip} clips the catalogue-standardised descriptor, but "
                             f"model.image_normalization is '{normalization}': add --model.image_normalization "
                             f"catalogue, or set --model.image_clip 0")
        self.clip = clip
        self.kind = kind
        self.thumbnail_size = thumbnail_size
        self.noise = noise
        if self.per_feature:
            self.feature_mean = self.add_weight("feature_mean", [input_dim], initializer="zeros", trainable=False)
            self.feature_std = self.add_weight("feature_std", [input_dim], initializer="ones", trainable=False)
        if kind == "descriptor":
            layers = [] if self.per_feature else [keras.layers.LayerNormalization()]
            self.net = keras.Sequential(
                layers + [keras.layers.Dense(128, activation="relu"), keras.layers.Dense(dim)], name="descriptor_mlp")
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

    def call(self, features, training=False, rows=None):
        present = features[contract.HAS_IMAGE] > 0
        if self.per_feature:
            inputs = (features[contract.IMAGE] - self.feature_mean) / self.feature_std
            if self.clip > 0:
                inputs = tf.clip_by_value(inputs, -self.clip, self.clip)
        elif self.kind == "descriptor":
            inputs = features[contract.IMAGE]
        else:
            size = self.thumbnail_size
            pixels = tf.reshape(tf.io.decode_raw(features[contract.THUMBNAIL], tf.uint8), [-1, size, size, 3])
            inputs = tf.cast(pixels, tf.float32) / 255.0
        if training and self.noise > 0:
            inputs = self._add_noise(inputs, rows)
        return self.net(inputs), present

    def set_statistics(self, images: np.ndarray) -> None:
        """Stores the descriptor's per-feature mean and spread (``catalogue`` standardisation only).

        With no image among them (a catalogue without pictures), the mean stays 0 and the
        spread 1: such a catalogue's image modality is masked for every training item anyway.

        Args:
            images: float [items, input_dim], the training items' descriptors (items with an image).
        """
        if not self.per_feature or len(images) == 0:
            return
        # A feature constant over the catalogue (an empty histogram bin) keeps spread 1: it stays 0.
        std = images.std(axis=0)
        self.feature_mean.assign(images.mean(axis=0).astype(np.float32))
        self.feature_std.assign(np.where(std > 1e-6, std, 1.0).astype(np.float32))

    def _add_noise(self, inputs, rows):
        # Scaled by each image's own spread: after the descriptor's per-item standardisation the
        # noise has size ``noise``, so the MLP cannot key on one item's exact values (memorise it)
        # instead of what its picture shows.
        axes = list(range(1, inputs.shape.rank))
        spread = 1.0 if self.per_feature else tf.math.reduce_std(inputs, axis=axes, keepdims=True)
        noise = self.noise * spread * tf.random.normal(tf.shape(inputs))
        if rows is not None:
            noise *= tf.reshape(tf.cast(rows, noise.dtype), [-1] + [1] * len(axes))
        return inputs + noise


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
        # A broadcast product, not einsum("bt,btd->bd"): the einsum's gradient is a batched matmul of
        # inner size 1, the costliest op of an ml-100k training step on CPU (5 of 111 ms, 2026-12-02).
        summed = tf.reduce_sum(weights[..., None] * self.embedding(index), axis=1)
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
