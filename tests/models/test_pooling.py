"""Masked attention pooling: sequences given whole or as indices into their distinct vectors."""

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf

from braidrec.models.pooling import MaskedAttentionPooling


@pytest.fixture
def pooled_inputs():
    """Distinct vectors [5, 8], index [4, 6] into them (repeats within and across rows), a mask with an empty row."""
    rng = np.random.default_rng(3)
    vectors = tf.constant(rng.normal(size=(5, 8)), tf.float32)
    index = tf.constant(rng.integers(0, 5, size=(4, 6)), tf.int32)
    mask = rng.random((4, 6)) > 0.4
    mask[3] = False
    return vectors, index, tf.constant(mask)


def test_indexed_sequences_pool_as_the_gathered_ones(pooled_inputs):
    vectors, index, mask = pooled_inputs
    layer = MaskedAttentionPooling(8)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(vectors)
        indexed = layer(vectors, mask, index=index)
        gathered = layer(tf.gather(vectors, index), mask)
        indexed_loss, gathered_loss = tf.reduce_sum(indexed**2), tf.reduce_sum(gathered**2)
    np.testing.assert_allclose(indexed, gathered, atol=1e-6)
    sources = [vectors, *layer.trainable_variables]
    for a, b in zip(tape.gradient(indexed_loss, sources), tape.gradient(gathered_loss, sources)):
        np.testing.assert_allclose(tf.convert_to_tensor(a), tf.convert_to_tensor(b), atol=1e-5)


@pytest.mark.parametrize("indexed", [False, True])
def test_pooling_is_a_softmax_weighted_mean_of_the_valid_positions(pooled_inputs, indexed):
    vectors, index, mask = pooled_inputs
    layer = MaskedAttentionPooling(8)
    sequence = tf.gather(vectors, index)
    result = layer(vectors, mask, index=index) if indexed else layer(sequence, mask)
    logits = tf.squeeze(layer.score(layer.hidden(sequence)), -1).numpy()
    for row in range(3):
        valid = mask[row].numpy()
        weights = np.exp(logits[row][valid] - logits[row][valid].max())
        expected = (weights / weights.sum()) @ sequence[row].numpy()[valid]
        np.testing.assert_allclose(result[row], expected, atol=1e-5)
    np.testing.assert_array_equal(result[3], np.zeros(8))


class FixedScorePooling(MaskedAttentionPooling):
    """The pooling with given scores per distinct vector, to test its arithmetic at extreme scores."""

    def __init__(self, scores, **kwargs):
        super().__init__(8, **kwargs)
        self.fixed = tf.Variable(scores, dtype=tf.float32)

    def _logits(self, sequence):
        return self.fixed


def test_scores_beyond_the_float_range_of_exp_still_pool_every_row(pooled_inputs):
    vectors, _, _ = pooled_inputs
    # Row 0 holds the best vector; rows 1 and 2 only vectors scoring 100-300 below it, whose
    # exp(score - best) underflows in float32.
    index = tf.constant([[0, 1, 2, 0], [1, 3, 3, 0], [2, 4, 0, 0]])
    mask = tf.constant([[True, True, True, False], [True, True, False, False], [True, True, False, False]])
    layer = FixedScorePooling([0.0, -100.0, -300.0, -100.0, -200.0])
    with tf.GradientTape() as tape:
        tape.watch(vectors)
        result = layer(vectors, mask, index=index)
        loss = tf.reduce_sum(result**2)
    gradients = tape.gradient(loss, [vectors, layer.fixed])
    assert all(np.isfinite(tf.convert_to_tensor(g).numpy()).all() for g in gradients)
    # The exact softmax where it is representable; rows far below the best get a mean of their
    # vectors (the documented clamp) rather than zeros or NaN.
    np.testing.assert_allclose(result[0], vectors[0], atol=1e-6)
    np.testing.assert_allclose(result[1], (vectors[1] + vectors[3]) / 2, atol=1e-6)
    np.testing.assert_allclose(result[2], (vectors[2] + vectors[4]) / 2, atol=1e-6)
