"""`extract.bad_records`: refuse a dataset with bad records, or run past them into the dead letter."""

import json

import numpy as np
import pytest

from braidrec.config import ExtractConfig
from braidrec.data.validate import InvalidDatasetError
from braidrec.features import contract, readers
from braidrec.pipeline.extract_runner import run_extract

# One of each record problem the extraction job can take on, besides 20 clean items.
BAD_ITEMS = [
    {"item_id": "i3", "title": "a repeat of i3", "tags": "x", "price": 3},    # duplicate-id
    {"item_id": "i5", "image": "img/missing.png"},                              # image-missing
    {"item_id": "i6", "price": "cheap"},                                        # not-numeric
    {"item_id": "i7", "price": "inf"},                                          # not-numeric (not finite)
    {"item_id": "i8", "title": {"en": "a mapping"}},                            # wrong-type text
    {"item_id": "i9", "tags": [["nested"], "b"]},                               # wrong-type list
    {"item_id": None, "title": "no id"},                                        # empty-id
]
BAD_INTERACTIONS = [{"user_id": "u0", "item_id": "zzz", "ts": 5_000},          # unknown-id
                    {"user_id": "u1", "item_id": "i1", "ts": "yesterday"}]      # timestamp


def _dataset(root, extra_yaml=""):
    root.mkdir()
    items = [{"item_id": f"i{i}", "title": f"item {i} word{i % 3}", "tags": f"t{i % 2}", "price": float(i)} for i in range(20)]
    clean = {row["item_id"] for row in BAD_ITEMS}
    items = [row for row in items if row["item_id"] not in clean] + [
        {"title": f"item {row['item_id']}", "tags": "t0", "price": 1.0, **row} for row in BAD_ITEMS if row["item_id"] != "i3"]
    items += [{"item_id": "i3", "title": "item 3", "tags": "t1", "price": 3.0}, BAD_ITEMS[0]]
    rng = np.random.default_rng(0)
    interactions = [{"user_id": f"u{u}", "item_id": f"i{i}", "ts": 1000 * u + k}
                    for u in range(15) for k, i in enumerate(rng.choice(20, size=8, replace=False))]
    for name, rows in (("items", items), ("interactions", interactions + BAD_INTERACTIONS)):
        (root / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (root / "dataset.yaml").write_text(
        "name: bad-records\n"
        "items: {path: items.jsonl, id: item_id, text: [title], categorical: [tags], numeric: [price], image: image"
        + extra_yaml + "}\ninteractions: {path: interactions.jsonl, user: user_id, item: item_id, timestamp: ts}\n")
    return root


def test_by_default_a_dataset_with_bad_records_is_refused_with_each_listed(tmp_path):
    with pytest.raises(InvalidDatasetError) as err:
        run_extract(_dataset(tmp_path / "data"), tmp_path / "features", ExtractConfig(num_shards=1))
    message = str(err.value)
    for what in ("duplicate item id", "missing.png", "cheap", "zzz", "yesterday"):
        assert what in message, what
    assert not (tmp_path / "features").exists()


def test_dead_letter_runs_past_bad_records_and_accounts_for_each(tmp_path):
    out = tmp_path / "features"
    manifest = run_extract(_dataset(tmp_path / "data"), out, ExtractConfig(num_shards=1, bad_records="dead_letter"))

    validation = manifest["validation"]
    assert validation["bad_records"] == "dead_letter"
    assert validation["by_kind"] == {"duplicate-id": 1, "empty-id": 1, "image-missing": 1, "not-numeric": 2,
                                     "timestamp": 1, "unknown-id": 1, "wrong-type": 2}
    listed = [json.loads(line) for line in (out / contract.DEAD_LETTER_DIR / "validation.jsonl").read_text().splitlines()]
    assert len(listed) == validation["problems"] == 9 and all(p["row"] and p["problem"] for p in listed)
    counts = manifest["counts"]
    for kind in ("item_duplicate_id", "item_missing_id", "image_missing", "interaction_unknown_item",
                 "interaction_bad_timestamp"):
        assert counts[f"dead_letter.{kind}"] == 1, kind
    assert manifest["interactions"]["balanced"]

    catalogue = readers.load_catalogue(out)
    ids = catalogue.item_ids.tolist()
    assert sorted(ids) == sorted(f"i{i}" for i in range(20)), "each item once, the row without an id left out"
    row = {item: k for k, item in enumerate(ids)}
    features = catalogue.features
    # The bad value is dropped, the rest of the record kept.
    assert features[contract.NUMERIC_MASK][[row["i6"], row["i7"]]].tolist() == [[0.0], [0.0]]
    assert features[contract.HAS_TEXT][row["i8"]] == 0 and features[contract.HAS_TEXT][row["i5"]] == 1
    assert [t for t in features[contract.CATEGORICAL][row["i9"]] if t] == [b"tags=b"]
    assert features[contract.HAS_IMAGE][row["i5"]] == 0
    # The repeated id keeps one of its rows: the first in sorted order, whatever the runner's order.
    assert catalogue.titles[row["i3"]] == "a repeat of i3"


def test_dead_letter_still_refuses_a_problem_of_the_whole_dataset(tmp_path):
    data = _dataset(tmp_path / "data")
    text = (data / "dataset.yaml").read_text().replace("numeric: [price]", "numeric: [price, weight]")
    (data / "dataset.yaml").write_text(text)
    with pytest.raises(InvalidDatasetError, match="weight") as err:
        run_extract(data, tmp_path / "features", ExtractConfig(num_shards=1, bad_records="dead_letter"))
    assert "cheap" not in str(err.value), "record problems are not what refused it"


def test_unknown_bad_records_mode_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(ValueError, match="--extract.bad_records 'skip'"):
        run_extract(tmp_path, tmp_path / "features", ExtractConfig(bad_records="skip"))
