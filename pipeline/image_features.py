"""Image decoding and the built-in, weight-free image features.

Pure functions over bytes, so the Beam job, the benchmarks and the tests share
them. The descriptor needs no downloaded weights: a joint colour histogram, a
coarse colour layout and a gradient-orientation histogram, which together
capture colour, composition and texture; optionally per-channel colour
quantiles, which tell apart the shades the coarse histogram lumps together.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from braidrec.features import contract


class ImageDecodeError(ValueError):
    """The bytes are not an image PIL can decode (corrupt, truncated, or another format)."""


def decode_image(data: bytes) -> Image.Image:
    """Decodes JPEG/PNG/GIF/WebP bytes into an RGB image.

    Grayscale and CMYK are converted; transparent pixels are composited on white
    so that a logo on alpha does not turn black.

    Raises:
        ImageDecodeError: when the bytes cannot be decoded.
    """
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageDecodeError(f"cannot decode image: {err}") from err
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def thumbnail(image: Image.Image, size: int | tuple[int, int]) -> np.ndarray:
    """Resizes preserving aspect ratio and pads with white to ``size`` (an int means square).

    Args:
        image: an RGB image.
        size: ``n`` for n x n, or ``(height, width)``.

    Returns:
        uint8 array [height, width, 3]. Unlike ``Image.thumbnail`` this also enlarges
        small images, so a 92x138 poster fills a 224x224 model input.
    """
    height, width = (size, size) if isinstance(size, int) else size
    scale = min(width / image.width, height / image.height)
    resized = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                           Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    canvas.paste(resized, ((width - resized.width) // 2, (height - resized.height) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def descriptor_dim(quantiles: bool) -> int:
    """The length of :func:`descriptor`'s vector, with or without the colour quantiles."""
    return contract.IMAGE_QUANTILES_DIM if quantiles else contract.IMAGE_DESCRIPTOR_DIM


def descriptor(pixels: np.ndarray, quantiles: bool = False) -> np.ndarray:
    """The fixed image descriptor of an RGB thumbnail.

    Args:
        pixels: uint8 array [H, W, 3].
        quantiles: also the ``contract.IMAGE_QUANTILES`` percentiles of each colour
            channel (``extract.image_encoder descriptor_quantiles``).

    Returns:
        float32 vector of length ``contract.IMAGE_DESCRIPTOR_DIM`` (``IMAGE_QUANTILES_DIM``
        with quantiles): a 4x4x4 joint RGB histogram (sums to 1), the mean colour of a
        4x4 grid (in [0, 1]), an 8-bin gradient-orientation histogram weighted by
        magnitude (sums to 1), then the quantiles (in [0, 1]; r, g, b per percentile).
    """
    rgb = pixels.astype(np.float32) / 255.0
    bins = np.minimum((rgb * 4).astype(np.int32), 3)
    joint = bins[..., 0] * 16 + bins[..., 1] * 4 + bins[..., 2]
    histogram = np.bincount(joint.ravel(), minlength=64).astype(np.float32)
    histogram /= histogram.sum()

    height, width, _ = rgb.shape
    rows = np.array_split(np.arange(height), 4)
    cols = np.array_split(np.arange(width), 4)
    layout = np.array([rgb[r][:, c].mean(axis=(0, 1)) for r in rows for c in cols], dtype=np.float32).ravel()

    gray = rgb.mean(axis=2)
    dy, dx = np.gradient(gray)
    magnitude = np.hypot(dx, dy)
    angle = (np.arctan2(dy, dx) % np.pi) / np.pi
    orientation = np.bincount(
        np.minimum((angle * 8).astype(np.int32), 7).ravel(), weights=magnitude.ravel(), minlength=8
    ).astype(np.float32)
    orientation /= max(float(orientation.sum()), 1e-6)

    parts = [histogram, layout, orientation]
    if quantiles:
        # Four levels per channel put every light shade (ivory, mint, sky...) in one histogram
        # bin, and the grid means blend backdrop with foreground; a cumulative histogram
        # (Stricker & Orengo, 1995) keeps them apart.
        parts.append(np.percentile(rgb.reshape(-1, 3), contract.IMAGE_QUANTILES, axis=0).astype(np.float32).ravel())
    out = np.concatenate(parts)
    assert out.shape == (descriptor_dim(quantiles),)
    return out


def image_features(data: bytes, size: int) -> tuple[np.ndarray, bytes]:
    """Decodes image bytes into (descriptor, thumbnail bytes).

    Raises:
        ImageDecodeError: when the bytes cannot be decoded.
    """
    pixels = thumbnail(decode_image(data), size)
    return descriptor(pixels), pixels.tobytes()
