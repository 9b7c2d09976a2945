"""The extraction job's artefacts on the tiny run, and refusal of invalid datasets."""

import json

import pandas as pd
import pytest

from braidrec.config import ExtractConfig
from braidrec.data import layout
from braidrec.data.validate import InvalidDatasetError
from braidrec.features import contract, readers
from braidrec.pipeline.extract import _join_profile
from braidrec.pipeline.extract_runner import run_extract
from braidrec.pipeline.extract_transforms import ParseUser


def test_outputs_exist(tiny_run):
    features = tiny_run["features"]
    assert list(features.glob(contract.ITEMS_PATTERN))
    assert list(features.glob(contract.HISTORIES_PATTERN))
    for name in contract.SPLIT_NAMES:
        assert (features / contract.SPLITS_DIR / f"{name}.parquet").is_file()
    for name in (contract.ITEM_VOCAB, contract.USER_VOCAB, contract.TEXT_VOCAB, contract.CATEGORICAL_VOCAB, contract.NUMERIC_STATS,
                 contract.USER_CATEGORICAL_VOCAB, contract.USER_NUMERIC_STATS):
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
    catalogue = readers.load_catalogue(tiny_run["features"])
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
    catalogue = readers.load_catalogue(tiny_run["features"])
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


def test_histories_carry_each_users_profile_from_the_users_table(tiny_run, tiny_manifest):
    users = pd.read_parquet(tiny_run["data"] / "users.parquet").set_index("user_id")
    histories = readers.load_histories(tiny_run["features"])
    for history in histories:
        row = users.loc[history.user_id]
        assert history.categorical == [f"segment={row['segment']}"]
        assert (history.numeric, history.numeric_mask) == ([float(row["age"])], [1.0])
    vocab = contract.Vocabularies.load(tiny_run["features"])
    assert set(vocab.user_categorical) == {f"segment={s}" for s in users.loc[[h.user_id for h in histories], "segment"]}
    assert vocab.user_numeric_names == ["age"]
    assert abs(vocab.user_numeric_mean[0] - users.loc[[h.user_id for h in histories], "age"].mean()) < 1e-6
    counts = tiny_manifest["counts"]
    assert counts["users_with_profile"] == counts["users"] == len(histories)


def test_user_rows_without_an_id_or_repeated_go_to_the_dead_letter(tiny_run):
    spec = layout.DatasetSpec.load(tiny_run["data"])
    missing = list(ParseUser(spec.users).process({"user_id": None, "segment": "s", "age": 3}))
    assert [m.value["kind"] for m in missing] == ["user_missing_id"]
    (user_id, profile), = ParseUser(spec.users).process({"user_id": "u9", "segment": "s", "age": "n/a"})
    assert (user_id, profile[contract.USER_NUMERIC_MASK]) == ("u9", [0.0])
    other = {**profile, contract.USER_CATEGORICAL: ["segment=t"]}
    out = list(_join_profile(("u9", {"pairs": [("i1", 5)], "profile": [other, profile]}), set()))
    assert [o.value["kind"] for o in out[:-1]] == ["user_duplicate_id"]
    assert out[-1].profile == profile, "the first profile in sorted order is kept, whatever the runner's order"
    assert list(_join_profile(("u8", {"pairs": [], "profile": [profile]}), set())) == []
