"""Text normalisation shared by the Beam job (:func:`normalize_text`) and the model (:func:`tf_normalize_text`).

Both produce the same tokens for the same text, so words extracted offline and a
raw query at serving time meet the same vocabulary.
"""

from __future__ import annotations

import re
import unicodedata

import braidrec  # noqa: F401  (selects Keras 2 before TensorFlow loads)
import tensorflow as tf

_PUNCTUATION = r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]"""


def normalize_text(text: str | None) -> str:
    """Beam-side text normalisation: NFKC, lower case, punctuation to spaces.

    :func:`tf_normalize_text` does the same inside the model (less NFKC, which
    TensorFlow lacks), so text extracted offline and a raw query at serving
    time become the same tokens.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    return " ".join(re.sub(_PUNCTUATION, " ", text).split())


def tf_normalize_text(text: tf.Tensor) -> tf.Tensor:
    """In-graph twin of :func:`normalize_text` (lower case, punctuation to spaces)."""
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, _PUNCTUATION, " ")
    return tf.strings.strip(tf.strings.regex_replace(text, r"\s+", " "))
