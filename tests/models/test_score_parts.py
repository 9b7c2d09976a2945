"""The split of item embeddings (and so of scores) into per-modality parts."""

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf

from braidrec.models.evaluate import item_embeddings
from braidrec.models.score_parts import drivers, modality_parts
from tests.conftest import untrained_model


def _randomise_biases(model):
    # Fresh biases are zero; a bias part of zero would let a wrong bias term pass.
    rng = np.random.default_rng(0)
    layers = [model.item_tower.output_projection]
    if model.item_tower.fusion.mode == "concat":
        layers.append(model.item_tower.fusion.projection)
    for layer in layers:
        layer.bias.assign(rng.normal(0, 0.3, layer.bias.shape).astype(np.float32))


@pytest.mark.parametrize("scoring", ["cosine", "dot"])
@pytest.mark.parametrize("fusion", ["attention", "sum", "concat"])
def test_parts_add_up_to_the_embedding(tiny_run, catalogue, fusion, scoring):
    model = untrained_model(tiny_run, fusion=fusion, scoring=scoring, cold_fusion_temperature=2.0)
    item_embeddings(model, catalogue)  # builds the layers
    _randomise_biases(model)
    items = item_embeddings(model, catalogue)
    split = item_embeddings(model, catalogue, batch_size=64, with_parts=True).parts
    parts, bias = split.parts, split.bias_parts
    assert parts.shape == (len(catalogue), len(model.item_tower.modalities), 16)
    np.testing.assert_allclose(parts.sum(axis=1) + bias, items.embeddings, atol=2e-5)
    # Each part is that modality's own: an absent modality contributes nothing.
    absent = items.weights == 0
    if fusion != "concat":
        assert not parts[absent].any()


def test_an_item_of_one_modality_is_all_that_modality(tiny_run, catalogue):
    model = untrained_model(tiny_run)
    features = {k: tf.constant(v) for k, v in catalogue.take(np.arange(4)).items()}
    out = {k: v.numpy() for k, v in model.item_tower.encode_all(features, training=False).items()}
    text = model.item_tower.modalities.index("text")
    out["mask"][:] = False
    out["mask"][:, text] = True
    out["weights"][:] = 0.0
    out["weights"][:, text] = 1.0
    split = modality_parts(model.item_tower, out)
    parts, bias = split.parts, split.bias_parts
    others = np.delete(parts, text, axis=1)
    assert not others.any()
    assert np.abs(parts[:, text]).sum() > 0
    # The text part and the bias part together make a unit vector (the cosine head).
    np.testing.assert_allclose(np.linalg.norm(parts[:, text] + bias, axis=1), 1.0, atol=1e-5)


def test_drivers_are_the_largest_contribution_among_present_modalities():
    contributions = np.array([[0.1, 0.5, -0.2], [-0.3, 0.0, -0.1], [0.0, -0.5, 0.0]])
    parts = np.ones((3, 3, 2))
    parts[1, 1] = 0.0  # row 1 lacks modality 1: its zero must not beat the present -0.1
    parts[2, [0, 2]] = 0.0  # row 2 has only modality 1
    assert drivers(contributions, parts).tolist() == [1, 2, 1]
    assert drivers(contributions[:1], np.zeros((1, 3, 2))).tolist() == [-1]
