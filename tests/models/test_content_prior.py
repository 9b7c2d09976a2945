"""ContentPrior: distinct-token means by hand, zero for items with an id, serialisation, and a
cross-fitted scale that follows whether content predicts popularity."""

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf

from braidrec.config import RunConfig
from braidrec.features import readers
from braidrec.models.checkpoint import build_model, load_model_dir
from braidrec.models.content_prior import (
    NUMERIC_BUCKETS, ContentPrior, fit_content_prior, numeric_buckets, token_bags, unique_token_mask,
)
from braidrec.models.evaluate import EvalData, item_embeddings

TOKENS = np.array([[5, 3, 5, 0], [2, 2, 1, 0], [4, 0, 0, 0]], np.int64)
VALID = TOKENS > 1
CATEGORIES = np.array([[2, 3], [0, 0], [3, 3]], np.int64)
GROUPS = [(TOKENS, VALID), (CATEGORIES, CATEGORIES > 1)]


def _tensors(groups):
    return [(tf.constant(ids), tf.constant(valid)) for ids, valid in groups]


def _layer(weight=1.0, temperature=0.5):
    layer = ContentPrior([6, 4], weight, temperature)
    layer.token_weights.assign([0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 10.0, 20.0])
    layer.scale.assign(2.0)
    layer.offset.assign(1.0)
    return layer


def test_unique_token_mask_keeps_first_valid_occurrence():
    mask = unique_token_mask(tf.constant(TOKENS), tf.constant(VALID)).numpy()
    assert mask.tolist() == [[True, True, False, False], [True, False, False, False], [True, False, False, False]]


def test_prior_is_the_mean_over_distinct_tokens_and_zero_for_items_with_an_id():
    layer = _layer()
    prior = layer.prior(_tensors(GROUPS)).numpy()
    # Row 0: text {5: 4, 3: 2}, categories {2: 10, 3: 20} -> 36 / 4; row 1: text {2: 1} -> 1; row 2: {4: 3, 3: 20} -> 23 / 2.
    np.testing.assert_allclose(prior, [9.0, 1.0, 11.5])
    present = tf.constant([False, True, False])
    out = layer(_tensors(GROUPS), present).numpy()
    # weight * temperature * scale * (prior - offset), and 0 where the id is known.
    np.testing.assert_allclose(out, [1.0 * 0.5 * 2.0 * 8.0, 0.0, 1.0 * 0.5 * 2.0 * 10.5])


def test_bags_reproduce_the_layer():
    layer = _layer()
    bags = token_bags(layer, GROUPS)
    np.testing.assert_allclose(bags @ layer.token_weights.numpy(), layer.prior(_tensors(GROUPS)).numpy(), rtol=1e-6)


def test_numeric_buckets_by_standardised_value_per_column():
    values = tf.constant([[0.0, 10.0], [3.0, 13.0], [-5.0, 0.0]])
    mask = tf.constant([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    ids, valid = numeric_buckets(values, mask, tf.constant([0.0, 10.0]), tf.constant([2.0, 2.0]))
    # z: [[0, 0], [1.5, 1.5], [-2.5, -5]] -> buckets (edges -2 .. 2 by 0.5) 5, 8, 0; column 1 adds 10.
    assert ids.numpy().tolist() == [[5, 15], [8, 18], [0, 10]]
    assert valid.numpy().tolist() == [[True, True], [True, False], [True, True]]


def test_config_round_trip_and_negative_weight_refused():
    layer = _layer(weight=0.7, temperature=0.05)
    clone = ContentPrior.from_config(layer.get_config())
    assert (clone.weight, clone.temperature, clone.group_sizes) == (0.7, 0.05, [6, 4])
    with pytest.raises(ValueError, match="cold_prior_weight"):
        ContentPrior([6, 4], weight=-1.0)


def _toy_catalogue(seed: int, informative: bool):
    """200 items with two of 20 text tokens each; counts follow token 2 when ``informative``."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(2, 22, size=(200, 2))
    base = np.where((tokens == 2).any(axis=1), 40.0, 5.0) if informative else np.full(200, 10.0)
    counts = rng.poisson(base) + 1
    return tokens, counts


@pytest.mark.parametrize("informative", [True, False])
def test_fit_scale_follows_whether_content_predicts_popularity(informative):
    tokens, counts = _toy_catalogue(0, informative)
    layer = ContentPrior([22])
    fit = fit_content_prior(layer, token_bags(layer, [(tokens, tokens > 1)]), counts)
    prior = layer.prior(_tensors([(tokens, tokens > 1)])).numpy() * layer.scale.numpy()
    has_token = (tokens == 2).any(axis=1)
    if informative:
        assert fit.scale > 0.5 and fit.heldout_gain > 0.05
        assert prior[has_token].min() > prior[~has_token].max()
    else:
        assert fit.heldout_gain < 0.01 and fit.scale == 0.0
        assert not prior.any()


def test_fit_refuses_too_few_items():
    layer = ContentPrior([22])
    with pytest.raises(ValueError, match="at least 5 warm items"):
        fit_content_prior(layer, token_bags(layer, [(np.array([[2, 3]]), np.array([[True, True]]))]), np.array([3]))


def test_trained_model_offsets_only_items_without_an_id(tiny_run):
    """On the tiny run, with counts made to follow one category: cold rows get offsets, warm rows none."""
    trained = load_model_dir(tiny_run["model"])
    tower = trained.model.item_tower
    data = EvalData.load(trained.features_dir)
    features = tower.pretokenize(data.catalogue.features)
    first = data.catalogue.features["categorical"][:, 0]
    counts = np.where(first == first[0], 50, 2) * (data.train_counts > 0)
    fit = tower.fit_prior(features, counts)
    assert fit.scale > 0
    offsets = item_embeddings(trained.model, data.catalogue).offsets
    warm = data.train_counts > 0
    assert (offsets[warm] == 0).all()
    assert np.ptp(offsets[~warm]) > 0
    same_first = first[~warm] == first[0]
    assert offsets[~warm][same_first].mean() > offsets[~warm][~same_first].mean()


@pytest.mark.parametrize("disabled", [[], ["text"], ["categorical"], ["numeric"]])
def test_prior_reads_only_enabled_modalities(tiny_run, disabled):
    """An ablated modality says nothing to the prior either; every other group has valid tokens."""
    config = RunConfig()
    config.model.disabled_modalities = disabled
    model, _ = build_model(tiny_run["features"], config.model, config.extract, config.train)
    features = readers.load_catalogue(tiny_run["features"]).take(np.arange(20))
    groups = model.item_tower.prior_inputs({k: tf.constant(v) for k, v in features.items()})
    assert model.item_tower.content_prior.group_sizes[2] == model.item_tower.num_numeric * NUMERIC_BUCKETS
    for name, (_, valid) in zip(["text", "categorical", "numeric"], groups):
        assert valid.numpy().any() == (name not in disabled), name
