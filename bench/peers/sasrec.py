"""SASRec (Kang & McAuley, 2018) in TensorFlow: the standard sequential recommender peer.

Faithful to the paper's setup: item embeddings (scaled by sqrt(d)) plus learned
positions over the last ``length`` items, ``blocks`` pre-norm causal
self-attention blocks with a point-wise feed-forward layer, dropout, and the
item embedding shared as the output layer. Unlike the paper's one sampled
negative, the loss is the full softmax cross-entropy over every item at every
position (as in RecBole's ``loss_type='CE'``), which is what reaches the
reference numbers. Training early-stops on validation Recall@10, or on the
Recall@K that ``selection_cutoff`` names (peer ``sasrec_recall50``: the rule
braidrec's default selects by, so that neither side gets a better-tuned stop).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tf_keras as keras

from bench.peers.base import Scorer, val_recall
from braidrec.features import contract
from braidrec.models.evaluate import EvalData


@dataclasses.dataclass
class SASRecConfig:
    """Hyper-parameters (the reference run's: L=50, 2 blocks, dropout 0.2)."""

    length: int = 50
    dim: int = 64
    blocks: int = 2
    heads: int = 1
    dropout: float = 0.2
    learning_rate: float = 0.001
    batch_size: int = 128
    max_epochs: int = 200
    patience: int = 10
    # The validation Recall@K that picks the best epoch and drives early stopping.
    selection_cutoff: int = 10


class SASRecModel(keras.Model):
    """Sequence of item indices [batch, length] (0 = padding, left-padded) -> hidden states [batch, length, dim]."""

    def __init__(self, num_items: int, config: SASRecConfig):
        super().__init__()
        self.config = config
        self.items = keras.layers.Embedding(num_items + 1, config.dim)
        self.positions = keras.layers.Embedding(config.length, config.dim)
        self.drop = keras.layers.Dropout(config.dropout)
        self.attn_norms = [keras.layers.LayerNormalization(epsilon=1e-8) for _ in range(config.blocks)]
        self.attentions = [
            keras.layers.MultiHeadAttention(config.heads, config.dim // config.heads, dropout=config.dropout)
            for _ in range(config.blocks)
        ]
        self.ffn_norms = [keras.layers.LayerNormalization(epsilon=1e-8) for _ in range(config.blocks)]
        self.ffn_in = [keras.layers.Dense(config.dim, activation="relu") for _ in range(config.blocks)]
        self.ffn_out = [keras.layers.Dense(config.dim) for _ in range(config.blocks)]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-8)

    def call(self, seq, training=False):
        length = tf.shape(seq)[1]
        valid = tf.cast(seq > 0, tf.float32)[..., None]
        x = self.items(seq) * (self.config.dim ** 0.5) + self.positions(tf.range(length))[None]
        x = self.drop(x, training=training) * valid
        causal = tf.linalg.band_part(tf.ones((length, length), tf.bool), -1, 0)
        mask = tf.logical_and(causal[None], (seq > 0)[:, None, :])
        for i in range(self.config.blocks):
            query = self.attn_norms[i](x)
            # The paper's block: normalised query, raw keys/values, residual on the query.
            x = query + self.attentions[i](query, x, attention_mask=mask, training=training)
            hidden = self.ffn_norms[i](x)
            ffn = self.ffn_out[i](self.drop(self.ffn_in[i](hidden), training=training))
            x = (hidden + self.drop(ffn, training=training)) * valid
        return self.final_norm(x)

    def logits(self, hidden):
        """Scores of every item (index 0, the padding, gets -inf) for each hidden state."""
        table = self.items.embeddings
        # A flat matmul: tf.einsum with an ellipsis runs ~30x slower on CPU here.
        flat = tf.matmul(tf.reshape(hidden, (-1, self.config.dim)), table, transpose_b=True)
        pad = tf.one_hot(0, tf.shape(table)[0], on_value=-1e9, off_value=0.0)
        return tf.reshape(flat + pad, tf.concat([tf.shape(hidden)[:-1], [-1]], 0))


def training_windows(data: EvalData, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) int32 [windows, length]: each user's train sequence shifted by one.

    Sequences longer than ``length`` are cut into consecutive windows from the most
    recent end so every train interaction is a target once; windows are left-padded.
    """
    inputs, targets = [], []
    for user in data.histories:
        seq = [data.index[i] + 1 for i in user.of(contract.SPLIT_TRAIN)]
        for end in range(len(seq) - 1, 0, -length):
            start = max(0, end - length)
            pad = length - (end - start)
            inputs.append([0] * pad + seq[start:end])
            targets.append([0] * pad + seq[start + 1:end + 1])
    return np.asarray(inputs, np.int32), np.asarray(targets, np.int32)


def _encode_histories(histories: np.ndarray, index: dict[str, int], length: int) -> np.ndarray:
    rows = np.vectorize(lambda item: index.get(item, -1) + 1, otypes=[np.int32])(histories)
    rows = rows[:, -length:]
    return np.pad(rows, ((0, 0), (length - rows.shape[1], 0))) if rows.shape[1] < length else rows


def fit_sasrec(data: EvalData, seed: int, config: SASRecConfig | None = None, **overrides) -> Scorer:
    """Trains SASRec on the train split, keeping the epoch with the best validation Recall@K.

    Args:
        data: evaluation data of the features directory.
        seed: seeds TensorFlow, NumPy and Python's random (weights, dropout, shuffling).
        config: hyper-parameters; default :class:`SASRecConfig`.
        overrides: fields of ``config`` to replace (the registry's ``sasrec_recall50``).

    Returns:
        A scorer of warm items (SASRec has no content: ``scores_cold`` is False).

    Raises:
        ValueError: when no user has two train interactions (nothing to learn).
    """
    config = dataclasses.replace(config or SASRecConfig(), **overrides)
    if config.selection_cutoff < 1:
        raise ValueError(f"SASRec selection_cutoff {config.selection_cutoff} must be >= 1 (the K of val Recall@K)")
    keras.utils.set_random_seed(seed)
    inputs, targets = training_windows(data, config.length)
    if len(inputs) == 0:
        raise ValueError("SASRec: no user has two train interactions; the train split is too small")
    model = SASRecModel(len(data.catalogue), config)
    optimizer = keras.optimizers.Adam(config.learning_rate, beta_2=0.98)
    train = tf.data.Dataset.from_tensor_slices((inputs, targets)).shuffle(len(inputs), seed=seed).batch(config.batch_size)

    @tf.function
    def step(seq, target):
        with tf.GradientTape() as tape:
            logits = model.logits(model(seq, training=True))
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(target, logits)
            weight = tf.cast(target > 0, tf.float32)
            loss = tf.reduce_sum(loss * weight) / tf.reduce_sum(weight)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    @tf.function
    def last_state(seq):
        return model(seq, training=False)[:, -1]

    def score(user_ids: np.ndarray, histories: np.ndarray) -> np.ndarray:
        seq = _encode_histories(histories, data.index, config.length)
        items = model.items.embeddings.numpy()[1:]
        return last_state(tf.constant(seq)).numpy() @ items.T

    name = "SASRec" if config.selection_cutoff == 10 else f"SASRec (val Recall@{config.selection_cutoff})"
    scorer = Scorer(name, score, info=dataclasses.asdict(config))
    best, best_epoch, best_weights, started = -1.0, 0, None, time.time()
    for epoch in range(1, config.max_epochs + 1):
        for seq, target in train:
            step(seq, target)
        value = val_recall(scorer, data, config.selection_cutoff)
        if value > best:
            best, best_epoch, best_weights = value, epoch, model.get_weights()
        elif epoch - best_epoch >= config.patience:
            break
    model.set_weights(best_weights)
    scorer.info.update(best_epoch=best_epoch, epochs_run=epoch, best_val_recall=best, seconds=round(time.time() - started, 1))
    return scorer
