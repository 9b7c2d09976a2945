"""Pluggable item encoders, each a Beam RunInference ``ModelHandler`` that works on batches.

- image ``descriptor`` (default): the built-in, weight-free colour/layout/texture descriptor
  of the thumbnail (``image_features.descriptor``);
- image PATH: any TF SavedModel directory or Keras ``.keras``/``.h5`` file taking
  float32 RGB pixels in [0, 255] of shape [batch, H, W, 3] (put the model's own
  preprocessing, e.g. a ``Rescaling`` layer, inside the model); its output, flattened, is the vector;
- text ``minilm`` or a model directory: the pretrained sentence encoder of ``text_encoder``.

:func:`describe_encoders` resolves the configuration once, in the launching process,
into the plain dict stored as ``vocab/encoders.json`` (names, dimensions, input size
and a signature that keys the extraction cache).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from braidrec.config import ExtractConfig
from braidrec.pipeline import image_features, text_encoder

DESCRIPTOR = "descriptor"
DESCRIPTOR_QUANTILES = "descriptor_quantiles"
# The built-in image encoders (no weights): name -> whether the descriptor adds colour quantiles.
BUILT_IN_IMAGE = {DESCRIPTOR: False, DESCRIPTOR_QUANTILES: True}
NO_TEXT = "none"


class EncoderConfigError(ValueError):
    """``extract.image_encoder`` / ``extract.text_encoder`` names something that cannot be used."""


def _files_signature(path: Path) -> str:
    """Digest of a model's files (names, sizes, content) so a changed model invalidates the cache."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _load_keras_or_savedmodel(path: str):
    """(callable on a float32 batch, input height, input width) for a model path."""
    import braidrec  # noqa: F401  (Keras 2 before TensorFlow, on every worker)
    import tensorflow as tf

    if Path(path).is_dir() and (Path(path) / "saved_model.pb").is_file() and not (Path(path) / "keras_metadata.pb").is_file():
        loaded = tf.saved_model.load(path)
        signature = loaded.signatures["serving_default"]
        (spec,) = signature.structured_input_signature[1].values()

        def call(batch):
            (output,) = signature(tf.constant(batch)).values()
            return output.numpy()

        # Keep the loaded object alive with the signature (its variables belong to it).
        call.loaded = loaded
        return call, spec.shape[1], spec.shape[2]
    model = tf.keras.models.load_model(path, compile=False)
    shape = model.input_shape

    def call(batch):
        return np.asarray(model(tf.constant(batch), training=False))

    call.model = model
    return call, shape[1], shape[2]


def describe_encoders(config: ExtractConfig) -> dict:
    """The encoders ``config`` selects, resolved to names, dimensions and cache signatures.

    Args:
        config: the extraction settings (``image_encoder``, ``text_encoder``, ``image_size``).

    Returns:
        ``{"image": {"name", "dim", "input_size", "signature"}, "text": {...} or None}``.

    Raises:
        EncoderConfigError: when a model path does not exist, has no fixed input size,
            or a text model folder is incomplete.
    """
    if config.image_encoder in BUILT_IN_IMAGE:
        dim = image_features.descriptor_dim(BUILT_IN_IMAGE[config.image_encoder])
        image = {"name": config.image_encoder, "dim": dim, "input_size": [config.image_size, config.image_size],
                 "signature": f"{config.image_encoder}-v1-{config.image_size}"}
    else:
        path = Path(config.image_encoder)
        if not path.exists():
            raise EncoderConfigError(f"extract.image_encoder: {path} does not exist; use 'descriptor', "
                                     "'descriptor_quantiles' or the path of a SavedModel directory or a .keras/.h5 file")
        call, height, width = _load_keras_or_savedmodel(str(path))
        if not height or not width:
            raise EncoderConfigError(f"extract.image_encoder: {path} has no fixed input height/width; "
                                     "save it with an input shape like (224, 224, 3)")
        dim = int(np.prod(call(np.zeros((1, height, width, 3), np.float32)).shape[1:]))
        image = {"name": str(path.resolve()), "dim": dim, "input_size": [int(height), int(width)],
                 "signature": f"model-{_files_signature(path)}-{config.image_size}"}
    text = None
    if config.text_encoder != NO_TEXT:
        try:
            directory, expected = text_encoder.resolve_model_dir(config.text_encoder)
        except text_encoder.TextEncoderError as err:
            raise EncoderConfigError(f"extract.text_encoder: {err}") from err
        import json

        dim = int(json.loads((directory / "config.json").read_text())["hidden_size"])
        text = {"name": config.text_encoder, "dim": dim, "model_dir": str(directory),
                "sha256": expected, "signature": f"text-{_files_signature(directory / text_encoder.WEIGHTS)}"}
    return {"image": image, "text": text}


class _BatchHandler(ModelHandler):
    """Shared batching settings; subclasses load a model and map a batch to vectors."""

    def __init__(self, batch_size: int):
        super().__init__()
        self._batch_size = batch_size

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self._batch_size}


class DescriptorHandler(_BatchHandler):
    """uint8 thumbnails [H, W, 3] -> the built-in descriptor (no model to load); ``quantiles`` adds the colour quantiles."""

    def __init__(self, batch_size: int, quantiles: bool = False):
        super().__init__(batch_size)
        self._quantiles = quantiles

    def load_model(self):
        return None

    def run_inference(self, batch: Sequence[np.ndarray], model, inference_args=None) -> Iterable[PredictionResult]:
        for pixels in batch:
            yield PredictionResult(None, image_features.descriptor(pixels, self._quantiles))


class ImageModelHandler(_BatchHandler):
    """float32 pixels [H, W, 3] in [0, 255] -> the flattened output of a SavedModel / Keras model."""

    def __init__(self, path: str, batch_size: int):
        super().__init__(batch_size)
        self._path = path

    def load_model(self):
        return _load_keras_or_savedmodel(self._path)[0]

    def run_inference(self, batch: Sequence[np.ndarray], model, inference_args=None) -> Iterable[PredictionResult]:
        outputs = model(np.stack(batch).astype(np.float32))
        for row in outputs.reshape(len(batch), -1):
            yield PredictionResult(None, row.astype(np.float32))


class TextModelHandler(_BatchHandler):
    """Item texts -> pretrained sentence embeddings."""

    def __init__(self, model_dir: str, sha256: str | None, batch_size: int):
        super().__init__(batch_size)
        self._model_dir = model_dir
        self._sha256 = sha256

    def load_model(self):
        return text_encoder.SentenceEncoder(self._model_dir, self._sha256)

    def run_inference(self, batch: Sequence[str], model, inference_args=None) -> Iterable[PredictionResult]:
        for vector in model.encode(list(batch)):
            yield PredictionResult(None, vector)


def image_handler(info: dict, batch_size: int) -> ModelHandler:
    """The RunInference handler of ``describe_encoders(...)["image"]``."""
    if info["name"] in BUILT_IN_IMAGE:
        return DescriptorHandler(batch_size, BUILT_IN_IMAGE[info["name"]])
    return ImageModelHandler(info["name"], batch_size)


def text_handler(info: dict, batch_size: int) -> ModelHandler:
    """The RunInference handler of ``describe_encoders(...)["text"]``."""
    return TextModelHandler(info["model_dir"], info.get("sha256"), batch_size)
