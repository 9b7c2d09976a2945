"""Helpers shared by the dataset adapters: delimited-file reading, years, image lookup."""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import pandas as pd

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp")


class AdapterError(ValueError):
    """A source file of a public dataset layout is missing or malformed.

    Attributes:
        file: the source file.
        detail: what is wrong and how to fix it.
    """

    def __init__(self, file: str | os.PathLike, detail: str):
        self.file = str(file)
        self.detail = detail
        super().__init__(f"{self.file}: {detail}")


def read_delimited(path: Path, sep: str, names: list[str], encoding: str = "latin-1") -> pd.DataFrame:
    """Reads a header-less delimited file as strings, with exactly ``len(names)`` fields a line.

    Args:
        path: the file.
        sep: the field separator.
        names: the column names.
        encoding: the GroupLens files are latin-1; latin-1 also never fails to decode.

    Raises:
        AdapterError: naming the file and the first line with the wrong number of fields.
    """
    if not path.is_file():
        raise AdapterError(path, "not found")
    with open(path, encoding=encoding, newline="") as handle:
        rows = [line.rstrip("\r\n") for line in handle]
    fields = [row.split(sep) for row in rows if row.strip()]
    for number, parts in enumerate(fields, start=1):
        if len(parts) != len(names):
            raise AdapterError(path, f"line {number} has {len(parts)} fields separated by {sep!r}, expected "
                                     f"{len(names)} ({', '.join(names)}); is this the right file?")
    return pd.DataFrame(fields, columns=names, dtype=object)


def year_from_title(title: str) -> float:
    """The year in a MovieLens title like ``"Heat (1995)"``; NaN when there is none."""
    match = re.search(r"\((\d{4})\)\s*$", title or "")
    return float(match.group(1)) if match else math.nan


def find_image(directory: Path, item_id: str) -> Path | None:
    """``directory/<item_id>.<ext>`` for the first known image extension that exists."""
    if not directory.is_dir() or not re.fullmatch(r"[\w.-]+", item_id) or item_id.startswith("."):
        # Ids that are not plain file names never name an image (and cannot escape the directory).
        return None
    for suffix in IMAGE_SUFFIXES:
        path = directory / f"{item_id}{suffix}"
        if path.is_file():
            return path
    return None


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file (empty list for an empty file)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle), [])
