"""dataset.yaml parsing, table reading in every format, and the cell parsers."""

from __future__ import annotations

import math
import os
import pickle

import numpy as np
import pandas as pd
import pytest
import yaml

from braidrec.data import layout
from braidrec.data.layout import (
    DatasetError,
    DatasetSpec,
    parse_timestamp,
    resolve_image_path,
    split_list,
    write_dataset_yaml,
)
from braidrec.data.tables import read_table


def test_load_reads_roles_and_infers_formats(tiny_dataset):
    spec = DatasetSpec.load(tiny_dataset)
    assert spec.name == "tiny" and spec.root == tiny_dataset and spec.ground_truth is None
    assert spec.items.format == "parquet" and spec.items.text == ("title", "description")
    assert spec.items.columns() == ("item_id", "title", "image_path", "description", "tags", "price")
    assert spec.interactions.columns() == ("user_id", "item_id", "timestamp", "rating")
    assert [t.name for t in spec.tables()] == ["items", "interactions", "users"]


@pytest.mark.parametrize("items, title", [
    ({"text": ["name", "body"]}, "name"),
    ({"text": "body"}, "body"),
    ({}, "item_id"),
    ({"title": "label", "text": ["body"]}, "label"),
])
def test_title_defaults_to_first_text_column_then_id(tmp_path, items, title):
    write_dataset_yaml(tmp_path, {
        "items": {"path": "items.csv", "id": "item_id", **items},
        "interactions": {"path": "events.ndjson", "user": "u", "item": "i", "timestamp": "t"},
    })
    spec = DatasetSpec.load(tmp_path)
    assert spec.items.title == title
    assert spec.name == tmp_path.name and spec.users is None and spec.interactions.format == "jsonl"


def _base():
    return {
        "items": {"path": "items.parquet", "id": "item_id"},
        "interactions": {"path": "events.parquet", "user": "u", "item": "i", "timestamp": "t"},
    }


BAD_LAYOUTS = {
    "not a mapping": (lambda m: ["items"], "must be a mapping"),
    "unknown top key": (lambda m: {**m, "user": m["items"]}, "unknown key 'user' (did you mean 'users'?)"),
    "missing items": (lambda m: {"interactions": m["interactions"]}, "missing required key 'items'"),
    "unknown role": (lambda m: {**m, "items": {**m["items"], "imgae": "x"}}, "unknown key 'items.imgae' (did you mean 'image'?)"),
    "role of another table": (lambda m: {**m, "items": {**m["items"], "user": "x"}}, "unknown key 'items.user'"),
    "missing role": (lambda m: {**m, "items": {"path": "items.parquet"}}, "missing required role 'id'"),
    "missing path": (lambda m: {**m, "items": {"id": "x"}}, "'items.path' is required"),
    "unknown format": (lambda m: {**m, "items": {**m["items"], "format": "parket"}}, "(did you mean 'parquet'?)"),
    "unknown extension": (lambda m: {**m, "items": {**m["items"], "path": "items.xlsx"}}, "cannot infer the format"),
    "bad list role": (lambda m: {**m, "items": {**m["items"], "numeric": [1, 2]}}, "'items.numeric' must be a list"),
    "bad scalar role": (lambda m: {**m, "items": {**m["items"], "image": ["a", "b"]}}, "'items.image' must be one column"),
    "table not mapping": (lambda m: {**m, "users": "users.csv"}, "'users' must be a mapping"),
}


@pytest.mark.parametrize("change, message", list(BAD_LAYOUTS.values()), ids=list(BAD_LAYOUTS))
def test_bad_layouts_name_the_file_and_key(tmp_path, change, message):
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump(change(_base())))
    with pytest.raises(DatasetError) as caught:
        DatasetSpec.load(tmp_path)
    assert message in str(caught.value)
    assert caught.value.file.endswith("dataset.yaml") and str(caught.value).startswith(caught.value.file)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_every_format_reads_the_same(tmp_path, tiny, fmt):
    tables = tiny.tables()
    tables["items"]["item_id"] = ["007", "b", "c", "d"]
    tables["interactions"]["item_id"] = ["007", "b", "b", "c", "d", "007"]
    root = tiny.write(tmp_path / fmt, fmt, tables)
    spec = DatasetSpec.load(root)
    items = read_table(spec, spec.items)
    events = read_table(spec, spec.interactions)
    assert items["item_id"].tolist() == ["007", "b", "c", "d"]
    assert [split_list(v) for v in items["tags"]] == [["toy", "red"], ["box"], [], ["jewel"]]
    prices = items["price"].astype(float).tolist()
    assert prices[:2] == [1.5, 2.0] and math.isnan(prices[2]) and prices[3] == 30.0
    assert [layout.is_missing(v) for v in items["image_path"]] == [False, False, True, False]
    assert events["item_id"].tolist() == ["007", "b", "b", "c", "d", "007"]
    assert [parse_timestamp(v) for v in events["timestamp"]] == tables["interactions"]["timestamp"].tolist()
    assert read_table(spec, spec.users)["age"].astype(int).tolist() == [30, 41, 52]


def test_numeric_ids_become_strings(tmp_path, tiny):
    tables = tiny.tables()
    tables["users"]["user_id"] = [1, 2, 3]
    tables["interactions"]["user_id"] = [1.0, 1.0, 2.0, 2.0, 3.0, float("nan")]
    root = tiny.write(tmp_path / "ids", "parquet", tables)
    spec = DatasetSpec.load(root)
    assert read_table(spec, spec.users)["user_id"].tolist() == ["1", "2", "3"]
    assert read_table(spec, spec.interactions)["user_id"].tolist() == ["1", "1", "2", "2", "3", None]


@pytest.mark.parametrize("setup, message", [
    (lambda root: (root / "items.parquet").unlink(), "items table not found"),
    (lambda root: (root / "items.parquet").write_bytes(b"PAR1 not parquet"), "cannot read as parquet"),
])
def test_read_table_errors_name_the_file(tiny_dataset, setup, message):
    setup(tiny_dataset)
    spec = DatasetSpec.load(tiny_dataset)
    with pytest.raises(DatasetError) as caught:
        read_table(spec, spec.items)
    assert caught.value.file == "items.parquet" and message in caught.value.detail


def test_bad_jsonl_line_is_named(tmp_path, tiny):
    root = tiny.write(tmp_path / "j", "jsonl")
    with open(root / "users.jsonl", "a") as handle:
        handle.write("{broken\n")
    spec = DatasetSpec.load(root)
    with pytest.raises(DatasetError, match=r"users.jsonl: line 4 is not valid JSON"):
        read_table(spec, spec.users)


@pytest.mark.parametrize("value, expected", [
    (["a", " b ", None, ""], ["a", "b"]),
    (("x",), ["x"]),
    (np.array(["p", "q"]), ["p", "q"]),
    ("red| blue ||green", ["red", "blue", "green"]),
    ("solo", ["solo"]),
    (7, ["7"]),
    (None, []),
    (float("nan"), []),
    ("", []),
    ("   ", []),
    ([], []),
    # Wrong-type cells (validation reports them) read as missing, not as their Python repr.
    ([["nested"], "b", {"k": 1}, 3, True], ["b", "3", "True"]),
    ({"en": "x"}, []),
    (True, ["True"]),  # a bool column's value, as before
])
def test_split_list(value, expected):
    assert split_list(value) == expected


@pytest.mark.parametrize("value, expected", [
    (1600000000, 1600000000),
    (np.int64(1600000000), 1600000000),
    (1600000000.0, 1600000000),
    (1600000000.7, 1600000000),
    ("1600000000", 1600000000),
    (" 1.6e9 ", 1600000000),
    ("2020-01-01", 1577836800),
    ("2020-01-01T00:00:00Z", 1577836800),
    ("2020-01-01T02:00:00+02:00", 1577836800),
    ("2020-01-01 00:00:01.5", 1577836801),
    (pd.Timestamp("2020-01-01"), 1577836800),
    (np.datetime64("2020-01-01T00:00:00"), 1577836800),
    (0, 0),
])
def test_parse_timestamp_accepts(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("value, message", [
    ("yesterday", "cannot parse timestamp 'yesterday'"),
    ("", "empty"),
    (None, "empty"),
    (float("nan"), "empty"),
    (float("inf"), "not a finite number"),
    (True, "empty or not a time"),
    (-1, "before 1970"),
    ("1969-12-31", "before 1970"),
    (1600000000000, "after year 2200"),
    ("2200-01-01", "after year 2200"),
    ([1, 2], "cannot parse timestamp"),
])
def test_parse_timestamp_rejects(value, message):
    with pytest.raises(ValueError) as caught:
        parse_timestamp(value)
    assert message in str(caught.value)


def test_resolve_image_path_keeps_images_inside(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"x")
    os.symlink(outside, root / "images" / "link.png")
    os.symlink(root / "images", root / "alias")
    assert resolve_image_path(root, "images/a.png") == (root / "images" / "a.png").resolve()
    assert resolve_image_path(root, "alias/../images/./a.png") == (root / "images" / "a.png").resolve()
    for bad, message in [(str(outside), "absolute"), ("../secret.png", "outside"), ("images/link.png", "outside"),
                         ("C:\\images\\a.png", "absolute"), ("", "non-empty string"), (None, "non-empty string")]:
        with pytest.raises(DatasetError, match=message):
            resolve_image_path(root, bad)


def test_write_dataset_yaml_is_atomic_and_round_trips(tmp_path):
    mapping = {"name": "x", "items": {"path": "i.csv", "id": "id", "text": ("a", "b")},
               "interactions": {"path": "e.csv", "user": "u", "item": "i", "timestamp": "t"}}
    path = write_dataset_yaml(tmp_path, mapping)
    assert os.listdir(tmp_path) == ["dataset.yaml"]
    assert yaml.safe_load(path.read_text())["items"]["text"] == ["a", "b"]
    assert DatasetSpec.load(tmp_path).items.text == ("a", "b")


def test_dataset_error_pickles():
    err = pickle.loads(pickle.dumps(DatasetError("items.csv", "broken")))
    assert (err.file, err.detail, str(err)) == ("items.csv", "broken", "items.csv: broken")
