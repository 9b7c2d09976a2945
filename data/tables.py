"""Reading a dataset's tables (Parquet, CSV, JSON lines) into pandas, ids as text."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow

from braidrec.data.layout import DATASET_FILE, ID_ROLES, DatasetError, DatasetSpec, TableSpec, normalize_id


def _read_jsonl(path: Path, label: str) -> pd.DataFrame:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DatasetError(label, f"line {line_number} is not valid JSON: {err.msg}") from err
            if not isinstance(row, dict):
                raise DatasetError(label, f"line {line_number} must be a JSON object, one row per line")
            rows.append(row)
    return pd.DataFrame.from_records(rows)


def read_table(spec: DatasetSpec, table: TableSpec) -> pd.DataFrame:
    """Reads one table; id columns come back as ``str`` (or None) whatever the file format.

    Args:
        spec: the dataset the table belongs to.
        table: which table (``spec.items``, ``spec.interactions`` or ``spec.users``).

    Returns:
        The rows in file order with a fresh RangeIndex.

    Raises:
        DatasetError: naming the table file when it is missing or cannot be parsed.
    """
    path = spec.path_of(table)
    if not path.is_file():
        raise DatasetError(table.path, f"{table.name} table not found at {path} (fix '{table.name}.path' in {DATASET_FILE})")
    id_columns = [getattr(table, role) for role in ID_ROLES if getattr(table, role)]
    try:
        if table.format == "parquet":
            frame = pd.read_parquet(path)
        elif table.format == "csv":
            # Read ids as text so '007' stays '007' instead of becoming 7.
            frame = pd.read_csv(path, dtype={column: str for column in id_columns})
        else:
            frame = _read_jsonl(path, table.path)
    except DatasetError:
        raise
    except (OSError, ValueError, pyarrow.ArrowException) as err:
        raise DatasetError(table.path, f"cannot read as {table.format}: {err} (check the file or '{table.name}.format')") from err
    frame = frame.reset_index(drop=True)
    for column in id_columns:
        if column in frame.columns:
            frame[column] = pd.Series([normalize_id(v) for v in frame[column]], index=frame.index, dtype=object)
    return frame
