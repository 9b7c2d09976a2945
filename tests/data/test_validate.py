"""Each way to break a dataset is reported with the right file, row and column."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from braidrec.data.tables import CHUNK_ROWS
from braidrec.data.validate import (
    MAX_PER_KIND,
    InvalidDatasetError,
    Problem,
    count_problems,
    ensure_valid,
    format_report,
    validate_dataset,
)


def _outside_file(root):
    outside = root.parent / "outside.png"
    outside.write_bytes(b"not really a png, but it exists")
    return outside


def _symlink_out(root, tiny):
    os.symlink(_outside_file(root), root / "images" / "link.png")
    tiny.edit_cell(root, "items", 4, "image_path", "images/link.png")


def _drop(root, tiny, table, row):
    frame = pd.read_parquet(root / f"{table}.parquet").drop(index=row - 1)
    frame.to_parquet(root / f"{table}.parquet", index=False)


# Each case: (mutation of the valid tiny dataset, expected (table, row, column, message part)).
CASES = {
    "yaml missing": (lambda r, t: (r / "dataset.yaml").unlink(), ("dataset.yaml", None, None, "not found")),
    "yaml syntax": (lambda r, t: (r / "dataset.yaml").write_text("items: [oops\n"),
                    ("dataset.yaml", None, None, "not valid YAML")),
    "unknown top key": (lambda r, t: t.edit_layout(r, lambda m: m.update(interaction=m.pop("interactions"))),
                        ("dataset.yaml", None, None, "did you mean 'interactions'?")),
    "unknown role": (lambda r, t: t.edit_layout(r, lambda m: m["items"].update(categoricals=["tags"])),
                     ("dataset.yaml", None, None, "did you mean 'categorical'?")),
    "missing role": (lambda r, t: t.edit_layout(r, lambda m: m["interactions"].pop("timestamp")),
                     ("dataset.yaml", None, None, "missing required role 'timestamp'")),
    "unknown format": (lambda r, t: t.edit_layout(r, lambda m: m["items"].update(format="xlsx")),
                       ("dataset.yaml", None, None, "unknown format")),
    "ground truth missing": (lambda r, t: t.edit_layout(r, lambda m: m.update(ground_truth="truth.npz")),
                             ("dataset.yaml", None, None, "ground_truth file truth.npz does not exist")),
    "role names no column": (lambda r, t: t.edit_layout(r, lambda m: m["items"].update(text=["title", "descripton"])),
                             ("items.parquet", None, "descripton", "did you mean 'description'?")),
    "table file missing": (lambda r, t: (r / "interactions.parquet").unlink(),
                           ("interactions.parquet", None, None, "not found")),
    "table unreadable": (lambda r, t: (r / "users.parquet").write_bytes(b"garbage"),
                         ("users.parquet", None, None, "cannot read as parquet")),
    "empty table": (lambda r, t: pd.DataFrame({"user_id": [], "segment": [], "age": []}).to_parquet(r / "users.parquet"),
                    ("users.parquet", None, None, "no rows")),
    "duplicate item": (lambda r, t: t.edit_cell(r, "items", 3, "item_id", "a"),
                       ("items.parquet", 3, "item_id", "duplicate item id 'a' (first in row 1)")),
    "duplicate user": (lambda r, t: t.edit_cell(r, "users", 2, "user_id", "u1"),
                       ("users.parquet", 2, "user_id", "duplicate user id 'u1'")),
    "empty item id": (lambda r, t: t.edit_cell(r, "items", 2, "item_id", None),
                      ("items.parquet", 2, "item_id", "empty item id")),
    "unknown item": (lambda r, t: t.edit_cell(r, "interactions", 4, "item_id", "zzz"),
                     ("interactions.parquet", 4, "item_id", "'zzz' is not in items.parquet")),
    "dropped item": (lambda r, t: _drop(r, t, "items", 4),
                     ("interactions.parquet", 5, "item_id", "'d' is not in items.parquet")),
    "unknown user": (lambda r, t: t.edit_cell(r, "interactions", 1, "user_id", "nobody"),
                     ("interactions.parquet", 1, "user_id", "'nobody' is not in users.parquet")),
    "empty user": (lambda r, t: t.edit_cell(r, "interactions", 5, "user_id", None),
                   ("interactions.parquet", 5, "user_id", "empty user id")),
    "junk timestamp": (lambda r, t: t.edit_cell(r, "interactions", 2, "timestamp", "yesterday"),
                       ("interactions.parquet", 2, "timestamp", "cannot parse timestamp 'yesterday'")),
    "negative timestamp": (lambda r, t: t.edit_cell(r, "interactions", 3, "timestamp", -5),
                           ("interactions.parquet", 3, "timestamp", "before 1970")),
    "milliseconds": (lambda r, t: t.edit_cell(r, "interactions", 3, "timestamp", 1600000000000),
                     ("interactions.parquet", 3, "timestamp", "after year 2200")),
    "empty timestamp": (lambda r, t: t.edit_cell(r, "interactions", 6, "timestamp", None),
                        ("interactions.parquet", 6, "timestamp", "empty timestamp")),
    "weight not numeric": (lambda r, t: t.edit_cell(r, "interactions", 2, "rating", "five"),
                           ("interactions.parquet", 2, "rating", "'five' is not a finite number")),
    "price not numeric": (lambda r, t: t.edit_cell(r, "items", 4, "price", "cheap"),
                          ("items.parquet", 4, "price", "'cheap' is not a finite number")),
    "age not numeric": (lambda r, t: t.edit_cell(r, "users", 1, "age", "old"),
                        ("users.parquet", 1, "age", "'old' is not a finite number")),
    "image absolute": (lambda r, t: t.edit_cell(r, "items", 1, "image_path", str(_outside_file(r))),
                       ("items.parquet", 1, "image_path", "absolute image paths are refused")),
    "image escapes": (lambda r, t: (_outside_file(r), t.edit_cell(r, "items", 2, "image_path", "../outside.png")),
                      ("items.parquet", 2, "image_path", "outside the dataset directory")),
    "image symlink escapes": (_symlink_out, ("items.parquet", 4, "image_path", "outside the dataset directory")),
    "image missing": (lambda r, t: t.edit_cell(r, "items", 4, "image_path", "images/nope.png"),
                      ("items.parquet", 4, "image_path", "image file images/nope.png does not exist")),
    "image empty file": (lambda r, t: (r / "images" / "a.png").write_bytes(b""),
                         ("items.parquet", 1, "image_path", "empty (0 bytes)")),
}


def test_tiny_dataset_is_valid(tiny_dataset):
    assert validate_dataset(tiny_dataset) == []
    assert format_report([]) == "no problems found"
    assert ensure_valid(tiny_dataset).name == "tiny"


# One row per chunk puts every row check across a chunk boundary (repeated ids, row numbers, empty tables).
@pytest.mark.parametrize("chunk_rows", [1, CHUNK_ROWS])
@pytest.mark.parametrize("mutate, expected", list(CASES.values()), ids=list(CASES))
def test_each_problem_is_reported_where_it_is(tiny_dataset, tiny, mutate, expected, chunk_rows):
    mutate(tiny_dataset, tiny)
    problems = validate_dataset(tiny_dataset, chunk_rows)
    table, row, column, part = expected
    matches = [p for p in problems if (p.table, p.row, p.column) == (table, row, column) and part in p.message]
    assert matches, f"expected {expected} in:\n{format_report(problems)}"
    with pytest.raises(InvalidDatasetError) as caught:
        ensure_valid(tiny_dataset)
    assert caught.value.problems == validate_dataset(tiny_dataset)
    assert part in str(caught.value)


@pytest.mark.parametrize("chunk_rows", [1, 2, CHUNK_ROWS])
@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_formats_report_the_same_problems(tmp_path, tiny, fmt, chunk_rows):
    tables = tiny.tables()
    tables["items"].loc[2, "item_id"] = "a"
    tables["interactions"].loc[3, "item_id"] = "zzz"
    tables["interactions"]["timestamp"] = tables["interactions"]["timestamp"].astype(str)
    tables["interactions"].loc[1, "timestamp"] = "yesterday"
    root = tiny.write(tmp_path / fmt, fmt, tables)
    ext = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}[fmt]
    found = {(p.table, p.row, p.column) for p in validate_dataset(root, chunk_rows)}
    assert found == {
        (f"items{ext}", 3, "item_id"),
        (f"interactions{ext}", 4, "item_id"),
        (f"interactions{ext}", 2, "timestamp"),
    }


def test_iso_timestamps_and_list_cells_are_valid(tmp_path, tiny):
    tables = tiny.tables()
    tables["interactions"]["timestamp"] = ["2020-01-01", "2020-01-01T10:00:00Z", "2021-05-05T01:02:03+02:00",
                                           "1600000000", "1600000000.5", "2020-02-02 12:00"]
    tables["items"]["tags"] = ["toy|red", "", None, "jewel"]
    assert validate_dataset(tiny.write(tmp_path / "iso", "parquet", tables)) == []


def test_problems_are_capped_per_kind_but_all_counted(tmp_path, tiny):
    tables = tiny.tables()
    rows = 120
    tables["interactions"] = pd.DataFrame({
        "user_id": ["u1"] * rows, "item_id": ["a"] * rows, "timestamp": ["junk"] * rows, "rating": [1] * rows,
    })
    problems = validate_dataset(tiny.write(tmp_path / "many", "parquet", tables))
    assert len(problems) == MAX_PER_KIND + 1
    summary = problems[-1]
    assert summary.omitted == rows - MAX_PER_KIND and "70 more" in summary.message
    assert count_problems(problems) == rows
    assert format_report(problems).splitlines()[-1] == f"{rows} problems found"


def test_problem_text_names_file_row_and_column():
    problem = Problem("items.parquet", 12, "image_path", "image file images/12.png does not exist")
    assert str(problem) == "items.parquet row 12 column image_path: image file images/12.png does not exist"
    assert str(Problem("dataset.yaml", None, None, "not found")) == "dataset.yaml: not found"


def test_cli_exit_status_and_report(tiny_dataset, tiny, capsys):
    # `braid data validate` is the one command-line entry to the validator.
    from braidrec.pipeline import cli

    assert cli.main(["data", "validate", str(tiny_dataset)]) == 0
    tiny.edit_cell(tiny_dataset, "items", 3, "item_id", "a")
    assert cli.main(["data", "validate", str(tiny_dataset)]) == 1
    assert "items.parquet row 3 column item_id" in capsys.readouterr().out


# Cells of the wrong type, written as JSON lines (which, like Parquet, can hold any value in a cell).
TYPE_CASES = {
    "text holds a mapping": ("items", 2, "description", {"en": "a blue box"}, "text cells must be strings"),
    "title holds a list": ("items", 1, "title", ["Red", "Ball"], "text cells must be strings"),
    "categorical holds a mapping": ("items", 4, "tags", {"kind": "jewel"}, "use a list"),
    "user categorical holds a bool": ("users", 3, "segment", True, "use a list"),
}


@pytest.mark.parametrize("table, row, column, value, part", list(TYPE_CASES.values()), ids=list(TYPE_CASES))
def test_wrong_types_are_reported(tmp_path, tiny, table, row, column, value, part):
    tables = tiny.tables()
    frame = tables[table].astype(object)
    frame.at[row - 1, column] = value
    tables[table] = frame
    problems = validate_dataset(tiny.write(tmp_path / "typed", "jsonl", tables))
    where = [(p.table, p.row, p.column) for p in problems if part in p.message]
    assert where == [(f"{table}.jsonl", row, column)], format_report(problems)


def test_nested_list_cells_are_reported():
    from braidrec.data.layout import TableSpec
    from braidrec.data.validate_types import check_types

    table = TableSpec(name="items", path="items.parquet", format="parquet", id="item_id", categorical=("tags",))
    frame = pd.DataFrame({"item_id": ["a", "b"], "tags": [["toy", "red"], ["toy", ["red"]]]})
    found = []
    check_types(table, frame, lambda *args: found.append(args))
    assert [(row, column) for _, _, row, column, _ in found] == [(2, "tags")]
    assert "list cells must hold strings or numbers" in found[0][-1]
