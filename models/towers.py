"""The item tower (multimodal, fused) and the user tower (order-aware history attention)."""

from __future__ import annotations

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tf_keras as keras

from braidrec.config import ExtractConfig, ModelConfig
from braidrec.features import contract
from braidrec.models import encoders
from braidrec.models.fusion import ModalityFusion
from braidrec.models.pooling import MaskedAttentionPooling


class ItemTower(keras.layers.Layer):
    """Item features -> L2-normalised embedding, and per-modality fusion weights.

    Modalities (in this order, see :attr:`modalities`): ``id``, ``text``, ``image``,
    then ``categorical`` and ``numeric`` when the dataset has such columns. A
    missing modality is masked out of the fusion; during training the id is also
    masked at random (``model.id_dropout``) so that the content modalities alone
    carry the signal that cold items (whose id is unknown) need.
    """

    def __init__(self, vocab: contract.Vocabularies, config: ModelConfig, extract: ExtractConfig, **kwargs):
        super().__init__(**kwargs)
        dim = config.embedding_dim
        self.id_dropout = config.id_dropout
        self.id_encoder = encoders.IdEncoder(vocab.items, dim, name="id")
        self.text_encoder = encoders.TextEncoder(vocab.text, config.text_embedding_dim, dim, name="text")
        self.image_encoder = encoders.ImageEncoder(config.image_encoder, dim, extract.image_size, name="image")
        self.modalities = ["id", "text", "image"]
        self.categorical_encoder = None
        self.numeric_encoder = None
        if vocab.categorical:
            self.categorical_encoder = encoders.CategoricalEncoder(vocab.categorical, dim, name="categorical")
            self.modalities.append("categorical")
        if vocab.numeric_names:
            self.numeric_encoder = encoders.NumericEncoder(vocab.numeric_mean, vocab.numeric_std, dim, name="numeric")
            self.modalities.append("numeric")
        self.fusion = ModalityFusion(config.fusion, name="fusion")
        self.output_projection = keras.layers.Dense(dim, name="output")

    def encode(self, features: dict, training: bool = False):
        """Returns (normalised embedding [batch, dim], fusion weights [batch, M], id embedding [batch, dim])."""
        id_emb, id_present = self.id_encoder(features[contract.ITEM_ID])
        text_emb, text_present = self.text_encoder(features[contract.TEXT])
        text_present &= features[contract.HAS_TEXT] > 0
        image_emb, image_present = self.image_encoder(features)
        embeddings, masks = [id_emb, text_emb, image_emb], [id_present, text_present, image_present]
        if self.categorical_encoder is not None:
            emb, present = self.categorical_encoder(features[contract.CATEGORICAL])
            embeddings.append(emb)
            masks.append(present)
        if self.numeric_encoder is not None:
            emb, present = self.numeric_encoder(features[contract.NUMERIC], features[contract.NUMERIC_MASK])
            embeddings.append(emb)
            masks.append(present)
        mask = tf.stack(masks, axis=1)
        if training and self.id_dropout > 0:
            has_content = tf.reduce_any(mask[:, 1:], axis=1)
            drop = tf.random.uniform(tf.shape(id_present)) < self.id_dropout
            mask = tf.concat([(mask[:, :1] & ~(drop & has_content)[:, None]), mask[:, 1:]], axis=1)
        fused, weights = self.fusion(tf.stack(embeddings, axis=1), mask)
        return tf.math.l2_normalize(self.output_projection(fused), axis=-1), weights, id_emb

    def call(self, features, training=False):
        return self.encode(features, training=training)[0]


class UserTower(keras.layers.Layer):
    """User id and recent history -> L2-normalised embedding.

    History items (most recent last, padded on the left with ``''``) are embedded
    with the item tower's id embedding plus a learned embedding of their
    position from the end, pass one masked self-attention block, and are pooled
    by attention. Items unknown to the id vocabulary are masked. A user unseen
    in training (out-of-vocabulary id) is served from the history alone.
    """

    def __init__(self, vocab: contract.Vocabularies, config: ModelConfig, max_history: int, item_ids: encoders.IdEncoder, **kwargs):
        super().__init__(**kwargs)
        dim = config.embedding_dim
        self.max_history = max_history
        # Dropping the user id in training teaches the tower to serve from the history alone.
        self.id_dropout = config.id_dropout
        self.item_ids = item_ids
        self.user_ids = encoders.IdEncoder(vocab.users, dim, name="user_id")
        self.positions = keras.layers.Embedding(max_history, dim, name="positions")
        self.attention = keras.layers.MultiHeadAttention(config.history_heads, dim // config.history_heads, dropout=config.dropout, name="self_attention")
        self.norm = keras.layers.LayerNormalization(name="norm")
        self.pool = MaskedAttentionPooling(dim, name="pool")
        self.output_projection = keras.layers.Dense(dim, name="output")

    def call(self, inputs, training=False):
        history = inputs["history"][:, -self.max_history:]
        item_emb, known = self.item_ids(history)
        length = tf.shape(history)[1]
        from_end = tf.range(length - 1, -1, -1)
        sequence = item_emb + self.positions(from_end)[None]
        pair_mask = known[:, None, :] & known[:, :, None]
        attended = self.attention(sequence, sequence, attention_mask=pair_mask, training=training)
        sequence = self.norm(sequence + attended * tf.cast(known, tf.float32)[..., None])
        pooled = self.pool(sequence, known)
        user_emb, user_known = self.user_ids(inputs[contract.USER_ID])
        if training and self.id_dropout > 0:
            user_known &= tf.random.uniform(tf.shape(user_known)) >= self.id_dropout
        # An unknown user's id row was never trained: leave it out rather than add noise.
        user_emb *= tf.cast(user_known, user_emb.dtype)[:, None]
        return tf.math.l2_normalize(self.output_projection(tf.concat([pooled, user_emb], axis=-1)), axis=-1)
