"""``models.config``: TF Serving's model config (a text ``ModelServerConfig`` proto).

``braid export`` writes ``EXPORT_BASE/models.config`` naming every model under
the base with ``base_path`` ``/models/NAME`` (the layout of the
``tensorflow/serving`` image when the base is mounted at ``/models``);
``braid serve`` writes a copy with the host paths for a local
``tensorflow_model_server``.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from braidrec.pipeline.fileutil import write_text_atomic

CONFIG_FILE = "models.config"
DOCKER_ROOT = "/models"


def model_names(export_base: str | Path) -> list[str]:
    """Model directories under ``export_base`` holding at least one integer version."""
    base = Path(export_base)
    return sorted(
        p.name for p in base.iterdir()
        if p.is_dir() and not p.name.startswith(".") and any(v.is_dir() and v.name.isdigit() for v in p.iterdir())
    )


def model_config_text(names: list[str], root: str) -> str:
    """The text proto serving each of ``names`` from ``root/NAME`` (latest version, TensorFlow platform)."""
    config = model_server_config_pb2.ModelServerConfig()
    for name in names:
        model = config.model_config_list.config.add()
        model.name = name
        model.base_path = f"{root.rstrip('/')}/{name}"
        model.model_platform = "tensorflow"
    return text_format.MessageToString(config)


def parse_model_config(text: str) -> model_server_config_pb2.ModelServerConfig:
    """Parses a ``models.config`` text proto.

    Raises:
        ValueError: the text is not a ``ModelServerConfig`` proto.
    """
    try:
        return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as err:
        raise ValueError(f"{CONFIG_FILE}: not a ModelServerConfig text proto: {err}") from err


def write_model_config(export_base: str | Path, root: str = DOCKER_ROOT, path: str | Path | None = None) -> Path:
    """Writes (atomically) the config for every model under ``export_base``; returns its path."""
    path = Path(path) if path else Path(export_base) / CONFIG_FILE
    write_text_atomic(path, model_config_text(model_names(export_base), root))
    return path
