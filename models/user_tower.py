"""The user tower: order-aware attention over the history, SASRec style."""

from __future__ import annotations

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tf_keras as keras

from braidrec.config import ModelConfig
from braidrec.features import contract
from braidrec.models import encoders
from braidrec.models.pooling import MaskedAttentionPooling
from braidrec.models.towers import check_scoring

POOLINGS = ("attention", "last")
NORMS = ("post", "pre")


class HistoryBlock(keras.layers.Layer):
    """One Transformer block over the history: self-attention, then a point-wise MLP.

    With ``causal`` (``model.history_causal``), position ``i`` attends only to
    known items at positions ``<= i`` (the most recent item is last), as in
    SASRec; otherwise every known item sees every other (order then comes from
    the position embeddings alone). With ``prenorm`` (``model.history_norm=pre``)
    each sub-layer reads a LayerNorm of its input and adds its output to that
    normalised input (SASRec's block); otherwise the sum is normalised after each sub-layer.
    """

    def __init__(self, dim: int, heads: int, dropout: float, causal: bool = True, prenorm: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.causal = causal
        self.prenorm = prenorm
        self.attention = keras.layers.MultiHeadAttention(heads, max(1, dim // heads), dropout=dropout, name="attention")
        self.norm1 = keras.layers.LayerNormalization(name="norm1")
        self.mlp = keras.Sequential([keras.layers.Dense(dim, activation="relu"), keras.layers.Dropout(dropout), keras.layers.Dense(dim)], name="mlp")
        self.norm2 = keras.layers.LayerNormalization(name="norm2")
        self.dropout = keras.layers.Dropout(dropout)

    def call(self, sequence, known, training=False):
        length = tf.shape(sequence)[1]
        order = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0) if self.causal else tf.ones([length, length], tf.bool)
        # Each position may always see itself, so a row never attends to nothing.
        allowed = (order[None] & known[:, None, :]) | tf.eye(length, dtype=tf.bool)[None]
        if self.prenorm:
            # SASRec's block: normalised query, raw keys and values, residuals on the normalised inputs.
            query = self.norm1(sequence)
            sequence = query + self.attention(query, sequence, attention_mask=allowed, training=training)
            hidden = self.norm2(sequence)
            sequence = hidden + self.dropout(self.mlp(hidden, training=training), training=training)
        else:
            attended = self.attention(sequence, sequence, attention_mask=allowed, training=training)
            sequence = self.norm1(sequence + self.dropout(attended, training=training))
            sequence = self.norm2(sequence + self.dropout(self.mlp(sequence, training=training), training=training))
        return sequence * tf.cast(known, sequence.dtype)[..., None]


class UserTower(keras.layers.Layer):
    """User id and recent history -> L2-normalised embedding (``model.scoring=dot``: the history's state).

    History items (most recent last, padded on the left with ``''``; the tower
    pads or truncates to ``max_history`` itself) are embedded with the item
    tower's id embedding plus a learned embedding of their position in that
    window, pass ``model.history_blocks`` self-attention blocks, and are reduced
    by attention pooling or by taking the most recent position
    (``model.history_pooling``). Items unknown to the id vocabulary are masked.
    A user unseen in training (out-of-vocabulary id) is served from the history
    (and profile) alone: the user id is dropped at random during training so the tower learns to.
    With ``model.scoring=dot`` (SASRec's head) the history's item embeddings are
    scaled by sqrt(dim), and the pooled (or last) state is the user embedding:
    no user id, no projection, no normalisation.

    With ``model.user_features`` and a users table in the features, the user's
    profile (``contract.USER_CATEGORICAL`` tokens, ``USER_NUMERIC`` values and
    ``USER_NUMERIC_MASK``) is encoded too; inputs without these keys, or with
    nothing present, count as no profile.

    With causal blocks, :meth:`sequence_embeddings` gives the embedding after
    every position in one pass, as SASRec trains: one window of history yields
    a training query per item in it.
    """

    def __init__(self, vocab: contract.Vocabularies, config: ModelConfig, max_history: int, item_ids: encoders.IdEncoder, **kwargs):
        super().__init__(**kwargs)
        if config.history_pooling not in POOLINGS:
            raise ValueError(f"model.history_pooling '{config.history_pooling}' is not one of {POOLINGS}")
        if config.history_norm not in NORMS:
            raise ValueError(f"model.history_norm '{config.history_norm}' is not one of {NORMS}")
        check_scoring(config.scoring)
        if config.scoring == "dot" and config.user_features:
            raise ValueError("model.user_features needs model.scoring=cosine: the dot head scores the history "
                             "alone (pass --model.user_features false, or --model.scoring cosine)")
        dim = config.embedding_dim
        self.dot = config.scoring == "dot"
        # SASRec scales the item embeddings by sqrt(dim) so the learned positions do not swamp them.
        self.input_scale = dim ** 0.5 if self.dot else 1.0
        self.max_history = max_history
        self.id_dropout = config.id_dropout
        self.pooling = config.history_pooling
        self.causal = config.history_causal
        self.item_ids = item_ids
        # The dot head scores the history's state alone (SASRec's): it has no user id and no projection.
        self.user_ids = None if self.dot else encoders.IdEncoder(vocab.users, dim, name="user_id")
        self.positions = keras.layers.Embedding(max_history, dim, name="positions")
        self.input_dropout = keras.layers.Dropout(config.dropout)
        self.blocks = [
            HistoryBlock(dim, config.history_heads, config.dropout, config.history_causal,
                         prenorm=config.history_norm == "pre", name=f"block{b}")
            for b in range(config.history_blocks)
        ]
        # Pre-norm blocks leave an unnormalised stream: one LayerNorm ends it, as in SASRec.
        self.final_norm = keras.layers.LayerNormalization(name="final_norm") if config.history_norm == "pre" else None
        self.pool = MaskedAttentionPooling(dim, name="pool")
        self.profile_categorical = self.profile_numeric = None
        if config.user_features and vocab.user_categorical:
            self.profile_categorical = encoders.CategoricalEncoder(vocab.user_categorical, dim, name="profile_categorical")
        if config.user_features and vocab.user_numeric_names:
            self.profile_numeric = encoders.NumericEncoder(vocab.user_numeric_mean, vocab.user_numeric_std, dim, name="profile_numeric")
        self.output_projection = None if self.dot else keras.layers.Dense(dim, name="output")

    @property
    def reads_profile(self) -> bool:
        """Whether the tower encodes the user profile (``model.user_features`` and a users table)."""
        return self.profile_categorical is not None or self.profile_numeric is not None

    def _profile(self, inputs, batch) -> list:
        """[the profile embedding [batch, dim]] (absent parts are zero), or [] without profile encoders."""
        if not self.reads_profile:
            return []
        parts = []
        if self.profile_categorical is not None:
            tokens = inputs.get(contract.USER_CATEGORICAL)
            if tokens is not None:
                emb, present = self.profile_categorical(tokens)
                parts.append(emb * tf.cast(present, emb.dtype)[:, None])
        if self.profile_numeric is not None and contract.USER_NUMERIC in inputs:
            emb, present = self.profile_numeric(inputs[contract.USER_NUMERIC], inputs[contract.USER_NUMERIC_MASK])
            parts.append(emb * tf.cast(present, emb.dtype)[:, None])
        return [tf.add_n(parts) if parts else tf.zeros([batch, self.output_projection.units])]

    def sequence_embeddings(self, inputs, training=False):
        """Embeddings after every history position [batch, max_history, dim].

        Row ``k`` reads the history up to position ``k`` only, so the targets of
        a training window can all be scored in one pass.

        Raises:
            ValueError: the history blocks are not causal (later items would leak into earlier rows).
        """
        if not self.causal:
            raise ValueError("per-position user embeddings need model.history_causal=true; use train.examples=pairs")
        return self._encode(inputs, training, every_position=True)

    def call(self, inputs, training=False):
        return self._encode(inputs, training, every_position=False)

    def _encode(self, inputs, training, every_position):
        history = inputs["history"][:, -self.max_history:]
        # Positions are absolute within the window, so a shorter request is padded to it.
        missing = self.max_history - tf.shape(history)[1]
        history = tf.pad(history, [[0, 0], [missing, 0]], constant_values=contract.PAD)
        item_emb, known = self.item_ids(history)
        sequence = item_emb * self.input_scale + self.positions(tf.range(self.max_history))[None]
        sequence = self.input_dropout(sequence, training=training) * tf.cast(known, item_emb.dtype)[..., None]
        for block in self.blocks:
            sequence = block(sequence, known, training=training)
        if self.final_norm is not None:
            sequence = self.final_norm(sequence) * tf.cast(known, sequence.dtype)[..., None]
        if every_position:
            pooled = self.pool.prefixes(sequence, known) if self.pooling == "attention" else sequence
        else:
            pooled = self.pool(sequence, known) if self.pooling == "attention" else sequence[:, -1]
        if self.dot:
            # Scored by a dot product with the item's own (tied) embedding: no projection, no normalisation.
            return pooled
        user_emb, user_known = self.user_ids(inputs[contract.USER_ID])
        if training and self.id_dropout > 0:
            user_known &= tf.random.uniform(tf.shape(user_known)) >= self.id_dropout
        # An unknown user's id row was never trained: leave it out rather than add noise.
        user_emb *= tf.cast(user_known, user_emb.dtype)[:, None]
        per_user = tf.concat([user_emb] + self._profile(inputs, tf.shape(user_emb)[0]), axis=-1)
        if every_position:
            per_user = tf.repeat(per_user[:, None], self.max_history, axis=1)
        return tf.math.l2_normalize(self.output_projection(tf.concat([pooled, per_user], axis=-1)), axis=-1)
