"""How popular an item without interactions will be, judged from its content alone.

A two-tower model places a cold item by its content, but a unit-norm embedding
carries popularity only as a direction, and on MovieLens most of cold Recall@10
is knowing which new films many people will watch. LightFM gets that from
per-feature biases. :class:`ContentPrior` is the same idea made explicit: a
linear model over an item's bag of text and categorical tokens, fitted after
training to the train split's item counts (a multinomial likelihood over the
warm items), whose score is added to the retrieval logit of items the id
embedding does not know. Items with a trained id keep their learned score.

The prior earns its weight: :func:`fit_content_prior` cross-fits it over folds
of warm items and scales it by how well it predicts the popularity of items it
did not see; where content says nothing about popularity (the synthetic
catalogue) the held-out gain is tiny and the prior is left out.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import optimize, sparse

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tf_keras as keras

# Ridge strengths tried by cross-fitting, and the grid of scales for the held-out fit.
L2_GRID = (1e-5, 1e-4, 1e-3)
SCALE_GRID = np.linspace(0.0, 6.0, 61)
FOLDS = 5
MAX_ITERATIONS = 500
# Held-out nats per interaction the prior must gain over uniform popularity to be used at all.
# ml-100k's gains 0.064-0.071; the synthetic catalogue, whose popularity ignores content, 0.0006,
# where the tiny fitted scale still cost cold Recall@10 about 0.005.
MIN_HELDOUT_GAIN = 0.01


def unique_token_mask(tokens: tf.Tensor, valid: tf.Tensor) -> tf.Tensor:
    """bool [batch, T]: ``valid`` positions holding the first occurrence of their token in the row.

    A word repeated in an overview counts once, as in a bag-of-words model.
    """
    sentinel = tf.where(valid, tf.cast(tokens, tf.int64), tf.constant(-1, tf.int64))
    order = tf.argsort(sentinel, axis=1, stable=True)
    ordered = tf.gather(sentinel, order, batch_dims=1)
    first = tf.concat([tf.ones_like(ordered[:, :1], tf.bool), ordered[:, 1:] != ordered[:, :-1]], axis=1)
    first &= ordered >= 0
    # Scatter "first" back to the original positions.
    inverse = tf.argsort(order, axis=1, stable=True)
    return tf.gather(first, inverse, batch_dims=1)


class ContentPrior(keras.layers.Layer):
    """Content -> a logit offset for items without a trained id.

    ``prior = mean of the weights of the item's distinct text tokens and categorical
    tokens``; the layer returns ``weight * temperature * scale * (prior - offset)``
    for rows whose id is absent and 0 for the others, in the units of the
    towers' dot product (the retrieval logit divided by the temperature).
    ``scale`` and ``offset`` are set by :func:`fit_content_prior`; until then
    (all weights zero) the layer adds nothing.

    Args:
        text_vocabulary_size: the text encoder's token count (0 padding, 1 unknown).
        categorical_vocabulary_size: the categorical lookup's size (0 padding, 1 unknown); 0: none.
        weight: ``model.cold_prior_weight``, a multiplier on the fitted scale.
        temperature: the retrieval softmax temperature (``train.temperature``).
    """

    def __init__(self, text_vocabulary_size: int, categorical_vocabulary_size: int, weight: float = 1.0,
                 temperature: float = 0.05, **kwargs):
        super().__init__(**kwargs)
        if weight < 0:
            raise ValueError(f"model.cold_prior_weight {weight} must be >= 0 (0 turns the prior off)")
        self.text_vocabulary_size = text_vocabulary_size
        self.categorical_vocabulary_size = categorical_vocabulary_size
        self.weight = weight
        self.temperature = temperature
        self.text_weights = self.add_weight("text_weights", [text_vocabulary_size], initializer="zeros", trainable=False)
        self.categorical_weights = self.add_weight(
            "categorical_weights", [max(categorical_vocabulary_size, 1)], initializer="zeros", trainable=False)
        self.scale = self.add_weight("scale", [], initializer="zeros", trainable=False)
        self.offset = self.add_weight("offset", [], initializer="zeros", trainable=False)

    def prior(self, text_tokens, text_valid, categorical_index=None, categorical_valid=None) -> tf.Tensor:
        """The unscaled prior [batch]: mean token weight over the distinct valid tokens (0 with none)."""
        text_mask = tf.cast(unique_token_mask(text_tokens, text_valid), tf.float32)
        total = tf.reduce_sum(tf.gather(self.text_weights, text_tokens) * text_mask, axis=1)
        count = tf.reduce_sum(text_mask, axis=1)
        if categorical_index is not None:
            cat_mask = tf.cast(unique_token_mask(categorical_index, categorical_valid), tf.float32)
            total += tf.reduce_sum(tf.gather(self.categorical_weights, categorical_index) * cat_mask, axis=1)
            count += tf.reduce_sum(cat_mask, axis=1)
        return total / tf.maximum(count, 1.0)

    def call(self, text_tokens, text_valid, categorical_index, categorical_valid, id_present):
        prior = self.prior(text_tokens, text_valid, categorical_index, categorical_valid)
        offset = self.weight * self.temperature * self.scale * (prior - self.offset)
        return tf.where(id_present, tf.zeros_like(offset), offset)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "text_vocabulary_size": self.text_vocabulary_size,
            "categorical_vocabulary_size": self.categorical_vocabulary_size,
            "weight": self.weight,
            "temperature": self.temperature,
        }


@dataclasses.dataclass
class PriorFit:
    """What :func:`fit_content_prior` chose.

    Attributes:
        l2: the ridge strength with the best held-out likelihood.
        scale: the held-out fit's multiplier on the prior; 0 when the held-out gain is under
            ``MIN_HELDOUT_GAIN`` (content says nothing about popularity).
        heldout_gain: held-out cross-entropy of uniform popularity minus the prior's, in nats per interaction.
    """

    l2: float
    scale: float
    heldout_gain: float


def _softmax_fit(bags: sparse.csr_matrix, counts: np.ndarray, l2: float) -> np.ndarray:
    """Token weights [V] maximising mean log softmax(bags @ w) over the interactions, minus l2 * |w|^2.

    Convex, so L-BFGS finds the one optimum whatever the start: the fit is deterministic.
    """
    share = counts / counts.sum()

    def loss_and_grad(weights):
        logits = bags @ weights
        shifted = logits - logits.max()
        log_norm = np.log(np.exp(shifted).sum())
        probs = np.exp(shifted - log_norm)
        loss = -(share * (shifted - log_norm)).sum() + l2 * weights @ weights
        return loss, bags.T @ (probs - share) + 2 * l2 * weights

    result = optimize.minimize(loss_and_grad, np.zeros(bags.shape[1]), jac=True, method="L-BFGS-B",
                               options={"maxiter": MAX_ITERATIONS, "gtol": 1e-10, "ftol": 1e-13})
    return result.x


def _cross_entropy(logits: np.ndarray, counts: np.ndarray) -> float:
    shifted = logits - logits.max()
    log_probs = shifted - np.log(np.exp(shifted).sum())
    return float(-(counts * log_probs).sum() / counts.sum())


def fit_content_prior(layer: ContentPrior, bags: sparse.csr_matrix, counts: np.ndarray, seed: int = 0) -> PriorFit:
    """Fits ``layer`` to the warm items' train counts; sets its weights, scale and offset.

    Args:
        layer: the item tower's prior.
        bags: [warm items, text vocabulary + categorical vocabulary], each row the
            item's distinct tokens with weight 1/count (see :func:`token_bags`).
        counts: train interactions per row of ``bags`` (all > 0).
        seed: the fold assignment's seed.

    Returns:
        The chosen :class:`PriorFit`.

    Raises:
        ValueError: fewer than ``FOLDS`` items, or rows and counts disagree.
    """
    counts = np.asarray(counts, np.float64)
    if bags.shape[0] != len(counts) or len(counts) < FOLDS:
        raise ValueError(f"the content prior needs at least {FOLDS} warm items with one count each; "
                         f"got {bags.shape[0]} rows and {len(counts)} counts")
    fold = np.random.default_rng(seed).permutation(len(counts)) % FOLDS
    uniform = _cross_entropy(np.zeros(len(counts)), counts)
    best = None
    for l2 in L2_GRID:
        heldout = np.zeros(len(counts))
        for k in range(FOLDS):
            train = np.flatnonzero(fold != k)
            heldout[fold == k] = bags[fold == k] @ _softmax_fit(bags[train], counts[train], l2)
        losses = [_cross_entropy(scale * heldout, counts) for scale in SCALE_GRID]
        choice = PriorFit(l2, float(SCALE_GRID[int(np.argmin(losses))]), uniform - min(losses))
        if best is None or choice.heldout_gain > best.heldout_gain:
            best = choice
    if best.heldout_gain < MIN_HELDOUT_GAIN:
        best = dataclasses.replace(best, scale=0.0)
    weights = _softmax_fit(bags, counts, best.l2).astype(np.float32)
    text_size = layer.text_vocabulary_size
    layer.text_weights.assign(weights[:text_size])
    if layer.categorical_vocabulary_size:
        layer.categorical_weights.assign(weights[text_size:])
    layer.scale.assign(best.scale)
    layer.offset.assign(float(np.mean(bags @ weights)))
    return best


def token_bags(layer: ContentPrior, text_tokens: np.ndarray, text_valid: np.ndarray,
               categorical_index: np.ndarray | None = None, categorical_valid: np.ndarray | None = None) -> sparse.csr_matrix:
    """[items, text vocabulary + categorical vocabulary] bags: each row the item's distinct valid
    tokens weighted 1/count, so that ``bags @ weights`` equals :meth:`ContentPrior.prior`."""
    rows, cols = [], []
    text_first = unique_token_mask(tf.constant(text_tokens), tf.constant(text_valid)).numpy()
    r, c = np.nonzero(text_first)
    rows.append(r)
    cols.append(text_tokens[r, c])
    if categorical_index is not None and layer.categorical_vocabulary_size:
        cat_first = unique_token_mask(tf.constant(categorical_index), tf.constant(categorical_valid)).numpy()
        r, c = np.nonzero(cat_first)
        rows.append(r)
        cols.append(layer.text_vocabulary_size + categorical_index[r, c])
    rows, cols = np.concatenate(rows), np.concatenate(cols).astype(np.int64)
    width = layer.text_vocabulary_size + layer.categorical_vocabulary_size
    bags = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(text_tokens), width))
    return sparse.diags(1.0 / np.maximum(np.asarray(bags.sum(axis=1)).ravel(), 1.0)) @ bags
