"""The feature contract: names, dtypes, files and parsing shared by every stage.

The Beam extraction job writes what this module describes, the trainer and the
evaluator read it back with :func:`load_catalogue` / :func:`load_histories`, and
the exporter bakes the same vocabularies into the SavedModel. Changing a
feature means changing it here, once.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

import braidrec  # noqa: F401  (selects Keras 2 before TensorFlow loads)
import tensorflow as tf

# Item features (one tf.train.Example per catalogue item).
ITEM_ID = "item_id"
TITLE = "title"
TEXT = "text"
HAS_TEXT = "has_text"
IMAGE = "image"
THUMBNAIL = "thumbnail"
HAS_IMAGE = "has_image"
CATEGORICAL = "categorical"
NUMERIC = "numeric"
NUMERIC_MASK = "numeric_mask"
# Optional pretrained sentence embedding of the item text (present when extract.text_encoder is set;
# zeros when has_text is 0). Its size and the image vector's size are in vocab/encoders.json.
TEXT_EMBEDDING = "text_embedding"

# User histories (one tf.train.Example per user, warm interactions, time-ordered).
USER_ID = "user_id"
HISTORY_ITEMS = "items"
HISTORY_TIMESTAMPS = "timestamps"
HISTORY_SPLITS = "splits"
SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST = 0, 1, 2
SPLIT_NAMES = ("train", "val", "test", "cold_test")

# Image descriptor: 4x4x4 joint RGB histogram, 4x4 grid of mean RGB, 8 gradient orientations.
IMAGE_DESCRIPTOR_DIM = 64 + 48 + 8

# Files inside a features directory.
ITEMS_PATTERN = "items-*.tfrecord"
HISTORIES_PATTERN = "histories-*.tfrecord"
VOCAB_DIR = "vocab"
ITEM_VOCAB = "items.txt"
USER_VOCAB = "users.txt"
TEXT_VOCAB = "text.txt"
CATEGORICAL_VOCAB = "categorical.txt"
NUMERIC_STATS = "numeric.json"
ENCODERS = "encoders.json"
SPLITS_DIR = "splits"
MANIFEST = "manifest.json"
DEAD_LETTER_DIR = "dead_letter"
PAD = ""


def _bytes(values) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode("utf-8") if isinstance(v, str) else v for v in values]))


def _floats(values) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def _ints(values) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def item_example(item: dict) -> bytes:
    """Serialises one extracted item (keys are the item feature names above)."""
    feature = {
        ITEM_ID: _bytes([item[ITEM_ID]]),
        TITLE: _bytes([item[TITLE]]),
        TEXT: _bytes([item[TEXT]]),
        HAS_TEXT: _ints([item[HAS_TEXT]]),
        IMAGE: _floats(item[IMAGE]),
        THUMBNAIL: _bytes([item[THUMBNAIL]]),
        HAS_IMAGE: _ints([item[HAS_IMAGE]]),
        CATEGORICAL: _bytes(item[CATEGORICAL]),
        NUMERIC: _floats(item[NUMERIC]),
        NUMERIC_MASK: _floats(item[NUMERIC_MASK]),
    }
    if item.get(TEXT_EMBEDDING) is not None:
        feature[TEXT_EMBEDDING] = _floats(item[TEXT_EMBEDDING])
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def history_example(user_id: str, items: list[str], timestamps: list[int], splits: list[int]) -> bytes:
    """Serialises one user's warm, time-ordered history with the split of each interaction."""
    feature = {
        USER_ID: _bytes([user_id]),
        HISTORY_ITEMS: _bytes(items),
        HISTORY_TIMESTAMPS: _ints(timestamps),
        HISTORY_SPLITS: _ints(splits),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def item_feature_spec(num_numeric: int, image_dim: int = IMAGE_DESCRIPTOR_DIM, text_embedding_dim: int = 0) -> dict:
    """``tf.io.parse_example`` spec for item examples.

    Args:
        num_numeric: numeric columns of the items table.
        image_dim: length of the image vector (``Vocabularies.image_dim``).
        text_embedding_dim: length of the pretrained text embedding, 0 when none was extracted.
    """
    spec = {
        ITEM_ID: tf.io.FixedLenFeature([], tf.string),
        TITLE: tf.io.FixedLenFeature([], tf.string),
        TEXT: tf.io.FixedLenFeature([], tf.string),
        HAS_TEXT: tf.io.FixedLenFeature([], tf.int64),
        IMAGE: tf.io.FixedLenFeature([image_dim], tf.float32),
        THUMBNAIL: tf.io.FixedLenFeature([], tf.string),
        HAS_IMAGE: tf.io.FixedLenFeature([], tf.int64),
        CATEGORICAL: tf.io.VarLenFeature(tf.string),
        NUMERIC: tf.io.FixedLenFeature([num_numeric], tf.float32),
        NUMERIC_MASK: tf.io.FixedLenFeature([num_numeric], tf.float32),
    }
    if text_embedding_dim:
        spec[TEXT_EMBEDDING] = tf.io.FixedLenFeature([text_embedding_dim], tf.float32)
    return spec


HISTORY_SPEC = {
    USER_ID: tf.io.FixedLenFeature([], tf.string),
    HISTORY_ITEMS: tf.io.VarLenFeature(tf.string),
    HISTORY_TIMESTAMPS: tf.io.VarLenFeature(tf.int64),
    HISTORY_SPLITS: tf.io.VarLenFeature(tf.int64),
}


@dataclasses.dataclass
class Vocabularies:
    """The vocabularies and statistics the extraction job computed.

    Attributes:
        items: item ids seen in training interactions (the id embedding's vocabulary).
        users: user ids seen in training interactions.
        text: text tokens, most frequent first.
        categorical: ``column=value`` tokens.
        numeric_names, numeric_mean, numeric_std: numeric columns and their statistics.
        image_dim: length of the image vector (the descriptor's 120 unless another encoder ran).
        text_embedding_dim: length of ``text_embedding``, 0 when no pretrained text encoder ran.
        encoders: ``vocab/encoders.json`` as read ({"image": {...}, "text": {...} or None}).
    """

    items: list[str]
    users: list[str]
    text: list[str]
    categorical: list[str]
    numeric_names: list[str]
    numeric_mean: list[float]
    numeric_std: list[float]
    image_dim: int = IMAGE_DESCRIPTOR_DIM
    text_embedding_dim: int = 0
    encoders: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, features_dir: str | Path) -> "Vocabularies":
        """Reads ``features_dir/vocab``.

        Raises:
            FileNotFoundError: naming the missing file when extraction did not finish.
        """
        vocab = Path(features_dir) / VOCAB_DIR
        if not vocab.is_dir():
            raise FileNotFoundError(f"{vocab}: no vocabularies; run `braid extract` into {features_dir} first")

        def lines(name: str) -> list[str]:
            return [line for line in (vocab / name).read_text(encoding="utf-8").split("\n") if line]

        stats = json.loads((vocab / NUMERIC_STATS).read_text())
        # Feature directories written before pluggable encoders have no encoders.json: descriptor, no text.
        encoders = json.loads((vocab / ENCODERS).read_text()) if (vocab / ENCODERS).is_file() else {}
        image, text = encoders.get("image") or {}, encoders.get("text") or {}
        return cls(
            items=lines(ITEM_VOCAB),
            users=lines(USER_VOCAB),
            text=lines(TEXT_VOCAB),
            categorical=lines(CATEGORICAL_VOCAB),
            numeric_names=stats["names"],
            numeric_mean=stats["mean"],
            numeric_std=stats["std"],
            image_dim=int(image.get("dim", IMAGE_DESCRIPTOR_DIM)),
            text_embedding_dim=int(text.get("dim", 0)),
            encoders=encoders,
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
    """One user's warm interactions in time order, with each one's split."""

    user_id: str
    items: list[str]
    timestamps: list[int]
    splits: list[int]

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
        for row, user in enumerate(parsed[USER_ID].numpy()):
            n = int((splits[row] >= 0).sum())
            users.append(
                UserHistory(
                    user_id=user.decode(),
                    items=[x.decode() for x in items[row, :n]],
                    timestamps=stamps[row, :n].tolist(),
                    splits=splits[row, :n].tolist(),
                )
            )
    return sorted(users, key=lambda u: u.user_id)


_PUNCTUATION = r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]"""


def normalize_text(text: str | None) -> str:
    """Beam-side text normalisation: NFKC, lower case, punctuation to spaces.

    :func:`tf_normalize_text` does the same inside the model (less NFKC, which
    TensorFlow lacks), so text extracted offline and a raw query at serving
    time become the same tokens.
    """
    import re
    import unicodedata

    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    return " ".join(re.sub(_PUNCTUATION, " ", text).split())


def tf_normalize_text(text: tf.Tensor) -> tf.Tensor:
    """In-graph twin of :func:`normalize_text` (lower case, punctuation to spaces)."""
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, _PUNCTUATION, " ")
    return tf.strings.strip(tf.strings.regex_replace(text, r"\s+", " "))
