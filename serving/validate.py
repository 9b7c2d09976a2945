"""Request checks shared by the REST and gRPC front ends: names, dtypes, batch and k limits.

Both front ends turn a request into NumPy inputs, then call :func:`check_inputs`
before anything reaches TensorFlow, so a bad request is answered with
INVALID_ARGUMENT and a message naming the input, and the server keeps serving.
"""

from __future__ import annotations

import dataclasses

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2

from braidrec.serving.store import ServingError

# Inputs that are lists of ids rather than a batch: bounded by the body size, not max_batch.
UNBATCHED_INPUTS = frozenset({"candidates"})
# Inputs whose second dimension is items per user (the explain signatures'): bounded by max_k.
ITEMS_PER_USER_INPUTS = frozenset({"item_ids"})


@dataclasses.dataclass
class Limits:
    """Per-request bounds (``--serve.max_batch``, ``--serve.max_k``)."""

    max_batch: int = 1024
    max_k: int = 1000


def numpy_dtype(info: meta_graph_pb2.TensorInfo) -> np.dtype:
    """The NumPy dtype of a signature input (``object`` for strings)."""
    dtype = tf.dtypes.as_dtype(info.dtype)
    return np.dtype(object) if dtype == tf.string else np.dtype(dtype.as_numpy_dtype)


def _compatible(value: np.ndarray, expected: np.dtype) -> bool:
    if expected == np.dtype(object):
        return value.dtype == object and all(isinstance(v, bytes) for v in value.ravel())
    if np.issubdtype(expected, np.integer):
        return np.issubdtype(value.dtype, np.integer)
    if np.issubdtype(expected, np.floating):
        return np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)
    return value.dtype == expected


def check_inputs(signature_name: str, signature: meta_graph_pb2.SignatureDef, inputs: dict[str, np.ndarray], limits: Limits) -> dict[str, np.ndarray]:
    """Validates ``inputs`` against ``signature`` and casts them to its dtypes.

    Args:
        signature_name: for messages.
        signature: the SignatureDef being called.
        inputs: input name -> array (strings as ``bytes`` objects).
        limits: batch and k bounds.

    Returns:
        The inputs cast to the signature's dtypes.

    Raises:
        ServingError: INVALID_ARGUMENT naming the missing/unknown input, the
            dtype expected, or the limit exceeded.
    """
    expected = set(signature.inputs)
    if set(inputs) != expected:
        missing, extra = sorted(expected - set(inputs)), sorted(set(inputs) - expected)
        raise ServingError(
            "INVALID_ARGUMENT",
            f"signature {signature_name}: expects inputs {sorted(expected)}; missing {missing}, unexpected {extra}",
        )
    out = {}
    for name, value in inputs.items():
        info = signature.inputs[name]
        dtype = numpy_dtype(info)
        if not _compatible(value, dtype):
            kind = "string" if dtype == np.dtype(object) else dtype.name
            raise ServingError("INVALID_ARGUMENT", f"signature {signature_name}: input '{name}' must be {kind}, got {value.dtype.name} values")
        rank = len(info.tensor_shape.dim)
        if value.ndim != rank:
            raise ServingError("INVALID_ARGUMENT", f"signature {signature_name}: input '{name}' must have rank {rank}, got shape {list(value.shape)}")
        if rank and name not in UNBATCHED_INPUTS and value.shape[0] > limits.max_batch:
            raise ServingError("INVALID_ARGUMENT", f"input '{name}': batch of {value.shape[0]} exceeds the limit {limits.max_batch} (--serve.max_batch)")
        if name in ITEMS_PER_USER_INPUTS and rank == 2 and value.shape[1] > limits.max_k:
            raise ServingError("INVALID_ARGUMENT", f"input '{name}': {value.shape[1]} items per user exceed the limit {limits.max_k} (--serve.max_k)")
        if name == "k" and (np.any(value > limits.max_k) or np.any(value < 1)):
            raise ServingError("INVALID_ARGUMENT", f"input 'k' = {value.tolist()} must be between 1 and {limits.max_k} (--serve.max_k)")
        out[name] = value if dtype == np.dtype(object) else value.astype(dtype)
    return out
