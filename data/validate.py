"""``braid data validate DIR``: every problem of a raw dataset, each naming file, row and column.

Validation reads the tables once and reports all problems instead of stopping at
the first, so a user can fix a dataset in one pass. Image files are checked for
existence and size only; decoding is the extractor's job (bad images go to its
dead-letter output rather than failing a run).
"""

from __future__ import annotations

import difflib
import math
import os
from typing import Any

import numpy as np
import pandas as pd

from braidrec.data.layout import (
    DATASET_FILE,
    MAX_TIMESTAMP,
    DatasetError,
    DatasetSpec,
    TableSpec,
    is_missing,
    parse_timestamp,
    resolve_image_path,
)
from braidrec.data.problems import InvalidDatasetError, Problem, ProblemCollector, count_problems, format_report
from braidrec.data.tables import CHUNK_ROWS, iter_table
from braidrec.data.validate_types import check_types

__all__ = ["MAX_PER_KIND", "InvalidDatasetError", "Problem", "count_problems", "ensure_valid", "format_report", "validate_dataset"]

MAX_PER_KIND = 50


def _check_columns(table: TableSpec, frame: pd.DataFrame, out: ProblemCollector) -> None:
    present = [str(c) for c in frame.columns]
    reported = set()
    for role, column in table.role_columns():
        if column in frame.columns or column in reported:
            continue
        reported.add(column)
        close = difflib.get_close_matches(column, present, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (columns: {', '.join(present) or 'none'})"
        out.add("missing-column", table.path, None, column,
                f"column '{column}' named by role '{table.name}.{role}' in {DATASET_FILE} does not exist{hint}; "
                "fix the role or add the column")


def _ids(table: TableSpec, frame: pd.DataFrame, column: str, what: str, out: ProblemCollector,
         seen: dict[str, int], offset: int) -> None:
    """Adds the chunk's ids to ``seen`` (id -> first row), reporting empty and repeated ones."""
    for row, value in enumerate(frame[column], start=offset + 1):
        if value is None:
            out.add("empty-id", table.path, row, column, f"empty {what} id (every row needs one)")
        elif value in seen:
            out.add("duplicate-id", table.path, row, column,
                    f"duplicate {what} id '{value}' (first in row {seen[value]}); remove or rename one of the rows")
        else:
            seen[value] = row


def _references(table: TableSpec, frame: pd.DataFrame, column: str, what: str,
                known: pd.Index | None, known_file: str, out: ProblemCollector, offset: int) -> None:
    values = frame[column]
    # Vectorised, as the interactions table is the long one; only the bad rows are visited.
    bad = values.isna().to_numpy(copy=True)
    if known is not None:
        # The index builds its hash table once, not per chunk as isin would.
        bad |= known.get_indexer(values) < 0
    for index in np.flatnonzero(bad):
        value, row = values.iat[int(index)], offset + int(index) + 1
        if value is None:
            out.add("empty-id", table.path, row, column, f"empty {what} id (every interaction needs one)")
        else:
            out.add("unknown-id", table.path, row, column,
                    f"{what} '{value}' is not in {known_file} (add it there or drop this interaction)")


def _timestamps(table: TableSpec, frame: pd.DataFrame, column: str, out: ProblemCollector, offset: int) -> None:
    values = frame[column]
    rows: Any = range(len(values))
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        # Vectorised range check; only the bad rows go through the slow parser for a message.
        array = values.to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            rows = np.flatnonzero(~np.isfinite(array) | (array < 0) | (array >= MAX_TIMESTAMP))
    for index in rows:
        value = values.iat[int(index)]
        if is_missing(value):
            out.add("timestamp", table.path, offset + int(index) + 1, column, "empty timestamp (every interaction needs one)")
            continue
        try:
            parse_timestamp(value)
        except ValueError as err:
            out.add("timestamp", table.path, offset + int(index) + 1, column, str(err))


def _numbers(table: TableSpec, frame: pd.DataFrame, column: str, role: str, out: ProblemCollector, offset: int) -> None:
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        rows = np.flatnonzero(np.isinf(values.to_numpy(dtype=float)))
    else:
        rows = range(len(values))
    for index in rows:
        value = values.iat[int(index)]
        if is_missing(value):
            continue
        try:
            ok = math.isfinite(float(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            out.add("not-numeric", table.path, offset + int(index) + 1, column,
                    f"{value!r} is not a finite number ('{table.name}.{role}' columns must be numeric; "
                    "fix the cell or leave it empty)")


def _images(spec: DatasetSpec, table: TableSpec, frame: pd.DataFrame, column: str, out: ProblemCollector,
            offset: int) -> None:
    for row, value in enumerate(frame[column], start=offset + 1):
        if is_missing(value):
            continue
        try:
            path = resolve_image_path(spec.root, value)
        except DatasetError as err:
            out.add("image-path", table.path, row, column, f"image path {err.file}: {err.detail}")
            continue
        if not path.is_file():
            out.add("image-missing", table.path, row, column,
                    f"image file {value} does not exist (fix the path or leave the cell empty)")
        elif path.stat().st_size == 0:
            out.add("image-empty", table.path, row, column,
                    f"image file {value} is empty (0 bytes); replace it or leave the cell empty")


def _has(frame: pd.DataFrame, column: str | None) -> bool:
    return column is not None and column in frame.columns


def _check_chunk(spec: DatasetSpec, table: TableSpec, frame: pd.DataFrame, offset: int, out: ProblemCollector,
                 ids: dict[str, dict[str, int]], known: dict[str, pd.Index]) -> None:
    """Every row check of one chunk of ``table`` whose first row is data row ``offset + 1``; ``ids`` gathers
    the id tables' ids (id -> first row), ``known`` holds them for the interactions' references."""
    if table is spec.interactions:
        users_file = spec.users.path if spec.users else "users"
        if _has(frame, table.user):
            _references(table, frame, table.user, "user", known.get("users"), users_file, out, offset)
        if _has(frame, table.item):
            _references(table, frame, table.item, "item", known.get("items"), spec.items.path, out, offset)
        if _has(frame, table.timestamp):
            _timestamps(table, frame, table.timestamp, out, offset)
        if _has(frame, table.weight):
            _numbers(table, frame, table.weight, "weight", out, offset)
    elif _has(frame, table.id):
        _ids(table, frame, table.id, "item" if table is spec.items else "user", out, ids.setdefault(table.name, {}), offset)
    check_types(table, frame, out.add, offset)
    for column in table.numeric:
        if _has(frame, column):
            _numbers(table, frame, column, "numeric", out, offset)
    if _has(frame, table.image):
        _images(spec, table, frame, table.image, out, offset)


def validate_dataset(dataset_dir: str | os.PathLike, chunk_rows: int | None = CHUNK_ROWS) -> list[Problem]:
    """Checks a raw dataset and returns every problem found (an empty list means valid).

    The tables are read in chunks of ``chunk_rows`` rows, so memory holds the item and user ids and one
    chunk, whatever the length of the interactions table.

    Args:
        dataset_dir: directory holding ``dataset.yaml``.
        chunk_rows: rows per chunk; None reads each table whole (``make bench-validate``'s baseline).

    Returns:
        Problems table by table (items, users, then interactions, which refer to both); at most
        :data:`MAX_PER_KIND` per (table, column, kind), the rest summarised by one Problem whose
        ``omitted`` counts them.
    """
    try:
        spec = DatasetSpec.load(dataset_dir)
    except DatasetError as err:
        return [Problem(DATASET_FILE, None, None, err.detail)]
    out = ProblemCollector(MAX_PER_KIND)
    if spec.ground_truth is not None and not (spec.root / spec.ground_truth).is_file():
        out.add("ground-truth", DATASET_FILE, None, None,
                f"ground_truth file {spec.ground_truth} does not exist (remove the key or regenerate the dataset)")
    ids: dict[str, dict[str, int]] = {}
    known: dict[str, pd.Index] = {}
    # The id tables first: an interaction's references are checked against their ids.
    for table in sorted(spec.tables(), key=lambda t: t is spec.interactions):
        if table is spec.interactions:
            known = {name: pd.Index(list(seen)) for name, seen in ids.items()}
        rows = 0
        try:
            for frame in iter_table(spec, table, chunk_rows):
                if rows == 0:
                    _check_columns(table, frame, out)
                _check_chunk(spec, table, frame, rows, out, ids, known)
                rows += len(frame)
        except DatasetError as err:
            out.add("unreadable", table.path, None, None, err.detail)
            # Half an id table would make every later id look unknown.
            ids.pop(table.name, None)
            continue
        if rows == 0:
            out.add("empty-table", table.path, None, None, f"{table.name} table has no rows")
    return out.problems()


def ensure_valid(dataset_dir: str | os.PathLike) -> DatasetSpec:
    """Validates a dataset and returns its spec.

    Args:
        dataset_dir: directory holding ``dataset.yaml``.

    Returns:
        The parsed :class:`DatasetSpec`.

    Raises:
        InvalidDatasetError: with ``.problems`` when anything is wrong.
    """
    problems = validate_dataset(dataset_dir)
    if problems:
        raise InvalidDatasetError(dataset_dir, problems)
    return DatasetSpec.load(dataset_dir)
