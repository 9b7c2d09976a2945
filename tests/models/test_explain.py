"""The split of item embeddings (and so of scores) into per-modality parts."""

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf

from braidrec.config import ExtractConfig, ModelConfig, TrainConfig
from braidrec.features import contract, readers
from braidrec.models.evaluate import EvalData, item_embeddings
from braidrec.models.explain import catalogue_parts, driver_report, drivers, modality_parts
from braidrec.models.mixed_ranking import mixed_task
from braidrec.models.two_tower import BraidModel


@pytest.fixture(scope="module")
def catalogue(tiny_run):
    return readers.load_catalogue(tiny_run["features"])


def _model(tiny_run, **model_changes):
    vocab = contract.Vocabularies.load(tiny_run["features"])
    model = BraidModel(vocab, ModelConfig(embedding_dim=16, **model_changes), ExtractConfig(max_history=6), TrainConfig())
    return model


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
    model = _model(tiny_run, fusion=fusion, scoring=scoring, cold_fusion_temperature=2.0)
    item_embeddings(model, catalogue)  # builds the layers
    _randomise_biases(model)
    items = item_embeddings(model, catalogue)
    split = catalogue_parts(model.item_tower, catalogue, batch_size=64)
    parts, bias = split.parts, split.bias_parts
    assert parts.shape == (len(catalogue), len(model.item_tower.modalities), 16)
    np.testing.assert_allclose(parts.sum(axis=1) + bias, items.embeddings, atol=2e-5)
    # Each part is that modality's own: an absent modality contributes nothing.
    absent = items.weights == 0
    if fusion != "concat":
        assert not parts[absent].any()


def test_an_item_of_one_modality_is_all_that_modality(tiny_run, catalogue):
    model = _model(tiny_run)
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


def test_driver_report_counts_every_top_slot_and_only_present_modalities(tiny_run, catalogue):
    model = _model(tiny_run, disabled_modalities=["image", "categorical", "numeric"])
    data = EvalData.load(tiny_run["features"])
    items = item_embeddings(model, data.catalogue)
    report = driver_report(model, data, items, k=5)
    assert report["slots"]["all"] == 5 * len(mixed_task(data, contract.SPLIT_TEST).relevant)
    assert report["slots"]["all"] == report["slots"]["with_id"] + report["slots"]["without_id"]
    for name in ("all", "with_id", "without_id"):
        assert sum(report[name].values()) == pytest.approx(1.0)
        assert report[name]["image"] == report[name]["categorical"] == report[name]["numeric"] == 0.0
    # Items without a trained id have text alone here (the tiny catalogue's items all have text or
    # nothing), so text drives every one of their slots.
    if report["slots"]["without_id"]:
        assert report["without_id"]["text"] == 1.0
