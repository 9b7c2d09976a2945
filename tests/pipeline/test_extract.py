"""The extraction job's artefacts on the tiny run, and refusal of invalid datasets."""

import json

import pandas as pd
import pytest

from braidrec.config import ExtractConfig
from braidrec.data.validate import InvalidDatasetError
from braidrec.features import contract
from braidrec.pipeline.extract_runner import run_extract


def test_outputs_exist(tiny_run):
    features = tiny_run["features"]
    assert list(features.glob(contract.ITEMS_PATTERN))
    assert list(features.glob(contract.HISTORIES_PATTERN))
    for name in contract.SPLIT_NAMES:
        assert (features / contract.SPLITS_DIR / f"{name}.parquet").is_file()
    for name in (contract.ITEM_VOCAB, contract.USER_VOCAB, contract.TEXT_VOCAB, contract.CATEGORICAL_VOCAB, contract.NUMERIC_STATS):
        assert (features / contract.VOCAB_DIR / name).is_file()
    assert not [p for p in features.parent.iterdir() if ".tmp-" in p.name]


def test_manifest_accounts_for_every_interaction(tiny_run, tiny_manifest):
    raw = pd.read_parquet(tiny_run["data"] / "interactions.parquet")
    accounting = tiny_manifest["interactions"]
    assert accounting["read"] == len(raw)
    assert accounting["balanced"]
    for name in contract.SPLIT_NAMES:
        rows = pd.read_parquet(tiny_run["features"] / contract.SPLITS_DIR / f"{name}.parquet")
        assert len(rows) == accounting[name], name
    assert set(tiny_manifest["inputs"]) >= {"dataset.yaml", "items.parquet", "interactions.parquet"}


def test_corrupt_images_go_to_dead_letter_and_items_stay(tiny_run, tiny_manifest):
    items = pd.read_parquet(tiny_run["data"] / "items.parquet")
    records = [json.loads(line) for line in (tiny_run["features"] / "dead_letter" / "records.jsonl").read_text().splitlines()]
    corrupt = {r["key"] for r in records if r["kind"] == "image_corrupt"}
    assert corrupt, "the tiny synthetic dataset should contain corrupt images"
    assert tiny_manifest["counts"]["dead_letter.image_corrupt"] == len(corrupt)
    catalogue = contract.load_catalogue(tiny_run["features"])
    assert len(catalogue) == len(items)
    rows = [catalogue.index()[item] for item in corrupt]
    assert (catalogue.features[contract.HAS_IMAGE][rows] == 0).all()


def test_split_files_follow_the_rules(tiny_run):
    splits = {n: pd.read_parquet(tiny_run["features"] / contract.SPLITS_DIR / f"{n}.parquet") for n in contract.SPLIT_NAMES}
    cold = set(splits["cold_test"]["item_id"])
    for name in ("train", "val", "test"):
        assert not cold & set(splits[name]["item_id"]), name
    assert splits["test"]["user_id"].is_unique and splits["val"]["user_id"].is_unique
    last_train = splits["train"].groupby("user_id")["timestamp"].max()
    test_ts = splits["test"].set_index("user_id")["timestamp"]
    assert (test_ts >= last_train.reindex(test_ts.index)).all()


def test_invalid_dataset_is_refused(tiny_run, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "dataset.yaml").write_text((tiny_run["data"] / "dataset.yaml").read_text())
    frame = pd.read_parquet(tiny_run["data"] / "items.parquet")
    frame = pd.concat([frame, frame.head(1)])
    frame.to_parquet(broken / "items.parquet")
    for name in ("interactions.parquet", "users.parquet"):
        (broken / name).write_bytes((tiny_run["data"] / name).read_bytes())
    with pytest.raises(InvalidDatasetError, match="items"):
        run_extract(broken, tmp_path / "features", ExtractConfig())
    assert not (tmp_path / "features").exists()


def test_text_vocabulary_keeps_tokens_found_in_enough_items(tiny_run):
    catalogue = contract.load_catalogue(tiny_run["features"])
    texts = [t.decode() if isinstance(t, bytes) else str(t) for t in catalogue.features[contract.TEXT]]
    config = ExtractConfig()
    needed = max(config.text_min_count, -(-config.text_min_item_share * len(texts) // 1))
    found: dict[str, int] = {}
    for text in texts:
        for token in set(text.split()):
            found[token] = found.get(token, 0) + 1
    vocab = (tiny_run["features"] / contract.VOCAB_DIR / contract.TEXT_VOCAB).read_text().split()
    assert set(vocab) == {t for t, n in found.items() if n >= needed}
    assert vocab, "the tiny catalogue must keep some text tokens"
