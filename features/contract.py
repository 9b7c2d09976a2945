"""The feature contract: names, dtypes, files and parsing shared by every stage.

The Beam extraction job writes what this module describes, the trainer and the
evaluator read it back with :mod:`braidrec.features.readers`, and the exporter
bakes the same vocabularies into the SavedModel. Changing a feature means
changing it here, once.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

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
# The user's profile from the optional users table (``column=value`` tokens, numeric values and their
# presence); empty when the dataset has none. The user tower reads them, so a new user can bring them.
USER_CATEGORICAL = "user_categorical"
USER_NUMERIC = "user_numeric"
USER_NUMERIC_MASK = "user_numeric_mask"
SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST = 0, 1, 2
SPLIT_NAMES = ("train", "val", "test", "cold_test")

# Image descriptor: 4x4x4 joint RGB histogram, 4x4 grid of mean RGB, 8 gradient orientations;
# the opt-in `descriptor_quantiles` adds these percentiles of each colour channel.
IMAGE_DESCRIPTOR_DIM = 64 + 48 + 8
IMAGE_QUANTILES = (10, 25, 50, 75, 90)
IMAGE_QUANTILES_DIM = IMAGE_DESCRIPTOR_DIM + 3 * len(IMAGE_QUANTILES)

# Files inside a features directory.
ITEMS_PATTERN = "items-*.tfrecord"
HISTORIES_PATTERN = "histories-*.tfrecord"
VOCAB_DIR = "vocab"
ITEM_VOCAB = "items.txt"
USER_VOCAB = "users.txt"
TEXT_VOCAB = "text.txt"
CATEGORICAL_VOCAB = "categorical.txt"
NUMERIC_STATS = "numeric.json"
USER_CATEGORICAL_VOCAB = "user_categorical.txt"
USER_NUMERIC_STATS = "user_numeric.json"
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


def history_example(user_id: str, items: list[str], timestamps: list[int], splits: list[int],
                    profile: dict | None = None) -> bytes:
    """Serialises one user's warm, time-ordered history with the split of each interaction.

    ``profile`` holds the user's ``USER_CATEGORICAL`` tokens and ``USER_NUMERIC`` /
    ``USER_NUMERIC_MASK`` values (one per numeric column of the users table); None without one.
    """
    profile = profile or {}
    feature = {
        USER_ID: _bytes([user_id]),
        HISTORY_ITEMS: _bytes(items),
        HISTORY_TIMESTAMPS: _ints(timestamps),
        HISTORY_SPLITS: _ints(splits),
        USER_CATEGORICAL: _bytes(profile.get(USER_CATEGORICAL, [])),
        USER_NUMERIC: _floats(profile.get(USER_NUMERIC, [])),
        USER_NUMERIC_MASK: _floats(profile.get(USER_NUMERIC_MASK, [])),
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



def text_only_item_features(text: tf.Tensor, num_numeric: int, image_dim: int, thumbnail_bytes: int,
                            text_embedding_dim: int = 0) -> dict:
    """A batch of items made of ``text`` alone, shaped as :func:`item_feature_spec` parses them.

    Every other modality is marked absent (no id, no image, no categories, every
    numeric value masked), so the item tower places them by their text: what a
    text query is at serving time.

    Args:
        text: string [batch].
        num_numeric: numeric columns of the items table.
        image_dim: length of the image vector.
        thumbnail_bytes: length of the raw thumbnail (height x width x 3).
        text_embedding_dim: length of the pretrained text embedding, 0 when none was extracted. A raw
            query has no pretrained vector in-graph, so it is all zeros, which the tower reads as absent.
    """
    batch = tf.shape(text)[0]
    features = {
        ITEM_ID: tf.fill([batch], PAD),
        TEXT: text,
        HAS_TEXT: tf.ones([batch], tf.int64),
        IMAGE: tf.zeros([batch, image_dim]),
        THUMBNAIL: tf.fill([batch], tf.constant(bytes(thumbnail_bytes))),
        HAS_IMAGE: tf.zeros([batch], tf.int64),
        CATEGORICAL: tf.fill([batch, 1], PAD),
        NUMERIC: tf.zeros([batch, num_numeric]),
        NUMERIC_MASK: tf.zeros([batch, num_numeric]),
    }
    if text_embedding_dim:
        features[TEXT_EMBEDDING] = tf.zeros([batch, text_embedding_dim])
    return features

HISTORY_SPEC = {
    USER_ID: tf.io.FixedLenFeature([], tf.string),
    HISTORY_ITEMS: tf.io.VarLenFeature(tf.string),
    HISTORY_TIMESTAMPS: tf.io.VarLenFeature(tf.int64),
    HISTORY_SPLITS: tf.io.VarLenFeature(tf.int64),
    USER_CATEGORICAL: tf.io.VarLenFeature(tf.string),
    USER_NUMERIC: tf.io.VarLenFeature(tf.float32),
    USER_NUMERIC_MASK: tf.io.VarLenFeature(tf.float32),
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
        user_categorical: the users table's ``column=value`` tokens (empty without a users table).
        user_numeric_names, user_numeric_mean, user_numeric_std: its numeric columns and their statistics.
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
    user_categorical: list[str] = dataclasses.field(default_factory=list)
    user_numeric_names: list[str] = dataclasses.field(default_factory=list)
    user_numeric_mean: list[float] = dataclasses.field(default_factory=list)
    user_numeric_std: list[float] = dataclasses.field(default_factory=list)

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
        # Feature directories written before user profiles have neither file: no profile features.
        user_stats = json.loads((vocab / USER_NUMERIC_STATS).read_text()) if (vocab / USER_NUMERIC_STATS).is_file() else {}
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
            user_categorical=lines(USER_CATEGORICAL_VOCAB) if (vocab / USER_CATEGORICAL_VOCAB).is_file() else [],
            user_numeric_names=user_stats.get("names", []),
            user_numeric_mean=user_stats.get("mean", []),
            user_numeric_std=user_stats.get("std", []),
        )
