"""Beam transforms of the extraction job: table reading, interactions, vocabularies, statistics.

Each DoFn sends a record it cannot use to the ``dead_letter`` output with the
table, the record's key and the reason, so nothing is dropped silently.
"""

from __future__ import annotations

import csv
import json
import math

import apache_beam as beam

from braidrec.data import cells, layout
from braidrec.features import contract

DEAD_LETTER = "dead_letter"


def dead_letter(table: str, key: str | None, reason: str, kind: str) -> beam.pvalue.TaggedOutput:
    """A tagged dead-letter record: ``kind`` groups the counts in the manifest."""
    return beam.pvalue.TaggedOutput(DEAD_LETTER, {"table": table, "key": key, "kind": kind, "reason": reason})


class ReadTable(beam.PTransform):
    """Reads one table of the raw layout as dicts (Parquet splittable; CSV and JSONL by line).

    CSV cells must not contain line breaks (``braid data validate`` reports them);
    convert such files to Parquet or JSONL.
    """

    def __init__(self, spec: layout.DatasetSpec, table: layout.TableSpec):
        super().__init__(label=f"Read{table.name.capitalize()}")
        self._path = str(spec.root / table.path)
        self._table = table

    def expand(self, pbegin):
        fmt = self._table.format
        if fmt == "parquet":
            return pbegin | beam.io.ReadFromParquet(self._path)
        if fmt == "jsonl":
            return pbegin | beam.io.ReadFromText(self._path) | beam.Filter(str.strip) | beam.Map(json.loads)
        with open(self._path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        return (
            pbegin
            | beam.io.ReadFromText(self._path, skip_header_lines=1)
            | beam.Filter(str.strip)
            | beam.Map(lambda line, names=header: dict(zip(names, next(csv.reader([line])))))
        )


class ParseInteraction(beam.DoFn):
    """Interaction row -> (user_id, (item_id, timestamp)), or a dead letter.

    Side input ``known_items`` (dict item id -> True) sends interactions with an
    item missing from the catalogue to the dead letter instead of a crash.
    """

    def __init__(self, table: layout.TableSpec):
        self._table = table

    def process(self, row: dict, known_items):
        table = self._table
        user, item = row.get(table.user), row.get(table.item)
        key = f"{user}/{item}"
        if cells.is_missing(user) or cells.is_missing(item):
            yield dead_letter("interactions", key, f"empty {table.user} or {table.item}", "interaction_missing_id")
            return
        try:
            timestamp = cells.parse_timestamp(row.get(table.timestamp))
        except ValueError as err:
            yield dead_letter("interactions", key, f"column {table.timestamp}: {err}", "interaction_bad_timestamp")
            return
        if cells.normalize_id(item) not in known_items:
            yield dead_letter("interactions", key, f"column {table.item}: item {item} is not in the items table", "interaction_unknown_item")
            return
        yield cells.normalize_id(user), (cells.normalize_id(item), timestamp)


def _float_or_nan(value) -> float:
    if cells.is_missing(value):
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    # An infinite number would poison the column's statistics: it is not a value (validation says so).
    return number if math.isfinite(number) else math.nan


def categorical_and_numeric(row: dict, table: layout.TableSpec) -> tuple[list[str], list[float], list[float]]:
    """A row's ``column=value`` tokens, numeric values (0 when missing) and their presence mask.

    ``braid data validate`` reports numeric cells that do not parse or are not finite; here they count
    as missing (with ``extract.bad_records dead_letter`` the manifest lists them).
    """
    tokens = [f"{c}={v}" for c in table.categorical for v in cells.split_list(row.get(c))]
    numeric = [_float_or_nan(row.get(c)) for c in table.numeric]
    return tokens, [0.0 if math.isnan(v) else v for v in numeric], [0.0 if math.isnan(v) else 1.0 for v in numeric]


def first_of_repeats(rows, table: str, row_id: str, noun: str, kind: str) -> tuple[dict | None, list]:
    """(the first of the rows one id has, in sorted order so that every runner keeps the same, or None when
    there is none; a dead letter ``kind`` per other row)."""
    rows = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))
    repeats = [dead_letter(table, row_id, f"{noun} id repeated in the {table} table; keep one row per {noun}", kind)
               for _ in rows[1:]]
    return (rows[0] if rows else None), repeats


def _first_row_per_id(kv, table: str, noun: str, kind: str):
    row, repeats = first_of_repeats(kv[1], table, kv[0], noun, kind)
    yield from repeats
    yield row


class OneRowPerId(beam.PTransform):
    """Rows -> one row per id (the first in sorted order, so every runner keeps the same), each repeat
    of an id to the dead letter as ``kind`` (its reason names the ``noun``: "item id repeated ..."); rows
    without an id pass on, for the next step to dead-letter.

    Outputs: ``rows`` (main) and :data:`DEAD_LETTER`.
    """

    def __init__(self, table: layout.TableSpec, noun: str, kind: str):
        super().__init__()
        self._table, self._noun, self._kind = table, noun, kind

    def expand(self, rows):
        column, name = self._table.id, self._table.name
        with_id, without_id = rows | "SplitById" >> beam.Partition(lambda row, _: int(cells.is_missing(row.get(column))), 2)
        kept = (
            with_id
            | "KeyById" >> beam.Map(lambda row: (cells.normalize_id(row[column]), row))
            | "GroupById" >> beam.GroupByKey()
            | "FirstRowPerId" >> beam.FlatMap(_first_row_per_id, name, self._noun, self._kind).with_outputs(DEAD_LETTER, main="rows")
        )
        return {"rows": (kept.rows, without_id) | "RowsWithAndWithoutId" >> beam.Flatten(),
                DEAD_LETTER: kept[DEAD_LETTER]}


class ParseUser(beam.DoFn):
    """Users-table row -> (user_id, profile) with the ``contract.USER_*`` features, or a dead letter."""

    def __init__(self, table: layout.TableSpec):
        self._table = table

    def process(self, row: dict):
        table = self._table
        if cells.is_missing(row.get(table.id)):
            yield dead_letter("users", None, f"column {table.id} is empty in row {json.dumps(row, default=str)[:200]}", "user_missing_id")
            return
        tokens, numeric, mask = categorical_and_numeric(row, table)
        yield cells.normalize_id(row[table.id]), {
            contract.USER_CATEGORICAL: tokens, contract.USER_NUMERIC: numeric, contract.USER_NUMERIC_MASK: mask,
        }


def frequency_sorted(counts: list[tuple[str, int]], min_count: int = 1, limit: int | None = None) -> list[str]:
    """Tokens with at least ``min_count``, most frequent first, ties by token (deterministic)."""
    kept = sorted((c for c in counts if c[1] >= min_count), key=lambda c: (-c[1], c[0]))
    return [token for token, _ in kept[:limit]]


class MeanStd(beam.CombineFn):
    """Mean and standard deviation of floats (std of at least 1e-6 so it can divide)."""

    def create_accumulator(self):
        return 0, 0.0, 0.0

    def add_input(self, acc, value):
        n, total, squares = acc
        return n + 1, total + value, squares + value * value

    def merge_accumulators(self, accumulators):
        n, total, squares = 0, 0.0, 0.0
        for a, b, c in accumulators:
            n, total, squares = n + a, total + b, squares + c
        return n, total, squares

    def extract_output(self, acc):
        n, total, squares = acc
        if n == 0:
            return 0.0, 1.0
        mean = total / n
        return mean, max(math.sqrt(max(squares / n - mean * mean, 0.0)), 1e-6)
