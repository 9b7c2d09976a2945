"""The built-in image descriptors: their parts and ranges, on pictures whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
from braidrec.features import contract
from braidrec.pipeline import image_features

HISTOGRAM, LAYOUT, ORIENTATION = slice(0, 64), slice(64, 112), slice(112, 120)
QUANTILES = slice(120, contract.IMAGE_QUANTILES_DIM)


def _solid(rgb, size=(24, 16)) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (*size, 3)).copy()


def _noisy_picture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (20, 28, 3)).astype(np.uint8)
    pixels[5:12, 4:20] = (200, 30, 40)
    return pixels


def test_descriptor_parts_cover_the_whole_vector():
    assert ORIENTATION.stop == contract.IMAGE_DESCRIPTOR_DIM


@pytest.mark.parametrize("pixels", [_solid((250, 246, 230)), _noisy_picture(0), _noisy_picture(1)],
                         ids=["solid", "noise-0", "noise-1"])
def test_descriptor_parts_have_their_ranges(pixels):
    out = image_features.descriptor(pixels)

    assert out.shape == (contract.IMAGE_DESCRIPTOR_DIM,) and out.dtype == np.float32
    assert out[HISTOGRAM].sum() == pytest.approx(1.0)
    assert np.all((out[LAYOUT] >= 0) & (out[LAYOUT] <= 1))
    assert out[ORIENTATION].sum() == pytest.approx(1.0 if pixels.mean(axis=2).std() > 0 else 0.0)


def test_descriptor_of_a_solid_colour_is_exact():
    out = image_features.descriptor(_solid((255, 0, 128)))

    assert out[HISTOGRAM][3 * 16 + 0 * 4 + 2] == pytest.approx(1.0)
    np.testing.assert_allclose(out[LAYOUT].reshape(16, 3), np.tile([1.0, 0.0, 128 / 255], (16, 1)), atol=1e-6)
    assert out[ORIENTATION].sum() == 0, "a flat image has no gradient to histogram"


def test_layout_places_colour_where_it_is_and_orientation_follows_edges():
    # Left half black, right half white: one vertical edge, so the gradient points along x.
    pixels = np.zeros((16, 16, 3), np.uint8)
    pixels[:, 8:] = 255

    out = image_features.descriptor(pixels)

    grid = out[LAYOUT].reshape(4, 4, 3).mean(axis=2)
    np.testing.assert_allclose(grid[:, :2], 0.0, atol=1e-6)
    np.testing.assert_allclose(grid[:, 2:], 1.0, atol=1e-6)
    assert out[HISTOGRAM][0] == pytest.approx(0.5) and out[HISTOGRAM][63] == pytest.approx(0.5)
    assert out[ORIENTATION][0] == pytest.approx(1.0), "a horizontal gradient falls in the first orientation bin"


@pytest.mark.parametrize("pixels", [_solid((250, 246, 230)), _noisy_picture(0)], ids=["solid", "noise"])
def test_quantiles_extend_the_descriptor_and_rise_with_the_percentile(pixels):
    plain, extended = image_features.descriptor(pixels), image_features.descriptor(pixels, quantiles=True)

    assert extended.shape == (contract.IMAGE_QUANTILES_DIM,) and extended.dtype == np.float32
    np.testing.assert_array_equal(extended[:contract.IMAGE_DESCRIPTOR_DIM], plain)
    quantiles = extended[QUANTILES].reshape(len(contract.IMAGE_QUANTILES), 3)
    assert np.all((quantiles >= 0) & (quantiles <= 1))
    assert np.all(np.diff(quantiles, axis=0) >= 0)


def test_quantiles_tell_apart_light_shades_the_histogram_lumps_together():
    # Ivory and mint backdrops behind the same dark motif: every pixel of both falls in the
    # same histogram bins; only the quantiles (and, blurred by the motif, the grid means) differ.
    ivory, mint = _solid((250, 246, 230), (32, 32)), _solid((210, 245, 220), (32, 32))
    for pixels in (ivory, mint):
        pixels[10:22, 10:22] = (20, 30, 110)

    a, b = (image_features.descriptor(p, quantiles=True) for p in (ivory, mint))

    np.testing.assert_array_equal(a[HISTOGRAM], b[HISTOGRAM])
    red_90th = a[QUANTILES].reshape(-1, 3)[-1, 0] - b[QUANTILES].reshape(-1, 3)[-1, 0]
    assert red_90th == pytest.approx(40 / 255, abs=1e-6)
