"""Reading a run configuration: YAML files and ``--section.field`` flags into the dataclasses.

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

from braidrec.config import RunConfig


class ConfigError(ValueError):
    """A configuration file or flag names an unknown key or holds a bad value."""


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
        set_field(config, dotted, _coerce(value, kinds[dotted], f"--{dotted}"))
    return config


def set_field(config: RunConfig, dotted: str, value: Any) -> None:
    """Sets ``config.<section>.<field>`` named by ``dotted`` (e.g. ``train.epochs``) to ``value`` as given."""
    *parents, leaf = dotted.split(".")
    target = config
    for part in parents:
        target = getattr(target, part)
    setattr(target, leaf, value)


def unknown_fields(dotted_names) -> list[str]:
    """The names among ``dotted_names`` (``section.field``) that name no field of :class:`RunConfig`."""
    known = {name for name, _ in _leaf_fields(RunConfig)}
    return [name for name in dotted_names if name not in known]


def config_with(overrides: dict[str, Any] | None = None) -> RunConfig:
    """The default :class:`RunConfig` with each ``section.field`` of ``overrides`` set to its value as given.

    Raises:
        ConfigError: a key names no field (the message suggests the closest one).
    """
    overrides = overrides or {}
    unknown = unknown_fields(overrides)
    if unknown:
        known = [name for name, _ in _leaf_fields(RunConfig)]
        raise ConfigError(f"override '{unknown[0]}' names no config field{_suggest(unknown[0], known)}")
    config = RunConfig()
    for dotted, value in overrides.items():
        set_field(config, dotted, value)
    return config
