"""Fixtures for extraction tests: a small synthetic dataset and helpers to read features back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
from braidrec.config import SynthConfig
from braidrec.data.synth import generate_synthetic
from braidrec.features import contract


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    """40 items (with corrupt and missing images), 30 users: enough for every extraction path."""
    root = tmp_path_factory.mktemp("small") / "data"
    generate_synthetic(root, SynthConfig(items=40, users=30, topics=3, categories=2, seed=3, history_mean=8,
                                         missing_image=0.1, corrupt=0.05))
    return root


def read_items(features: Path) -> dict[str, dict]:
    """Item id -> {feature: value} parsed from the items TFRecords (floats as NumPy arrays)."""
    import tensorflow as tf

    items = {}
    for path in sorted(features.glob(contract.ITEMS_PATTERN)):
        for raw in tf.data.TFRecordDataset(str(path)):
            example = tf.train.Example.FromString(raw.numpy()).features.feature
            parsed = {}
            for name, feature in example.items():
                kind = feature.WhichOneof("kind")
                values = getattr(feature, kind).value
                parsed[name] = np.asarray(values) if kind == "float_list" else list(values)
            items[parsed[contract.ITEM_ID][0].decode()] = parsed
    return items


def read_histories(features: Path) -> dict[str, bytes]:
    """User id -> the serialized history example (a canonical form of its content)."""
    import tensorflow as tf

    out = {}
    for path in sorted(features.glob(contract.HISTORIES_PATTERN)):
        for raw in tf.data.TFRecordDataset(str(path)):
            example = tf.train.Example.FromString(raw.numpy())
            out[example.features.feature[contract.USER_ID].bytes_list.value[0].decode()] = example.SerializeToString(deterministic=True)
    return out


class FeatureReader:
    """The helpers above, handed to tests through a fixture."""

    items = staticmethod(read_items)
    histories = staticmethod(read_histories)


@pytest.fixture
def features_reader() -> FeatureReader:
    """Readers for extracted features."""
    return FeatureReader()
