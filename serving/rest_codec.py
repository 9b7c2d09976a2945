"""TF Serving's REST JSON <-> NumPy, following its documented request and response shapes.

Request: ``{"signature_name": S, "instances": [...]}`` (row format: one entry
per example, an object of named inputs or a bare value when the signature has
one input) or ``{"inputs": ...}`` (columnar: an object of named batched
inputs, or a bare value). Binary strings may be sent as ``{"b64": "..."}``.
Response: row -> ``{"predictions": [...]}``, columnar -> ``{"outputs": ...}``;
with one output the name is omitted, as TF Serving does.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

from braidrec.serving.store import ServingError


def _bad(message: str) -> ServingError:
    return ServingError("INVALID_ARGUMENT", message)


def _leaf(value):
    if isinstance(value, list):
        return [_leaf(v) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise _bad(f"an object inside a tensor value must be {{\"b64\": \"...\"}}, got keys {sorted(value)}")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except binascii.Error as err:
            raise _bad(f"invalid base64 in {{\"b64\": ...}}: {err}") from err
    if value is None:
        raise _bad("null is not a tensor value")
    return value


def to_array(name: str, value) -> np.ndarray:
    """A JSON tensor value -> array (strings as ``bytes`` objects, numbers as int64/float64).

    Raises:
        ServingError: ragged nesting, nulls, malformed b64 objects or mixed strings and numbers.
    """
    value = _leaf(value)
    try:
        arr = np.array(value, dtype=object)
    except ValueError as err:
        raise _bad(f"input '{name}': rows must all have the same length (pad string rows with '')") from err
    flat = arr.ravel()
    if any(isinstance(v, list) for v in flat):
        raise _bad(f"input '{name}': rows must all have the same length (pad string rows with '')")
    if any(isinstance(v, bytes) for v in flat):
        if not all(isinstance(v, bytes) for v in flat):
            raise _bad(f"input '{name}': mixes strings and numbers")
        return arr
    if any(isinstance(v, bool) for v in flat):
        return arr.astype(bool)
    return np.array(arr.tolist()) if arr.size else np.zeros(arr.shape, np.float32)


def decode_request(body: object, input_names: list[str]) -> tuple[str, dict[str, np.ndarray], bool]:
    """(signature name, inputs, row format?) of a parsed predict request body.

    Raises:
        ServingError: INVALID_ARGUMENT for any shape TF Serving would refuse.
    """
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object with \"instances\" or \"inputs\"")
    signature = body.get("signature_name", "")
    if not isinstance(signature, str):
        raise _bad("\"signature_name\" must be a string")
    if ("instances" in body) == ("inputs" in body):
        raise _bad("request must have exactly one of \"instances\" (row format) or \"inputs\" (columnar format)")
    if "inputs" in body:
        columns = body["inputs"]
        if not (isinstance(columns, dict) and set(columns) - {"b64"}):
            columns = {input_names[0]: columns} if len(input_names) == 1 else columns
        if not isinstance(columns, dict):
            raise _bad(f"\"inputs\" must name the signature's inputs {input_names}")
        return signature, {k: to_array(k, v) for k, v in columns.items()}, False
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise _bad("\"instances\" must be a non-empty list")
    named = all(isinstance(i, dict) and set(i) != {"b64"} for i in instances)
    if not named:
        if len(input_names) != 1:
            raise _bad(f"\"instances\" must be objects naming the inputs {input_names}")
        return signature, {input_names[0]: to_array(input_names[0], instances)}, True
    keys = set(instances[0])
    if any(set(i) != keys for i in instances):
        raise _bad("every instance must name the same inputs")
    return signature, {k: to_array(k, [i[k] for i in instances]) for k in keys}, True


def _jsonable(value):
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    return value


def encode_response(outputs: dict[str, np.ndarray], row_format: bool) -> dict:
    """``{"predictions": ...}`` (row) or ``{"outputs": ...}`` (columnar) for the outputs.

    Raises:
        ServingError: row format with outputs of different batch sizes (TF Serving's rule).
    """
    lists = {k: _jsonable(v.tolist()) for k, v in outputs.items()}
    if not row_format:
        return {"outputs": next(iter(lists.values())) if len(lists) == 1 else lists}
    sizes = {v.shape[0] if v.ndim else None for v in outputs.values()}
    if len(sizes) != 1 or None in sizes:
        raise _bad("outputs have different batch sizes; use the columnar \"inputs\" format for this signature")
    (size,) = sizes
    if len(lists) == 1:
        return {"predictions": next(iter(lists.values()))}
    return {"predictions": [{k: v[i] for k, v in lists.items()} for i in range(size)]}
