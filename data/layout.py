"""The declarative raw dataset layout: ``dataset.yaml`` and the tables it names.

A dataset is a directory holding ``dataset.yaml``, which maps *roles* (id, text,
image, ...) to the columns of an items table, an interactions table and an
optional users table. Code downstream asks for roles, never for column names,
so any catalogue can be used by writing a short YAML file instead of code.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tempfile
from pathlib import Path, PureWindowsPath
from types import MappingProxyType
from typing import Any, Mapping

import yaml

# Cell parsers live in cells.py; they are re-exported so callers need one import.
from braidrec.data.cells import MAX_TIMESTAMP, is_missing, normalize_id, parse_timestamp, split_list

__all__ = [
    "DATASET_FILE", "FORMATS", "MAX_TIMESTAMP", "DatasetError", "DatasetSpec", "TableSpec", "is_missing",
    "normalize_id", "parse_timestamp", "resolve_image_path", "split_list", "write_dataset_yaml",
]

DATASET_FILE = "dataset.yaml"
FORMATS = ("parquet", "csv", "jsonl")
EXTENSION_FORMATS = MappingProxyType(
    {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}
)
SCALAR_ROLES = ("id", "user", "item", "timestamp", "weight", "title", "image")
LIST_ROLES = ("text", "categorical", "numeric")
# table name -> (required roles, optional roles)
TABLE_ROLES = MappingProxyType(
    {
        "items": (("id",), ("title", "text", "image", "categorical", "numeric")),
        "interactions": (("user", "item", "timestamp"), ("weight",)),
        "users": (("id",), ("categorical", "numeric")),
    }
)
TOP_KEYS = ("name", "items", "interactions", "users", "ground_truth")
ID_ROLES = ("id", "user", "item")


class DatasetError(ValueError):
    """A dataset file is missing, unreadable or declares something impossible.

    Attributes:
        file: the file the problem is in (``dataset.yaml``, a table, an image path).
        detail: what is wrong and how to fix it, without the file name.
    """

    def __init__(self, file: str | os.PathLike, detail: str):
        self.file = str(file)
        self.detail = detail
        super().__init__(f"{self.file}: {detail}")

    def __reduce__(self):
        # Keeps the two-argument constructor working when pickled (e.g. by Beam).
        return (type(self), (self.file, self.detail))


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(options)})"


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """One table of a dataset and the column playing each role."""

    name: str
    path: str
    format: str
    id: str | None = None
    user: str | None = None
    item: str | None = None
    timestamp: str | None = None
    weight: str | None = None
    title: str | None = None
    text: tuple[str, ...] = ()
    image: str | None = None
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()

    def role_columns(self) -> tuple[tuple[str, str], ...]:
        """Every ``(role, column)`` pair the spec declares, scalar roles first."""
        pairs = [(role, getattr(self, role)) for role in SCALAR_ROLES if getattr(self, role)]
        pairs += [(role, column) for role in LIST_ROLES for column in getattr(self, role)]
        return tuple(pairs)

    def columns(self) -> tuple[str, ...]:
        """Every column the spec names, once each, in role order."""
        return tuple(dict.fromkeys(column for _, column in self.role_columns()))


def _parse_table(name: str, raw: Any, where: str) -> TableSpec:
    if not isinstance(raw, Mapping):
        raise DatasetError(where, f"'{name}' must be a mapping with 'path' and roles, got {type(raw).__name__}")
    required, optional = TABLE_ROLES[name]
    allowed = ["path", "format", *required, *optional]
    for key in raw:
        if key not in allowed:
            raise DatasetError(where, f"unknown key '{name}.{key}'{_suggest(str(key), allowed)}")
    path = raw.get("path")
    if not isinstance(path, str) or not path.strip():
        raise DatasetError(where, f"'{name}.path' is required: the table file, relative to the dataset directory")
    fmt = raw.get("format")
    if fmt is None:
        fmt = EXTENSION_FORMATS.get(Path(path).suffix.lower())
        if fmt is None:
            raise DatasetError(
                where, f"cannot infer the format of '{path}' from its extension; add '{name}.format: parquet|csv|jsonl'"
            )
    elif fmt not in FORMATS:
        raise DatasetError(where, f"unknown format '{name}.format: {fmt}'{_suggest(str(fmt), list(FORMATS))}")
    for role in required:
        if raw.get(role) in (None, ""):
            raise DatasetError(where, f"'{name}' is missing required role '{role}' (add '{name}.{role}: COLUMN')")
    roles: dict[str, Any] = {}
    for role in (*required, *optional):
        value = raw.get(role)
        if value is None:
            continue
        if role in LIST_ROLES:
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise DatasetError(where, f"'{name}.{role}' must be a list of column names, got {raw.get(role)!r}")
            roles[role] = tuple(value)
        elif not isinstance(value, str) or not value:
            raise DatasetError(where, f"'{name}.{role}' must be one column name, got {value!r}")
        else:
            roles[role] = value
    if name == "items" and "title" not in roles:
        # The display column falls back to the first text column, else the id.
        roles["title"] = roles["text"][0] if roles.get("text") else roles["id"]
    return TableSpec(name=name, path=path, format=fmt, **roles)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A parsed ``dataset.yaml``: where each table is and which column plays each role."""

    root: Path
    name: str
    items: TableSpec
    interactions: TableSpec
    users: TableSpec | None = None
    ground_truth: str | None = None

    @classmethod
    def load(cls, dataset_dir: str | os.PathLike) -> DatasetSpec:
        """Reads and checks ``DATASET_DIR/dataset.yaml`` (the tables themselves are not read).

        Args:
            dataset_dir: the dataset directory.

        Returns:
            The parsed spec; ``root`` is the dataset directory.

        Raises:
            DatasetError: naming dataset.yaml and the key, when the file is missing, is
                not YAML, has an unknown key or role, lacks a required role, or names an
                unknown format.
        """
        root = Path(dataset_dir)
        where = str(root / DATASET_FILE)
        if not (root / DATASET_FILE).is_file():
            raise DatasetError(where, f"not found (a dataset directory needs a {DATASET_FILE}; see data/layout.py)")
        try:
            raw = yaml.safe_load((root / DATASET_FILE).read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            mark = getattr(err, "problem_mark", None)
            at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            reason = getattr(err, "problem", None) or " ".join(str(err).split())
            raise DatasetError(where, f"not valid YAML{at}: {reason}") from err
        if not isinstance(raw, Mapping):
            raise DatasetError(where, "must be a mapping with 'items' and 'interactions' keys")
        for key in raw:
            if key not in TOP_KEYS:
                raise DatasetError(where, f"unknown key '{key}'{_suggest(str(key), list(TOP_KEYS))}")
        for key in ("items", "interactions"):
            if key not in raw:
                raise DatasetError(where, f"missing required key '{key}' (a mapping with 'path' and roles)")
        ground_truth = raw.get("ground_truth")
        if ground_truth is not None and not isinstance(ground_truth, str):
            raise DatasetError(where, f"'ground_truth' must be a file name, got {ground_truth!r}")
        return cls(
            root=root,
            name=str(raw.get("name") or root.name),
            items=_parse_table("items", raw["items"], where),
            interactions=_parse_table("interactions", raw["interactions"], where),
            users=_parse_table("users", raw["users"], where) if raw.get("users") is not None else None,
            ground_truth=ground_truth,
        )

    def tables(self) -> tuple[TableSpec, ...]:
        """The declared tables: items, interactions and users when present."""
        return (self.items, self.interactions) + ((self.users,) if self.users else ())

    def path_of(self, table: TableSpec) -> Path:
        """The file of ``table`` (relative paths are taken from the dataset directory)."""
        return self.root / table.path


def resolve_image_path(root: Path, relative: str) -> Path:
    """The file an image cell points at, refusing paths that leave the dataset directory.

    Args:
        root: the dataset directory.
        relative: the cell value, a path relative to ``root``.

    Returns:
        The resolved absolute path (it may not exist).

    Raises:
        DatasetError: naming the cell value when it is not a string, is absolute, or
            resolves (through ``..`` or symlinks) outside ``root``.
    """
    if not isinstance(relative, str) or not relative.strip():
        raise DatasetError(repr(relative), "image path must be a non-empty string relative to the dataset directory")
    if Path(relative).is_absolute() or PureWindowsPath(relative).drive:
        raise DatasetError(relative, "absolute image paths are refused; store the path relative to the dataset directory")
    base = Path(root).resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise DatasetError(
            relative, f"resolves to {target}, outside the dataset directory; refused (keep images inside {base})"
        )
    return target


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_dataset_yaml(directory: str | os.PathLike, mapping: Mapping[str, Any]) -> Path:
    """Writes ``DIRECTORY/dataset.yaml`` atomically (temp file in the same dir, then rename).

    Args:
        directory: the dataset directory (must exist).
        mapping: the layout, as in the module docstring; tuples are written as lists.

    Returns:
        The path written.
    """
    target = Path(directory) / DATASET_FILE
    text = yaml.safe_dump(_plain(mapping), sort_keys=False, default_flow_style=None)
    handle = tempfile.NamedTemporaryFile("w", dir=target.parent, prefix=".dataset.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(text)
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return target
