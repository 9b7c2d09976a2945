"""Reading a features directory back into memory: the catalogue's arrays and every user's history.

What the files hold is defined in :mod:`braidrec.features.contract`; the trainer,
the evaluator, the exporter and the benchmarks read them through these functions.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

import braidrec  # noqa: F401  (selects Keras 2 before TensorFlow loads)
import tensorflow as tf

from braidrec.features.contract import (
    HISTORIES_PATTERN, HISTORY_ITEMS, HISTORY_SPEC, HISTORY_SPLITS, HISTORY_TIMESTAMPS, ITEM_ID, ITEMS_PATTERN, PAD,
    TITLE, USER_CATEGORICAL, USER_ID, USER_NUMERIC, USER_NUMERIC_MASK, Vocabularies, item_feature_spec,
)


@dataclasses.dataclass
class Catalogue:
    """Every item's features as aligned arrays (row ``i`` is ``item_ids[i]``)."""

    item_ids: np.ndarray
    titles: np.ndarray
    features: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.item_ids)

    def index(self) -> dict[str, int]:
        """Item id -> row."""
        return {item: row for row, item in enumerate(self.item_ids.tolist())}

    def take(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The feature dict of the given rows."""
        return {name: values[rows] for name, values in self.features.items()}


def _read_records(features_dir: str | Path, pattern: str) -> tf.data.TFRecordDataset:
    files = sorted(str(p) for p in Path(features_dir).glob(pattern))
    if not files:
        raise FileNotFoundError(f"{features_dir}: no {pattern} files; run `braid extract` first")
    return tf.data.TFRecordDataset(files)


def load_catalogue(features_dir: str | Path) -> Catalogue:
    """Reads every item example into a :class:`Catalogue`, sorted by item id.

    Categorical tokens are padded with ``''`` to the longest item's count.
    """
    vocab = Vocabularies.load(features_dir)
    spec = item_feature_spec(len(vocab.numeric_names), vocab.image_dim, vocab.text_embedding_dim)
    batches = [
        tf.io.parse_example(batch, spec)
        for batch in _read_records(features_dir, ITEMS_PATTERN).batch(4096)
    ]
    merged: dict[str, np.ndarray] = {}
    for name in spec:
        parts = [b[name] for b in batches]
        if isinstance(parts[0], tf.SparseTensor):
            dense = [tf.sparse.to_dense(p, default_value=PAD) for p in parts]
            width = max(1, max(int(d.shape[1]) for d in dense))
            merged[name] = np.concatenate(
                [np.pad(d.numpy(), ((0, 0), (0, width - d.shape[1])), constant_values=b"") for d in dense]
            )
        else:
            merged[name] = np.concatenate([p.numpy() for p in parts])
    order = np.argsort(merged[ITEM_ID], kind="stable")
    merged = {name: values[order] for name, values in merged.items()}
    item_ids = merged.pop(ITEM_ID).astype(str)
    titles = merged.pop(TITLE)
    features = {ITEM_ID: item_ids.astype(object), **merged}
    return Catalogue(item_ids=item_ids, titles=np.char.decode(titles.astype(bytes), "utf-8"), features=features)


@dataclasses.dataclass
class UserHistory:
    """One user's warm interactions in time order, with each one's split, and the user's profile."""

    user_id: str
    items: list[str]
    timestamps: list[int]
    splits: list[int]
    categorical: list[str] = dataclasses.field(default_factory=list)
    numeric: list[float] = dataclasses.field(default_factory=list)
    numeric_mask: list[float] = dataclasses.field(default_factory=list)

    def before(self, split: int) -> list[str]:
        """Items from the splits strictly earlier than ``split`` (train < val < test)."""
        return [item for item, s in zip(self.items, self.splits) if s < split]

    def of(self, split: int) -> list[str]:
        """Items in exactly ``split``."""
        return [item for item, s in zip(self.items, self.splits) if s == split]


def load_histories(features_dir: str | Path) -> list[UserHistory]:
    """Reads every user's history, sorted by user id."""
    users = []
    for raw in _read_records(features_dir, HISTORIES_PATTERN).batch(4096):
        parsed = tf.io.parse_example(raw, HISTORY_SPEC)
        items = tf.sparse.to_dense(parsed[HISTORY_ITEMS], default_value=PAD).numpy()
        stamps = tf.sparse.to_dense(parsed[HISTORY_TIMESTAMPS], default_value=-1).numpy()
        splits = tf.sparse.to_dense(parsed[HISTORY_SPLITS], default_value=-1).numpy()
        # Ragged per user: rows of a sparse tensor, read without padding.
        tokens = tf.RaggedTensor.from_sparse(parsed[USER_CATEGORICAL]).to_list()
        numeric = tf.RaggedTensor.from_sparse(parsed[USER_NUMERIC]).to_list()
        numeric_mask = tf.RaggedTensor.from_sparse(parsed[USER_NUMERIC_MASK]).to_list()
        for row, user in enumerate(parsed[USER_ID].numpy()):
            n = int((splits[row] >= 0).sum())
            users.append(
                UserHistory(
                    user_id=user.decode(),
                    items=[x.decode() for x in items[row, :n]],
                    timestamps=stamps[row, :n].tolist(),
                    splits=splits[row, :n].tolist(),
                    categorical=[t.decode() for t in tokens[row]],
                    numeric=numeric[row],
                    numeric_mask=numeric_mask[row],
                )
            )
    return sorted(users, key=lambda u: u.user_id)
