"""The batched cross-modal alignment loss against TFRS's retrieval task run pair by pair."""

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf
import tensorflow_recommenders as tfrs

from braidrec.models.alignment import id_keys, paired_info_nce


def _per_pair_reference(modalities, mask, ids, pairs, temperature) -> float:
    """The definition: a TFRS Retrieval task per pair and direction over the rows having both modalities."""
    task = tfrs.tasks.Retrieval(temperature=temperature, remove_accidental_hits=True)
    total = 0.0
    for a, b in pairs:
        both = mask[:, a] & mask[:, b]
        if not both.any():
            continue
        left = tf.math.l2_normalize(modalities[both, a], axis=-1)
        right = tf.math.l2_normalize(modalities[both, b], axis=-1)
        kept = tf.constant(ids[both])
        total += float(task(left, right, candidate_ids=kept, compute_metrics=False))
        total += float(task(right, left, candidate_ids=kept, compute_metrics=False))
    return total / (2 * len(pairs))


@pytest.mark.parametrize("pairs", [[(1, 2)], [(1, 0), (2, 0), (3, 0)], [(1, 2), (3, 2), (1, 0)]])
@pytest.mark.parametrize("temperature", [0.05, 1.0])
def test_batched_loss_equals_the_per_pair_retrieval_tasks(pairs, temperature):
    rng = np.random.default_rng(7)
    modalities = rng.normal(size=(9, 4, 5)).astype(np.float32)
    mask = rng.random((9, 4)) > 0.3
    # Modality 3 is missing everywhere but two rows; item "c" appears twice (an accidental hit).
    mask[2:, 3] = False
    ids = np.array(list("abcdecfgh"))
    expected = _per_pair_reference(modalities, mask, ids, pairs, temperature)
    actual = float(paired_info_nce(tf.constant(modalities), tf.constant(mask), tf.constant(ids), pairs, temperature))
    assert actual == pytest.approx(expected, rel=1e-4)


def test_hand_computed_two_items():
    # Item 0's modalities agree and item 1's are orthogonal to each other.
    modalities = tf.constant([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]]])
    mask = tf.ones([2, 2], tf.bool)
    loss = float(paired_info_nce(modalities, mask, tf.constant(["x", "y"]), [(0, 1)], 1.0))
    # Scores [[1, 1], [0, 0]]: left->right rows give log 2 each; right->left is the transpose [[1, 0], [1, 0]].
    right_to_left = (np.log(np.e + 1) - 1) + (np.log(np.e + 1) - 0)
    assert loss == pytest.approx((2 * np.log(2) + right_to_left) / 2, rel=1e-5)


def test_a_pair_no_item_has_adds_nothing_and_no_pairs_is_refused():
    modalities = tf.random.normal([3, 2, 4])
    mask = tf.constant([[True, False]] * 3)
    assert float(paired_info_nce(modalities, mask, tf.constant(["a", "b", "c"]), [(0, 1)], 0.1)) == 0.0
    with pytest.raises(ValueError, match="at least one modality pair"):
        paired_info_nce(modalities, mask, tf.constant(["a", "b", "c"]), [], 0.1)


@pytest.mark.parametrize("ids", [["b", "a", "b", "c"], [7, 3, 7, 1]])
def test_id_keys_are_equal_exactly_when_the_ids_are(ids):
    keys = id_keys(tf.constant(ids)).numpy()
    assert np.issubdtype(keys.dtype, np.integer)
    same = np.array(ids)[:, None] == np.array(ids)[None, :]
    np.testing.assert_array_equal(keys[:, None] == keys[None, :], same)
