"""How popular an item without interactions will be, judged from its content alone.

A two-tower model places a cold item by its content, but a unit-norm embedding
carries popularity only as a direction, and on MovieLens most of cold Recall@10
is knowing which new films many people will watch. LightFM gets that from
per-feature biases. :class:`ContentPrior` is the same idea made explicit: a
linear model over an item's bag of text tokens, categorical tokens and numeric
buckets, fitted after training to the train split's item counts (a multinomial
likelihood over the warm items), whose score is added to the retrieval logit of
items the id embedding does not know. Items with a trained id keep their learned
score.

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
# Fold assignments averaged: one assignment's chosen scale varied 0.4-0.6 with its seed on ml-100k.
FOLD_REPEATS = 3
MAX_ITERATIONS = 500
# Held-out nats per interaction the prior must gain over uniform popularity to be used at all.
# ml-100k gains 0.10-0.11; the synthetic catalogue, whose popularity ignores content, 0.008, where
# a prior of text and categorical tokens alone, used at weight 3, cost cold Recall@10 0.004-0.009.
MIN_HELDOUT_GAIN = 0.01
# Bucket edges, in standard deviations, of each numeric column's value.
# A tuple, not a tensor: a tensor made at import would start TensorFlow's runtime, which fixes its
# threads per op (braidrec/runtime.py) before a caller can choose them.
NUMERIC_EDGES = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
NUMERIC_BUCKETS = 10


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

    The item's tokens come in groups (text tokens, categorical tokens, numeric
    buckets from :func:`numeric_buckets`), each group indexing its own block of
    weights. ``prior = mean weight over the item's distinct valid tokens``; the
    layer returns ``weight * temperature * scale * (prior - offset)`` for rows
    whose id is absent and 0 for the others, in the units of the towers' dot
    product (the retrieval logit divided by the temperature). ``scale`` and
    ``offset`` are set by :func:`fit_content_prior`; until then (all zero) the
    layer adds nothing.

    Args:
        group_sizes: the number of token ids of each group (ids 0 and 1 are padding and unknown
            in text and categorical groups; masks say which positions count).
        weight: ``model.cold_prior_weight``, a multiplier on the fitted scale.
        temperature: the retrieval softmax temperature (``train.temperature``).

    Raises:
        ValueError: a negative weight.
    """

    def __init__(self, group_sizes: list[int], weight: float = 1.0, temperature: float = 0.05, **kwargs):
        super().__init__(**kwargs)
        if weight < 0:
            raise ValueError(f"model.cold_prior_weight {weight} must be >= 0 (0 turns the prior off)")
        self.group_sizes = [int(size) for size in group_sizes]
        self.weight = weight
        self.temperature = temperature
        self.token_weights = self.add_weight("token_weights", [sum(self.group_sizes)], initializer="zeros", trainable=False)
        self.scale = self.add_weight("scale", [], initializer="zeros", trainable=False)
        self.offset = self.add_weight("offset", [], initializer="zeros", trainable=False)

    def prior(self, groups) -> tf.Tensor:
        """The unscaled prior [batch] of ``groups``, a list of (ids [batch, T], valid [batch, T]) in
        ``group_sizes`` order: the mean weight over the distinct valid ids (0 with none)."""
        total = count = 0.0
        start = 0
        for (ids, valid), size in zip(groups, self.group_sizes):
            mask = tf.cast(unique_token_mask(ids, valid), tf.float32)
            total += tf.reduce_sum(tf.gather(self.token_weights, start + tf.cast(ids, tf.int32)) * mask, axis=1)
            count += tf.reduce_sum(mask, axis=1)
            start += size
        return total / tf.maximum(count, 1.0)

    def call(self, groups, id_present):
        offset = self.weight * self.temperature * self.scale * (self.prior(groups) - self.offset)
        return tf.where(id_present, tf.zeros_like(offset), offset)

    def get_config(self) -> dict:
        return {**super().get_config(), "group_sizes": self.group_sizes, "weight": self.weight, "temperature": self.temperature}


def numeric_buckets(values: tf.Tensor, mask: tf.Tensor, mean, std) -> tuple[tf.Tensor, tf.Tensor]:
    """(bucket ids [batch, K], valid [batch, K]) of numeric columns: column ``j``'s standardised
    value falls in bucket ``j * NUMERIC_BUCKETS + b`` (edges ``NUMERIC_EDGES``), so a linear prior
    can follow a non-linear trend (films of some decades are watched more)."""
    scaled = (values - mean) / std
    bucket = tf.reduce_sum(tf.cast(scaled[..., None] >= tf.constant(NUMERIC_EDGES, scaled.dtype), tf.int32), axis=-1)
    column = tf.range(tf.shape(values)[1], dtype=tf.int32)[None] * NUMERIC_BUCKETS
    return column + bucket, mask > 0


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
        bags: [warm items, sum(group_sizes)], each row the
            item's distinct tokens with weight 1/count (see :func:`token_bags`).
        counts: train interactions per row of ``bags`` (all > 0).
        seed: the fold assignments' seed.

    Returns:
        The chosen :class:`PriorFit`.

    Raises:
        ValueError: fewer than ``FOLDS`` items, or rows and counts disagree.
    """
    counts = np.asarray(counts, np.float64)
    if bags.shape[0] != len(counts) or len(counts) < FOLDS:
        raise ValueError(f"the content prior needs at least {FOLDS} warm items with one count each; "
                         f"got {bags.shape[0]} rows and {len(counts)} counts")
    rng = np.random.default_rng(seed)
    folds = [rng.permutation(len(counts)) % FOLDS for _ in range(FOLD_REPEATS)]
    uniform = _cross_entropy(np.zeros(len(counts)), counts)
    best = None
    for l2 in L2_GRID:
        losses = np.zeros(len(SCALE_GRID))
        for fold in folds:
            heldout = np.zeros(len(counts))
            for k in range(FOLDS):
                train = np.flatnonzero(fold != k)
                heldout[fold == k] = bags[fold == k] @ _softmax_fit(bags[train], counts[train], l2)
            losses += [_cross_entropy(scale * heldout, counts) / FOLD_REPEATS for scale in SCALE_GRID]
        choice = PriorFit(l2, float(SCALE_GRID[int(np.argmin(losses))]), uniform - float(losses.min()))
        if best is None or choice.heldout_gain > best.heldout_gain:
            best = choice
    if best.heldout_gain < MIN_HELDOUT_GAIN:
        best = dataclasses.replace(best, scale=0.0)
    weights = _softmax_fit(bags, counts, best.l2).astype(np.float32)
    layer.token_weights.assign(weights)
    layer.scale.assign(best.scale)
    layer.offset.assign(float(np.mean(bags @ weights)))
    return best


def token_bags(layer: ContentPrior, groups: list[tuple[np.ndarray, np.ndarray]]) -> sparse.csr_matrix:
    """[items, sum(group_sizes)] bags of ``groups`` (as :meth:`ContentPrior.prior` takes them): each
    row the item's distinct valid ids weighted 1/count, so that ``bags @ weights`` equals the prior."""
    rows, cols = [], []
    start = 0
    for (ids, valid), size in zip(groups, layer.group_sizes):
        first = unique_token_mask(tf.constant(ids), tf.constant(valid)).numpy()
        r, c = np.nonzero(first)
        rows.append(r)
        cols.append(start + np.asarray(ids)[r, c].astype(np.int64))
        start += size
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    items = len(groups[0][0])
    bags = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(items, start))
    return sparse.diags(1.0 / np.maximum(np.asarray(bags.sum(axis=1)).ravel(), 1.0)) @ bags
