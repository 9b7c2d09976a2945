"""A text query as item features: the same keys, dtypes and shapes as a parsed item example."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from braidrec.features import contract


@pytest.mark.parametrize("num_numeric, image_dim, text_dim", [(2, contract.IMAGE_DESCRIPTOR_DIM, 0), (0, 7, 5)])
def test_text_only_item_features_match_the_parsed_spec(num_numeric, image_dim, text_dim):
    thumbnail_bytes = 4 * 4 * 3
    item = {contract.ITEM_ID: "i1", contract.TITLE: "t", contract.TEXT: "a red circle", contract.HAS_TEXT: 1,
            contract.IMAGE: np.ones(image_dim), contract.THUMBNAIL: bytes(thumbnail_bytes), contract.HAS_IMAGE: 1,
            contract.CATEGORICAL: ["x"], contract.NUMERIC: np.ones(num_numeric), contract.NUMERIC_MASK: np.ones(num_numeric)}
    if text_dim:
        item[contract.TEXT_EMBEDDING] = np.ones(text_dim)
    spec = contract.item_feature_spec(num_numeric, image_dim, text_dim)
    parsed = tf.io.parse_example([contract.item_example(item)], spec)
    parsed[contract.CATEGORICAL] = tf.sparse.to_dense(parsed[contract.CATEGORICAL], default_value=contract.PAD)

    query = contract.text_only_item_features(tf.constant(["a red circle", "blue"]), num_numeric, image_dim,
                                             thumbnail_bytes, text_dim)

    # The title is display-only: no tower reads it, so a query needs none.
    assert set(query) == set(spec) - {contract.TITLE}
    for name, tensor in query.items():
        assert tensor.dtype == parsed[name].dtype, name
        assert tensor.shape[1:] == parsed[name].shape[1:], name
        assert tensor.shape[0] == 2, name
    # Nothing but the text is present.
    assert query[contract.HAS_TEXT].numpy().tolist() == [1, 1]
    assert query[contract.HAS_IMAGE].numpy().tolist() == [0, 0]
    assert (query[contract.ITEM_ID].numpy() == b"").all() and (query[contract.CATEGORICAL].numpy() == b"").all()
    assert not query[contract.NUMERIC_MASK].numpy().any()
    if text_dim:
        assert not query[contract.TEXT_EMBEDDING].numpy().any()
    assert len(query[contract.THUMBNAIL].numpy()[0]) == thumbnail_bytes
