"""Reading a dataset's tables (Parquet, CSV, JSON lines) into pandas, whole or in chunks, ids as text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow
import pyarrow.parquet

from braidrec.data.cells import normalize_ids
from braidrec.data.layout import DATASET_FILE, ID_ROLES, DatasetError, DatasetSpec, TableSpec


CHUNK_ROWS = 1_000_000


def _jsonl_chunks(path: Path, label: str, chunk_rows: int | None) -> Iterator[pd.DataFrame]:
    rows: list[dict] = []
    yielded = False
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
            if chunk_rows and len(rows) == chunk_rows:
                yield pd.DataFrame.from_records(rows)
                rows, yielded = [], True
    if rows or not yielded:
        yield pd.DataFrame.from_records(rows)


def _parquet_chunks(path: Path, chunk_rows: int | None) -> Iterator[pd.DataFrame]:
    if not chunk_rows:
        yield pd.read_parquet(path)
        return
    parquet = pyarrow.parquet.ParquetFile(path)
    if parquet.metadata.num_rows == 0:
        yield parquet.schema_arrow.empty_table().to_pandas()
        return
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        frame = batch.to_pandas()
        # pandas stores a non-default index as a column, which a whole-file read turns back into the index.
        yield frame.drop(columns=[c for c in frame.columns if str(c).startswith("__index_level_")])


def _csv_chunks(path: Path, id_columns: list[str], chunk_rows: int | None) -> Iterator[pd.DataFrame]:
    # Read ids as text so '007' stays '007' instead of becoming 7.
    dtype = {column: str for column in id_columns}
    if not chunk_rows:
        yield pd.read_csv(path, dtype=dtype)
        return
    yielded = False
    for frame in pd.read_csv(path, dtype=dtype, chunksize=chunk_rows):
        yielded = True
        yield frame
    if not yielded:
        yield pd.read_csv(path, dtype=dtype, nrows=0)


def iter_table(spec: DatasetSpec, table: TableSpec, chunk_rows: int | None = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Reads one table in chunks, so that a table larger than memory can be checked; ids come back as ``str``
    (or None) whatever the file format.

    Args:
        spec: the dataset the table belongs to.
        table: which table (``spec.items``, ``spec.interactions`` or ``spec.users``).
        chunk_rows: rows per chunk; None reads the whole table as one.

    Yields:
        The rows in file order, each chunk with a fresh RangeIndex; one empty frame (with the columns) for
        a table without rows.

    Raises:
        DatasetError: naming the table file when it is missing or cannot be parsed.
    """
    path = spec.path_of(table)
    if not path.is_file():
        raise DatasetError(table.path, f"{table.name} table not found at {path} (fix '{table.name}.path' in {DATASET_FILE})")
    id_columns = [getattr(table, role) for role in ID_ROLES if getattr(table, role)]
    if table.format == "parquet":
        chunks = _parquet_chunks(path, chunk_rows)
    elif table.format == "csv":
        chunks = _csv_chunks(path, id_columns, chunk_rows)
    else:
        chunks = _jsonl_chunks(path, table.path, chunk_rows)
    try:
        for frame in chunks:
            frame = frame.reset_index(drop=True)
            for column in id_columns:
                if column in frame.columns:
                    frame[column] = normalize_ids(frame[column])
            yield frame
    except DatasetError:
        raise
    except (OSError, ValueError, pyarrow.ArrowException) as err:
        raise DatasetError(table.path, f"cannot read as {table.format}: {err} (check the file or '{table.name}.format')") from err


def read_table(spec: DatasetSpec, table: TableSpec) -> pd.DataFrame:
    """Reads one whole table (:func:`iter_table` in one chunk).

    Returns:
        The rows in file order with a fresh RangeIndex.

    Raises:
        DatasetError: naming the table file when it is missing or cannot be parsed.
    """
    return next(iter_table(spec, table, chunk_rows=None))
