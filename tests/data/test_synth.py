"""The synthetic dataset: valid, deterministic, knobs honoured, ground truth consistent."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from braidrec.config import SynthConfig
from braidrec.data.layout import DatasetSpec
from braidrec.data.synth import START_TIME, generate_synthetic
from braidrec.data.synth_truth import GroundTruth
from braidrec.data.synth_content import FILLER, FRAMES, TINTS, WORDS_PER_TOPIC
from braidrec.data.validate import validate_dataset

SMALL = SynthConfig(items=60, users=40, topics=4, categories=3, history_mean=8, history_min=3,
                    missing_image=0.1, corrupt=0.1, mismatch=0.1, missing_text=0.1)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """The small synthetic dataset, generated once for the module (read-only)."""
    root = tmp_path_factory.mktemp("synth") / "ds"
    generate_synthetic(root, SMALL)
    return root


@pytest.fixture(scope="module")
def truth(synth):
    return GroundTruth.load(synth)


def _tables(root):
    return {name: pd.read_parquet(root / f"{name}.parquet") for name in ("items", "users", "interactions")}


def _decodes(path) -> bool:
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except (OSError, SyntaxError):
        return False


def test_generated_dataset_is_valid_and_complete(synth):
    assert validate_dataset(synth) == []
    spec = DatasetSpec.load(synth)
    assert spec.items.numeric == ("price", "year") and spec.users.categorical == ("segment",)
    assert spec.ground_truth == "ground_truth.npz"
    tables = _tables(synth)
    assert tables["items"]["item_id"].tolist()[:2] == ["i00001", "i00002"] and len(tables["items"]) == 60
    assert tables["users"]["user_id"].tolist()[-1] == "u00040"
    assert not [p.name for p in synth.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_same_seed_same_bytes_other_seed_differs(synth, tmp_path):
    again = generate_synthetic(tmp_path / "again", SMALL).root
    other = generate_synthetic(tmp_path / "other", dataclasses.replace(SMALL, seed=1)).root
    for name in ("items", "users", "interactions"):
        pd.testing.assert_frame_equal(_tables(synth)[name], _tables(again)[name])
    for name in ("ground_truth.npz", "images/i00001.png", "dataset.yaml"):
        assert (synth / name).read_bytes() == (again / name).read_bytes()
    assert not _tables(synth)["interactions"].equals(_tables(other)["interactions"])


def test_image_knobs(synth, truth):
    items = _tables(synth)["items"]
    masks = {name: truth.arrays[name] for name in ("missing_image", "corrupt_image", "mismatched")}
    for name, mask in masks.items():
        assert mask.sum() == round(0.1 * 60), name
    assert not (masks["missing_image"] & masks["corrupt_image"]).any()
    for i, path in enumerate(items["image_path"]):
        if masks["missing_image"][i]:
            assert path is None or pd.isna(path)
            assert not (synth / "images" / f"{items.at[i, 'item_id']}.png").exists()
        elif masks["corrupt_image"][i]:
            assert (synth / path).stat().st_size > 0 and not _decodes(synth / path)
        else:
            with Image.open(synth / path) as image:
                assert image.mode == "RGB" and image.size == (64, 64)
    source = truth.arrays["mismatch_source"]
    for i in np.flatnonzero(masks["mismatched"]):
        assert (synth / items.at[i, "image_path"]).read_bytes() == (synth / items.at[source[i], "image_path"]).read_bytes()
        assert truth.item_topics[i].argmax() != truth.item_topics[source[i]].argmax()


def test_text_and_topics(synth):
    items = _tables(synth)["items"]
    about = json.loads((synth / "ground_truth.json").read_text())
    vocab = [set(topic["words"]) for topic in about["topics"]]
    assert all(len(words) == WORDS_PER_TOPIC and not words & set(FILLER) for words in vocab)
    assert len(set().union(*vocab)) == WORDS_PER_TOPIC * len(vocab)  # disjoint across topics
    assert items["title"].str.len().min() > 0
    no_text = items["description"].isna() | (items["description"] == "")
    assert no_text.sum() == round(0.1 * 60) and (items["description"] == "").any() and items["description"].isna().any()
    assert np.array_equal(no_text.to_numpy(), GroundTruth.load(synth).arrays["missing_text"])
    described = items["description"][~no_text].str.split()
    # The last four words name the picture's look (see test_descriptions_name_the_pictures_look).
    assert described.map(len).between(12 + 4, 25 + 4).all()
    topical = set().union(*vocab)
    words = [w for text in described for w in text[:-4]]
    assert 0.45 < np.mean([w in topical for w in words]) < 0.75


def test_descriptions_name_the_pictures_look(synth):
    items = _tables(synth)["items"]
    truth = GroundTruth.load(synth).arrays
    for row in np.flatnonzero(~truth["missing_text"]):
        tint, frame = list(TINTS)[truth["item_tint"][row]], list(FRAMES)[truth["item_frame"][row]]
        assert items["description"][row].endswith(f"{tint} backdrop {frame} frame")
    clean = np.flatnonzero(~(truth["missing_image"] | truth["corrupt_image"] | truth["mismatched"]))
    row = clean[0]
    pixels = np.asarray(Image.open(synth / items["image_path"][row]).convert("RGB"), np.float64)
    # The frame's colour runs along the border; the tint shows in the backdrop.
    np.testing.assert_allclose(pixels[0].mean(axis=0), FRAMES[list(FRAMES)[truth["item_frame"][row]]], atol=12)


def test_interactions_follow_the_rules(synth, truth):
    events = _tables(synth)["interactions"]
    assert events["timestamp"].dtype == np.int64 and events["timestamp"].min() > START_TIME
    assert events.groupby("user_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing).all()
    assert events["rating"].between(1, 5).all()
    repeated = events[events.duplicated(["user_id", "item_id"], keep=False)]
    assert len(repeated) >= 2  # at least one (user, item) pair appears twice, later the second time
    per_user = events.drop_duplicates(["user_id", "item_id"]).groupby("user_id").size()
    assert per_user.min() >= SMALL.history_min and per_user.max() <= SMALL.items // 2
    true = np.array([truth.scores([u], [i])[0, 0] for u, i in zip(events["user_id"], events["item_id"])])
    assert np.corrcoef(true, events["rating"])[0, 1] > 0.3


def test_ground_truth_scores(truth):
    users, items = ["u00003", "u00001"], ["i00010", "i00002", "i00060"]
    scores = truth.scores(users, items)
    assert scores.shape == (2, 3)
    u, i = 2, 9
    expected = truth.preference_weight * truth.user_prefs[u] @ truth.item_topics[i] + truth.item_bias[i]
    assert scores[0, 0] == pytest.approx(float(expected), rel=1e-5)
    assert truth.item_topics.shape == (60, 4) and truth.user_prefs.shape == (40, 4)
    assert np.allclose(truth.item_topics.sum(axis=1), 1, atol=1e-5)
    assert truth.item_bias.std() == pytest.approx(1.0, rel=1e-3)
    with pytest.raises(KeyError, match="item id 'nope'"):
        truth.scores(users, ["nope"])
    with pytest.raises(KeyError, match="user id 'ghost'"):
        truth.scores(["ghost"], items)


def test_interacted_items_score_higher_than_random(synth, truth):
    events = _tables(synth)["interactions"]
    all_scores = truth.scores(truth.user_ids, truth.item_ids)
    user_row = {u: k for k, u in enumerate(truth.user_ids)}
    item_col = {i: k for k, i in enumerate(truth.item_ids)}
    chosen = all_scores[events["user_id"].map(user_row), events["item_id"].map(item_col)]
    assert chosen.mean() > all_scores.mean() + 0.5


def test_popularity_skew_sets_the_bias_spread(tmp_path):
    flat = generate_synthetic(tmp_path / "flat", dataclasses.replace(SMALL, popularity_skew=0.5)).root
    assert GroundTruth.load(flat).item_bias.std() == pytest.approx(0.5, rel=1e-3)


def test_rerun_replaces_previous_synthetic_dataset(tmp_path):
    root = tmp_path / "ds"
    generate_synthetic(root, dataclasses.replace(SMALL, items=20, users=5))
    generate_synthetic(root, dataclasses.replace(SMALL, items=30, users=5))
    assert len(pd.read_parquet(root / "items.parquet")) == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


@pytest.mark.parametrize("existing", ["foreign directory", "file"])
def test_refuses_to_overwrite_other_data(tmp_path, existing):
    target = tmp_path / "precious"
    if existing == "file":
        target.write_text("keep me")
    else:
        target.mkdir()
        (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="precious"):
        generate_synthetic(target, SMALL)
    assert "keep me" in (target.read_text() if existing == "file" else (target / "notes.txt").read_text())


@pytest.mark.parametrize("field, value", [("items", 1), ("topics", 0), ("corrupt", 1.5), ("missing_image", 0.9)])
def test_bad_config_is_refused(tmp_path, field, value):
    config = dataclasses.replace(SMALL, **{field: value, "mismatch": 0.2})
    with pytest.raises(ValueError, match=field):
        generate_synthetic(tmp_path / "ds", config)


def test_no_ground_truth_gives_none(tiny_dataset):
    assert GroundTruth.load(tiny_dataset) is None
