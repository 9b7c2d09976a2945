"""Modality encoders: training-time augmentation acts in training only, on the rows asked for;
the image descriptor's standardisation."""

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf

from braidrec.features import contract
from braidrec.models import encoders

WORDS = ["red", "circle", "blue", "square", "stripes", "dots"]
ROWS = 64
SIZE = 8


def _text(rate: float):
    layer = encoders.TextEncoder(WORDS, token_dim=8, dim=4, token_dropout=rate)
    return layer, layer.tokenize(tf.constant(["red circle blue square stripes dots"] * ROWS))


def _descriptor(rate: float):
    layer = encoders.ImageEncoder("descriptor", dim=4, thumbnail_size=SIZE, noise=rate)
    vectors = np.random.default_rng(0).random((ROWS, contract.IMAGE_DESCRIPTOR_DIM)).astype(np.float32)
    return layer, {contract.IMAGE: tf.constant(vectors), contract.HAS_IMAGE: tf.ones([ROWS], tf.int64)}


def _descriptor_catalogue(rate: float):
    layer, inputs = _descriptor(rate)
    layer = encoders.ImageEncoder("descriptor", dim=4, thumbnail_size=SIZE, noise=rate, normalization="catalogue")
    layer.set_statistics(inputs[contract.IMAGE].numpy())
    return layer, inputs


def _cnn(rate: float):
    layer = encoders.ImageEncoder("cnn", dim=4, thumbnail_size=SIZE, noise=rate)
    pixels = np.random.default_rng(0).integers(0, 256, (SIZE * SIZE * 3,), dtype=np.uint8).tobytes()
    return layer, {contract.THUMBNAIL: tf.constant([pixels] * ROWS), contract.HAS_IMAGE: tf.ones([ROWS], tf.int64)}


ENCODERS = pytest.mark.parametrize("make", [_text, _descriptor, _descriptor_catalogue, _cnn],
                                   ids=["text", "descriptor", "descriptor_catalogue", "cnn"])


@ENCODERS
def test_augmentation_changes_training_outputs_only(make):
    tf.keras.utils.set_random_seed(0)
    layer, inputs = make(0.5)
    served, present = layer(inputs, training=False)
    np.testing.assert_array_equal(served.numpy(), layer(inputs, training=False)[0].numpy())
    first, second = layer(inputs, training=True)[0].numpy(), layer(inputs, training=True)[0].numpy()
    # Every row is the same item, so augmentation shows as rows that differ from the served one and each other.
    assert not np.allclose(first, served.numpy(), atol=1e-6)
    assert not np.allclose(first, second, atol=1e-6)
    assert np.asarray(present).all()


@ENCODERS
def test_only_the_chosen_rows_are_augmented(make):
    tf.keras.utils.set_random_seed(0)
    layer, inputs = make(0.5)
    served = layer(inputs, training=False)[0].numpy()
    rows = np.arange(ROWS) % 2 == 0
    trained = layer(inputs, training=True, rows=tf.constant(rows))[0].numpy()
    np.testing.assert_allclose(trained[~rows], served[~rows], atol=1e-6)
    assert not np.allclose(trained[rows], served[rows], atol=1e-6)


@ENCODERS
def test_no_augmentation_trains_on_what_is_served(make):
    layer, inputs = make(0.0)
    np.testing.assert_allclose(layer(inputs, training=True)[0].numpy(), layer(inputs, training=False)[0].numpy(), atol=1e-6)


def test_text_dropout_keeps_each_token_at_the_rate():
    tf.keras.utils.set_random_seed(1)
    layer, tokens = _text(0.3)
    layer(tokens)  # builds the layer
    masks = []
    original = layer.pool.call

    def spy(sequence, mask, index=None):
        masks.append(mask.numpy())
        return original(sequence, mask, index=index)

    layer.pool.call = spy
    layer(tokens, training=True)
    kept = masks[-1][:, : len(WORDS)].mean()
    assert 0.6 < kept < 0.8, f"kept {kept:.2f} of the tokens at a 0.3 drop rate"


@pytest.mark.parametrize("make, message", [
    (lambda: encoders.TextEncoder(WORDS, 8, 4, token_dropout=1.0), "text_token_dropout"),
    (lambda: encoders.ImageEncoder("descriptor", 4, SIZE, noise=-0.1), "image_noise"),
    (lambda: encoders.ImageEncoder("descriptor", 4, SIZE, normalization="batch"), "image_normalization"),
    (lambda: encoders.ImageEncoder("descriptor", 4, SIZE, normalization="catalogue", clip=-1.0), "image_clip"),
    (lambda: encoders.ImageEncoder("descriptor", 4, SIZE, normalization="item", clip=5.0), "image_normalization catalogue"),
    (lambda: encoders.ImageEncoder("cnn", 4, SIZE, normalization="catalogue"), "image_encoder descriptor"),
])
def test_bad_encoder_settings_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_catalogue_without_pictures_keeps_the_identity_statistics():
    """A catalogue with no image trains with catalogue standardisation: there is nothing to standardise."""
    layer = encoders.ImageEncoder("descriptor", 4, SIZE, normalization="catalogue")
    layer.set_statistics(np.zeros((0, contract.IMAGE_DESCRIPTOR_DIM), np.float32))
    assert np.all(layer.feature_mean.numpy() == 0.0) and np.all(layer.feature_std.numpy() == 1.0)


def _outputs(layer, images: np.ndarray) -> np.ndarray:
    features = {contract.IMAGE: tf.constant(images), contract.HAS_IMAGE: tf.ones([len(images)], tf.int64)}
    return layer(features)[0].numpy()


@pytest.mark.parametrize("normalization, invariant", [("catalogue", True), ("item", False)])
def test_catalogue_standardisation_reads_each_feature_on_the_catalogues_scale(normalization, invariant):
    """Rescaling and shifting one feature across the whole catalogue changes nothing after catalogue
    standardisation (the stored means and spreads follow it), while per-item standardisation mixes
    that feature's new scale into every item's."""
    tf.keras.utils.set_random_seed(0)
    images = np.random.default_rng(1).random((ROWS, contract.IMAGE_DESCRIPTOR_DIM)).astype(np.float32)
    images[:, 5] = 0.0  # a feature constant over the catalogue (an empty histogram bin)
    layer = encoders.ImageEncoder("descriptor", dim=4, thumbnail_size=SIZE, normalization=normalization)
    layer.set_statistics(images)
    before = _outputs(layer, images)
    assert np.isfinite(before).all()
    moved = images.copy()
    moved[:, 7] = moved[:, 7] * 50.0 + 3.0
    layer.set_statistics(moved)
    after = _outputs(layer, moved)
    assert np.allclose(before, after, atol=1e-4) == invariant


@pytest.mark.parametrize("clip", [0.0, 5.0])
def test_clipping_caps_a_rare_feature_at_clip_spreads(clip):
    tf.keras.utils.set_random_seed(0)
    images = np.random.default_rng(2).random((ROWS, contract.IMAGE_DESCRIPTOR_DIM)).astype(np.float32)
    layer = encoders.ImageEncoder("descriptor", dim=4, thumbnail_size=SIZE, normalization="catalogue", clip=clip)
    layer.set_statistics(images)
    mean, spread = layer.feature_mean.numpy()[3], layer.feature_std.numpy()[3]
    far, at_five = images[:1].copy(), images[:1].copy()
    far[0, 3], at_five[0, 3] = mean + 40 * spread, mean + 5 * spread
    same = np.allclose(_outputs(layer, far), _outputs(layer, at_five), atol=1e-5)
    assert same == (clip == 5.0)
