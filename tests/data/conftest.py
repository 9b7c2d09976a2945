"""Fixtures for the data package: a tiny valid hand-made dataset and helpers to break it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from braidrec.data.layout import write_dataset_yaml

EXTENSIONS = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Four items, three users, six interactions; every row valid."""
    return {
        "items": pd.DataFrame({
            "item_id": ["a", "b", "c", "d"],
            "title": ["Red Ball", "Blue Box", "Green Hat", "Gold Ring"],
            "description": ["a round red ball", "a blue box", None, "a gold ring"],
            "image_path": ["images/a.png", "images/b.png", None, "images/d.png"],
            "tags": [["toy", "red"], ["box"], [], ["jewel"]],
            "price": [1.5, 2.0, None, 30.0],
        }),
        "users": pd.DataFrame({"user_id": ["u1", "u2", "u3"], "segment": ["s1", "s2", "s1"], "age": [30, 41, 52]}),
        "interactions": pd.DataFrame({
            "user_id": ["u1", "u1", "u2", "u2", "u3", "u3"],
            "item_id": ["a", "b", "b", "c", "d", "a"],
            "timestamp": [1600000000, 1600000100, 1600000200, 1600000300, 1600000400, 1600000500],
            "rating": [5, 4, 3, 2, 1, 5],
        }),
    }


def tiny_layout(fmt: str = "parquet") -> dict:
    """The dataset.yaml mapping for :func:`tiny_tables` written in format ``fmt``."""
    ext = EXTENSIONS[fmt]
    return {
        "name": "tiny",
        "items": {"path": f"items{ext}", "id": "item_id", "title": "title", "text": ["title", "description"],
                  "image": "image_path", "categorical": ["tags"], "numeric": ["price"]},
        "interactions": {"path": f"interactions{ext}", "user": "user_id", "item": "item_id",
                         "timestamp": "timestamp", "weight": "rating"},
        "users": {"path": f"users{ext}", "id": "user_id", "categorical": ["segment"], "numeric": ["age"]},
    }


def _json_cell(value):
    if isinstance(value, (list, np.ndarray)):
        return [str(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    return None if isinstance(value, float) and np.isnan(value) else value


def write_frame(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """Writes ``frame`` as parquet, csv (lists joined by '|') or jsonl."""
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "csv":
        frame = frame.copy()
        for column in frame.columns:
            if frame[column].map(lambda v: isinstance(v, (list, np.ndarray))).any():
                frame[column] = frame[column].map(lambda v: "|".join(map(str, v)))
        frame.to_csv(path, index=False)
    else:
        lines = [json.dumps({k: _json_cell(v) for k, v in row.items()}) for row in frame.to_dict("records")]
        path.write_text("".join(line + "\n" for line in lines))


def write_tiny(root: Path, fmt: str = "parquet", tables: dict[str, pd.DataFrame] | None = None) -> Path:
    """Writes the tiny dataset (tables, images, dataset.yaml) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    for name in ("a", "b", "d"):
        Image.new("RGB", (4, 4), (200, 10, 10)).save(root / "images" / f"{name}.png")
    layout = tiny_layout(fmt)
    for name, frame in (tables or tiny_tables()).items():
        write_frame(frame, root / layout[name]["path"], fmt)
    write_dataset_yaml(root, layout)
    return root


def edit_cell(root: Path, table: str, row: int, column: str, value) -> None:
    """Sets one cell (1-based data ``row``) of a parquet table of the tiny dataset.

    A string written into a non-string column turns the column into strings, so
    parquet can still store it (valid numbers stay parseable as text).
    """
    path = root / f"{table}.parquet"
    frame = pd.read_parquet(path)
    if isinstance(value, str) and not pd.api.types.is_string_dtype(frame[column]):
        frame[column] = pd.Series([None if pd.isna(v) else str(v) for v in frame[column]], dtype=object)
    elif value is None or not isinstance(value, str):
        frame[column] = frame[column].astype(object)
    frame.at[row - 1, column] = value
    frame.to_parquet(path, index=False)


def edit_layout(root: Path, change: Callable[[dict], None]) -> None:
    """Applies ``change`` to the parsed dataset.yaml and writes it back."""
    layout = yaml.safe_load((root / "dataset.yaml").read_text())
    change(layout)
    write_dataset_yaml(root, layout)


class TinyData:
    """The helpers above, handed to tests through the ``tiny`` fixture.

    Going through a fixture keeps tests independent of how pytest imports conftest files.
    """

    tables = staticmethod(tiny_tables)
    layout = staticmethod(tiny_layout)
    write = staticmethod(write_tiny)
    write_frame = staticmethod(write_frame)
    edit_cell = staticmethod(edit_cell)
    edit_layout = staticmethod(edit_layout)


@pytest.fixture
def tiny() -> TinyData:
    """Helpers to build and break the tiny dataset."""
    return TinyData()


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """A valid tiny parquet dataset in a fresh directory."""
    return write_tiny(tmp_path / "tiny")
