"""The fallback server's model store: what TF Serving's model manager does, in one class.

Every model directory under the model base is watched; the newest integer
version is loaded, its warm-up requests replayed, and only then swapped in, so
a new version appears without a restart and no request sees a half-loaded
one (TF Serving's default ``latest`` version policy: older versions are
unloaded once the new one is available).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from braidrec.serving.model_config import model_names
from braidrec.serving.warmup import read_warmup

LOG = logging.getLogger(__name__)


class ServingError(Exception):
    """A request TF Serving would refuse; ``code`` is a gRPC status name (``NOT_FOUND``, ``INVALID_ARGUMENT``)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclasses.dataclass
class Servable:
    """One loaded version: the restored SavedModel and its signature definitions."""

    name: str
    version: int
    path: Path
    model: object
    signature_defs: dict[str, meta_graph_pb2.SignatureDef]

    def signature(self, name: str) -> meta_graph_pb2.SignatureDef:
        """The signature ``name`` ('' means ``serving_default``).

        Raises:
            ServingError: INVALID_ARGUMENT naming the known signatures, as TF Serving answers.
        """
        name = name or "serving_default"
        if name not in self.signature_defs:
            known = ", ".join(sorted(self.signature_defs))
            raise ServingError("INVALID_ARGUMENT", f"Serving signature name: \"{name}\" not found in signature def (known: {known})")
        return self.signature_defs[name]

    def run(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Calls ``signature`` on NumPy inputs; returns NumPy outputs.

        Raises:
            ServingError: INVALID_ARGUMENT when TensorFlow rejects the inputs (shape, rank).
        """
        function = self.model.signatures[signature or "serving_default"]
        try:
            out = function(**{k: tf.constant(v) for k, v in inputs.items()})
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as err:
            raise ServingError("INVALID_ARGUMENT", f"signature {signature or 'serving_default'}: {err}".splitlines()[0]) from err
        return {k: v.numpy() for k, v in out.items()}

    def metadata(self) -> get_model_metadata_pb2.SignatureDefMap:
        """The ``signature_def`` metadata TF Serving returns from GetModelMetadata."""
        out = get_model_metadata_pb2.SignatureDefMap()
        for key, value in self.signature_defs.items():
            out.signature_def[key].CopyFrom(value)
        return out


def load_servable(name: str, path: Path) -> Servable:
    """Loads ``path`` (a version directory), reads its signature defs and replays its warm-up file."""
    proto = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    graph = next(g for g in proto.meta_graphs if "serve" in g.meta_info_def.tags)
    defs = {k: v for k, v in graph.signature_def.items() if not k.startswith("__")}
    servable = Servable(name, int(path.name), path, tf.saved_model.load(str(path)), defs)
    for request in read_warmup(path):
        servable.run(request.model_spec.signature_name, {k: tf.make_ndarray(t) for k, t in request.inputs.items()})
    return servable


class ModelStore:
    """Loaded models under ``model_base``, refreshed by :meth:`poll` (a thread calls it periodically).

    Args:
        model_base: the export base (``EXPORT_BASE``), holding ``NAME/<version>/``.
    """

    def __init__(self, model_base: str | Path):
        self.model_base = Path(model_base)
        self._lock = threading.Lock()
        self._models: dict[str, Servable] = {}
        self._failed: dict[tuple[str, int], str] = {}

    def poll(self) -> list[tuple[str, int]]:
        """Loads any model or version newer than the one served; returns what was loaded.

        A version that fails to load is remembered with its error (shown by
        :meth:`status`) and not retried; the previous version keeps serving.
        """
        loaded = []
        for name in model_names(self.model_base):
            versions = [int(p.name) for p in (self.model_base / name).iterdir() if p.is_dir() and p.name.isdigit()]
            newest = max(versions)
            current = self._models.get(name)
            if (current and current.version >= newest) or (name, newest) in self._failed:
                continue
            try:
                servable = load_servable(name, self.model_base / name / str(newest))
            except (OSError, ValueError, tf.errors.OpError, ServingError) as err:
                self._failed[(name, newest)] = str(err).splitlines()[0]
                LOG.error("model %s version %d failed to load: %s", name, newest, err)
                continue
            with self._lock:
                self._models[name] = servable
            loaded.append((name, newest))
        return loaded

    def get(self, name: str, version: int | None = None) -> Servable:
        """The served version of ``name`` (or exactly ``version``).

        Raises:
            ServingError: NOT_FOUND for an unknown model or a version not loaded.
        """
        with self._lock:
            servable = self._models.get(name)
        if servable is None:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        if version is not None and version != servable.version:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
        return servable

    def status(self, name: str, version: int | None = None) -> list[dict]:
        """TF Serving's ``model_version_status`` list for ``name``.

        Raises:
            ServingError: NOT_FOUND when the model (or version) is unknown.
        """
        failed = [
            {"version": str(v), "state": "END", "status": {"error_code": "UNKNOWN", "error_message": msg}}
            for (n, v), msg in self._failed.items() if n == name and version in (None, v)
        ]
        try:
            servable = self.get(name, version)
        except ServingError:
            if failed:
                return failed
            raise
        return [{"version": str(servable.version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}] + failed
