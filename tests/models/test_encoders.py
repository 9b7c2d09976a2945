"""Modality encoders on hand-made inputs."""

import numpy as np

import braidrec  # noqa: F401
import tensorflow as tf

from braidrec.features import contract
from braidrec.models.encoders import CategoricalEncoder


def test_categorical_encoder_sees_how_many_tokens_an_item_has():
    encoder = CategoricalEncoder(["genres=Drama", "genres=War"], dim=8)
    # Rows 0 and 1 have the same mean token embedding (the same token once and twice);
    # only the count tells them apart. Row 2 has no known token at all.
    tokens = tf.constant([["genres=Drama", contract.PAD], ["genres=Drama", "genres=Drama"], ["genres=Unknown", contract.PAD]])
    embedding, present = encoder(tokens)
    assert present.numpy().tolist() == [True, True, False]
    assert not np.allclose(embedding[0], embedding[1])


def test_categorical_encoder_ignores_token_order():
    encoder = CategoricalEncoder(["genres=Drama", "genres=War"], dim=8)
    embedding, _ = encoder(tf.constant([["genres=Drama", "genres=War"], ["genres=War", "genres=Drama"]]))
    np.testing.assert_allclose(embedding[0], embedding[1], rtol=1e-6)
