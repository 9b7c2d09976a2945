"""The contract's metadata and examples: old feature directories still load, new sizes and user profiles round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from braidrec.features import contract, readers


def _vocab_dir(root, encoders=None):
    vocab = root / contract.VOCAB_DIR
    vocab.mkdir(parents=True)
    for name in (contract.ITEM_VOCAB, contract.USER_VOCAB, contract.TEXT_VOCAB, contract.CATEGORICAL_VOCAB):
        (vocab / name).write_text("a\n")
    (vocab / contract.NUMERIC_STATS).write_text(json.dumps({"names": ["x"], "mean": [0.0], "std": [1.0]}))
    if encoders is not None:
        (vocab / contract.ENCODERS).write_text(json.dumps(encoders))
    return root


@pytest.mark.parametrize("encoders, image_dim, text_dim", [
    (None, contract.IMAGE_DESCRIPTOR_DIM, 0),
    ({"image": {"name": "descriptor", "dim": 120}, "text": None}, 120, 0),
    ({"image": {"name": "/m.keras", "dim": 7}, "text": {"name": "minilm", "dim": 5}}, 7, 5),
])
def test_vocabularies_expose_encoder_sizes(tmp_path, encoders, image_dim, text_dim):
    vocab = contract.Vocabularies.load(_vocab_dir(tmp_path, encoders))
    assert (vocab.image_dim, vocab.text_embedding_dim) == (image_dim, text_dim)


@pytest.mark.parametrize("text_dim", [0, 5])
def test_item_example_round_trips_with_and_without_text_embedding(text_dim):
    import tensorflow as tf

    item = {
        contract.ITEM_ID: "i1", contract.TITLE: "T", contract.TEXT: "t", contract.HAS_TEXT: 1,
        contract.IMAGE: [0.5] * 7, contract.THUMBNAIL: b"\x00", contract.HAS_IMAGE: 1,
        contract.CATEGORICAL: ["g=a"], contract.NUMERIC: [1.0], contract.NUMERIC_MASK: [1.0],
    }
    if text_dim:
        item[contract.TEXT_EMBEDDING] = list(np.arange(text_dim, dtype=float))
    parsed = tf.io.parse_single_example(contract.item_example(item), contract.item_feature_spec(1, 7, text_dim))
    assert parsed[contract.IMAGE].shape == (7,)
    assert (contract.TEXT_EMBEDDING in parsed) == bool(text_dim)
    if text_dim:
        np.testing.assert_array_equal(parsed[contract.TEXT_EMBEDDING].numpy(), np.arange(text_dim))


def test_feature_directories_without_user_profiles_load_with_none(tmp_path):
    vocab = contract.Vocabularies.load(_vocab_dir(tmp_path))
    assert (vocab.user_categorical, vocab.user_numeric_names) == ([], [])


@pytest.mark.parametrize("profile", [
    None,
    {contract.USER_CATEGORICAL: ["gender=F", "job=nurse"], contract.USER_NUMERIC: [31.0, 0.0], contract.USER_NUMERIC_MASK: [1.0, 0.0]},
])
def test_history_example_round_trips_the_user_profile(tmp_path, profile):
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(tmp_path / "histories-00000.tfrecord")) as writer:
        writer.write(contract.history_example("u1", ["a", "b"], [1, 2], [0, 1], profile))
        writer.write(contract.history_example("u2", ["c"], [3], [0], None))
    first, second = readers.load_histories(tmp_path)
    expected = profile or {}
    assert first.items == ["a", "b"] and first.splits == [0, 1]
    assert first.categorical == expected.get(contract.USER_CATEGORICAL, [])
    assert first.numeric == expected.get(contract.USER_NUMERIC, [])
    assert first.numeric_mask == expected.get(contract.USER_NUMERIC_MASK, [])
    assert (second.categorical, second.numeric, second.numeric_mask) == ([], [], [])
