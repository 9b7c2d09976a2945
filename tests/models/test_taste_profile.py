"""The taste profile and the query for items without a trained id, on hand-computed cases."""

import functools

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf

from braidrec.models.taste_profile import check_profile_weight, cold_item_queries, score_moments, taste_profiles

ITEMS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [3.0, 4.0]], np.float32)


def _profiles(rows) -> np.ndarray:
    return taste_profiles(tf.constant(rows), functools.partial(tf.gather, ITEMS)).numpy()


def test_profile_is_the_normalised_mean_of_the_history_rows_padding_ignored():
    profiles = _profiles([[0, 1, -1], [3, -1, -1], [-1, -1, -1], [0, 0, 2]])
    np.testing.assert_allclose(profiles[0], [0.5 ** 0.5, 0.5 ** 0.5], atol=1e-6)
    np.testing.assert_allclose(profiles[1], [0.6, 0.8], atol=1e-6)
    np.testing.assert_array_equal(profiles[2], [0.0, 0.0])
    # A repeated row counts each time: (1,0) + (1,0) + (1,1) = (3, 1).
    np.testing.assert_allclose(profiles[3], np.array([3.0, 1.0]) / 10 ** 0.5, atol=1e-6)


def test_score_moments_use_only_items_with_an_id():
    moments = score_moments(ITEMS, np.array([True, True, False, False]))
    np.testing.assert_allclose(moments.mean, [0.5, 0.5])
    np.testing.assert_allclose(moments.covariance, [[0.25, -0.25], [-0.25, 0.25]])


@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0])
def test_cold_query_blends_tower_and_rescaled_profile(weight):
    rng = np.random.default_rng(0)
    items = rng.normal(size=(50, 8)).astype(np.float32)
    has_id = np.arange(50) < 40
    users = rng.normal(size=(3, 8)).astype(np.float32)
    profiles = _normalised(rng.normal(size=(3, 8)))
    moments = score_moments(items, has_id)
    queries, bias = (t.numpy() for t in cold_item_queries(users, profiles, weight, moments))

    tower_scores, profile_scores = users @ items[has_id].T, profiles @ items[has_id].T
    scale = tower_scores.std(axis=1) / profile_scores.std(axis=1)
    shift = tower_scores.mean(axis=1) - scale * profile_scores.mean(axis=1)
    np.testing.assert_allclose(queries, (1 - weight) * users + weight * scale[:, None] * profiles, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bias, weight * shift, rtol=1e-4, atol=1e-5)
    if weight == 1.0:
        # The rescaled profile scores the items with an id with the tower's mean and spread.
        cold_scores = queries @ items[has_id].T + bias[:, None]
        np.testing.assert_allclose(cold_scores.mean(axis=1), tower_scores.mean(axis=1), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(cold_scores.std(axis=1), tower_scores.std(axis=1), rtol=1e-4, atol=1e-5)


def test_user_without_profile_keeps_the_tower_vector():
    users = np.array([[0.6, 0.8], [1.0, 0.0]], np.float32)
    profiles = np.array([[0.0, 0.0], [0.0, 1.0]], np.float32)
    queries, bias = cold_item_queries(users, profiles, 1.0, score_moments(ITEMS, np.ones(4, bool)))
    np.testing.assert_array_equal(queries.numpy()[0], users[0])
    assert bias.numpy()[0] == 0.0
    assert not np.allclose(queries.numpy()[1], users[1])


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_weight_outside_zero_one_is_refused(weight):
    with pytest.raises(ValueError, match="model.cold_profile_weight"):
        check_profile_weight(weight)


def _normalised(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
