"""The incremental-extraction cache: encoded item features stored by content key.

An item's key (:func:`content_key`) hashes exactly what the encoders consume -
the item text and the image file's bytes - together with the encoders'
signature, so a re-run re-encodes only items whose text or image changed, and
switching encoder or model invalidates everything. Other columns (title,
categories, numbers) are cheap and recomputed on every run.

Layout: ``CACHE_DIR/entries-*.tfrecord``, one ``tf.train.Example`` per key.
Each run writes the entries of the current catalogue into a fresh directory
that replaces the old one only after the job succeeded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import apache_beam as beam
import numpy as np

from braidrec.features import contract

ENTRIES = "entries"
CACHE_VERSION = "1"
KEY = "key"
PROBLEM_KIND = "problem_kind"
PROBLEM_REASON = "problem_reason"


def content_key(signature: str, text: str, image_digest: str | None) -> str:
    """The cache key of one item's encoder inputs.

    Args:
        signature: the encoders' signature (``describe_encoders`` image + text signatures).
        text: the text the text encoder reads ('' when none).
        image_digest: SHA-256 of the image bytes, or None when the item has no readable image.
    """
    payload = "\0".join([CACHE_VERSION, signature, text, image_digest or "-"])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def encode_entry(entry: dict) -> bytes:
    """Serialises a cache entry: key, image vector, thumbnail, has_image, text embedding, image problem."""
    import tensorflow as tf

    def floats(values):
        return tf.train.Feature(float_list=tf.train.FloatList(value=np.asarray(values, np.float32).ravel()))

    def strings(*values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v if isinstance(v, bytes) else v.encode() for v in values]))

    feature = {
        KEY: strings(entry[KEY]),
        contract.IMAGE: floats(entry[contract.IMAGE]),
        contract.THUMBNAIL: strings(entry[contract.THUMBNAIL]),
        contract.HAS_IMAGE: tf.train.Feature(int64_list=tf.train.Int64List(value=[entry[contract.HAS_IMAGE]])),
        contract.TEXT_EMBEDDING: floats(entry[contract.TEXT_EMBEDDING] if entry.get(contract.TEXT_EMBEDDING) is not None else []),
        PROBLEM_KIND: strings(entry.get(PROBLEM_KIND) or ""),
        PROBLEM_REASON: strings(entry.get(PROBLEM_REASON) or ""),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def decode_entry(data: bytes) -> tuple[str, dict]:
    """(key, entry) from :func:`encode_entry` bytes; an empty text embedding reads back as None."""
    import tensorflow as tf

    example = tf.train.Example.FromString(data).features.feature
    text = np.asarray(example[contract.TEXT_EMBEDDING].float_list.value, np.float32)
    entry = {
        KEY: example[KEY].bytes_list.value[0].decode(),
        contract.IMAGE: np.asarray(example[contract.IMAGE].float_list.value, np.float32),
        contract.THUMBNAIL: example[contract.THUMBNAIL].bytes_list.value[0],
        contract.HAS_IMAGE: int(example[contract.HAS_IMAGE].int64_list.value[0]),
        contract.TEXT_EMBEDDING: text if text.size else None,
        PROBLEM_KIND: example[PROBLEM_KIND].bytes_list.value[0].decode() or None,
        PROBLEM_REASON: example[PROBLEM_REASON].bytes_list.value[0].decode() or None,
    }
    return entry[KEY], entry


class ReadCache(beam.PTransform):
    """(key, entry) pairs from a cache directory; nothing when the directory has no entries."""

    def __init__(self, cache_dir: Path | None):
        super().__init__()
        self._files = sorted(Path(cache_dir).glob(f"{ENTRIES}-*.tfrecord")) if cache_dir else []
        self._pattern = str(Path(cache_dir) / f"{ENTRIES}-*.tfrecord") if cache_dir else ""

    def expand(self, pbegin):
        if not self._files:
            return pbegin | "NoCache" >> beam.Create([])
        return pbegin | "ReadCacheFiles" >> beam.io.ReadFromTFRecord(self._pattern) | "DecodeEntries" >> beam.Map(decode_entry)


def write_cache(entries, cache_dir: Path, num_shards: int):
    """Writes (key, entry) pairs as the cache files of ``cache_dir``."""
    return (
        entries
        | "SerializeCache" >> beam.MapTuple(lambda _, entry: encode_entry(entry))
        | "WriteCache" >> beam.io.WriteToTFRecord(str(Path(cache_dir) / ENTRIES), file_name_suffix=".tfrecord",
                                                  num_shards=num_shards)
    )
