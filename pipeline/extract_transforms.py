"""Beam transforms of the extraction job: table reading, item features, interactions.

Each DoFn sends a record it cannot use to the ``dead_letter`` output with the
table, the record's key and the reason, so nothing is dropped silently.
"""

from __future__ import annotations

import csv
import json
import math

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from braidrec.data import cells, layout
from braidrec.features import contract
from braidrec.pipeline import image_features

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


def _float_or_nan(value) -> float:
    if cells.is_missing(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class ExtractItem(beam.DoFn):
    """Turns an item row into per-modality features (see ``features.contract``).

    A missing or undecodable image sends a dead-letter record and the item keeps
    its other modalities with ``has_image = 0``.
    """

    def __init__(self, spec: layout.DatasetSpec, image_size: int):
        self._root = spec.root
        self._table = spec.items
        self._image_size = image_size

    def _image(self, item_id: str, cell):
        table = self._table
        empty = ([0.0] * contract.IMAGE_DESCRIPTOR_DIM, bytes(self._image_size * self._image_size * 3), 0)
        if table.image is None or cells.is_missing(cell):
            return empty, None
        try:
            path = layout.resolve_image_path(self._root, str(cell))
            with FileSystems.open(str(path)) as handle:
                data = handle.read()
            vector, thumb = image_features.image_features(data, self._image_size)
        except layout.DatasetError as err:
            return empty, dead_letter("items", item_id, f"column {table.image}: {err}", "image_path_refused")
        except FileNotFoundError as err:
            return empty, dead_letter("items", item_id, f"column {table.image}: image file not found: {err}", "image_missing")
        except image_features.ImageDecodeError as err:
            return empty, dead_letter("items", item_id, f"column {table.image}: {cell}: {err}", "image_corrupt")
        return (vector.tolist(), thumb, 1), None

    def process(self, row: dict):
        table = self._table
        if cells.is_missing(row.get(table.id)):
            yield dead_letter("items", None, f"column {table.id} is empty in row {json.dumps(row, default=str)[:200]}", "item_missing_id")
            return
        item_id = cells.normalize_id(row[table.id])
        text = contract.normalize_text(" ".join(str(row[c]) for c in table.text if not cells.is_missing(row.get(c))))
        title_column = table.title or (table.text[0] if table.text else table.id)
        (vector, thumb, has_image), problem = self._image(item_id, row.get(table.image) if table.image else None)
        if problem is not None:
            yield problem
        numeric = [_float_or_nan(row.get(c)) for c in table.numeric]
        yield {
            contract.ITEM_ID: item_id,
            contract.TITLE: "" if cells.is_missing(row.get(title_column)) else str(row[title_column]),
            contract.TEXT: text,
            contract.HAS_TEXT: int(bool(text)),
            contract.IMAGE: vector,
            contract.THUMBNAIL: thumb,
            contract.HAS_IMAGE: has_image,
            contract.CATEGORICAL: [f"{c}={v}" for c in table.categorical for v in cells.split_list(row.get(c))],
            contract.NUMERIC: [0.0 if math.isnan(v) else v for v in numeric],
            contract.NUMERIC_MASK: [0.0 if math.isnan(v) else 1.0 for v in numeric],
        }


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
