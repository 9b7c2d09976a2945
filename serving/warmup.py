"""TF Serving warm-up requests: ``assets.extra/tf_serving_warmup_requests``.

TF Serving replays this TFRecord file of ``PredictionLog`` protos when it loads
a version, before marking it available, so the first real request does not
pay for graph initialisation. One request per signature is written; the
fallback server (:mod:`braidrec.serving.store`) replays the same file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"


def predict_log(model_name: str, signature: str, inputs: dict[str, np.ndarray]) -> prediction_log_pb2.PredictionLog:
    """A ``PredictionLog`` holding one ``PredictRequest`` for ``signature``."""
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def write_warmup(version_dir: str | Path, model_name: str, requests: dict[str, dict[str, np.ndarray]]) -> Path:
    """Writes one warm-up request per signature into ``version_dir/assets.extra``.

    Args:
        version_dir: the (not yet renamed) SavedModel directory.
        model_name: the served model name.
        requests: signature name -> input name -> example value.

    Returns:
        The warm-up file's path.
    """
    path = Path(version_dir) / WARMUP_DIR / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, inputs in requests.items():
            writer.write(predict_log(model_name, signature, inputs).SerializeToString())
    return path


def read_warmup(version_dir: str | Path) -> list[predict_pb2.PredictRequest]:
    """The ``PredictRequest`` protos of a version's warm-up file (empty if it has none)."""
    path = Path(version_dir) / WARMUP_DIR / WARMUP_FILE
    if not path.is_file():
        return []
    out = []
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        if log.WhichOneof("log_type") != "predict_log":
            raise ValueError(f"{path}: only predict_log warm-up records are supported, found {log.WhichOneof('log_type')}")
        out.append(log.predict_log.request)
    return out
