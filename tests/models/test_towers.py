"""Item and user towers on the tiny run's vocabularies."""

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf

from braidrec.config import ExtractConfig, ModelConfig
from braidrec.features import contract, readers
from braidrec.models.evaluate import catalogue_scores, item_embeddings
from braidrec.models.towers import UNPLACED_OFFSET, ItemTower, split_rows
from tests.conftest import untrained_model


@pytest.mark.parametrize("disabled", [["image"], ["text", "categorical"]])
def test_disabled_modalities_get_no_weight(tiny_run, catalogue, disabled):
    model = untrained_model(tiny_run, disabled_modalities=disabled)
    weights = item_embeddings(model, catalogue).weights
    for name in disabled:
        assert (weights[:, model.item_tower.modalities.index(name)] == 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)


def test_unknown_disabled_modality_is_refused(tiny_run):
    with pytest.raises(ValueError, match="disabled_modalities"):
        untrained_model(tiny_run, disabled_modalities=["audio"])


def test_unknown_scoring_is_refused_by_the_item_tower_alone(tiny_run):
    vocab = contract.Vocabularies.load(tiny_run["features"])
    with pytest.raises(ValueError, match="model.scoring 'Dot' is not one of"):
        ItemTower(vocab, ModelConfig(scoring="Dot"), ExtractConfig(), 1.0)


def test_text_query_embeds_into_item_space(tiny_run):
    model = untrained_model(tiny_run)
    query = model.item_tower.encode_text(tf.constant(["a red circle", ""]))
    assert query.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(query.numpy()[0]), 1.0, atol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_cold_fusion_temperature_tempers_items_without_an_id_at_inference_only(tiny_run, catalogue, training):
    model = untrained_model(tiny_run, cold_fusion_temperature=3.0)
    features = {k: tf.constant(v) for k, v in catalogue.features.items()}

    def encode(temperature):
        model.item_tower.cold_fusion_temperature = temperature
        tf.keras.utils.set_random_seed(0)  # the same id dropout and augmentation in training
        out = model.item_tower.encode_all(features, training=training)
        return out["weights"].numpy(), out["mask"].numpy()

    plain, mask = encode(1.0)
    tempered, _ = encode(3.0)
    without_id = ~mask[:, 0]
    assert without_id.any() and not without_id.all()
    np.testing.assert_array_equal(tempered[~without_id], plain[~without_id])
    if training:
        np.testing.assert_array_equal(tempered, plain)
        return
    expected = plain[without_id] ** (1.0 / 3.0)
    np.testing.assert_allclose(tempered[without_id], expected / expected.sum(axis=1, keepdims=True), atol=1e-5)


@pytest.mark.parametrize("id_dropout, augmented", [(1e-9, False), (0.999999, True)])
def test_content_is_augmented_only_where_the_id_is_dropped(tiny_run, catalogue, id_dropout, augmented):
    tf.keras.utils.set_random_seed(0)
    model = untrained_model(tiny_run, id_dropout=id_dropout, text_token_dropout=0.5, image_noise=0.5)
    features = {k: tf.constant(v) for k, v in catalogue.features.items()}
    served = model.item_tower.encode_all(features, training=False)
    trained = model.item_tower.encode_all(features, training=True)
    assert (trained["mask"].numpy()[:, 0].sum() == 0) == augmented
    content = [model.item_tower.modalities.index(name) for name in ("text", "image")]
    changed = ~np.isclose(trained["modalities"].numpy()[:, content], served["modalities"].numpy()[:, content], atol=1e-6).all(axis=-1)
    present = served["mask"].numpy()[:, content]
    # Items keeping their id train on clean content; those without it on augmented content.
    assert changed[present].mean() > 0.9 if augmented else not changed.any()


def test_augmentation_without_id_dropout_is_refused(tiny_run):
    with pytest.raises(ValueError, match="id_dropout > 0, or also pass --model.text_token_dropout 0 --model.image_noise 0"):
        untrained_model(tiny_run, id_dropout=0.0, text_token_dropout=0.3)



def _without(catalogue, rows, ids=(), content=()):
    """The catalogue with the ids of ``ids`` unknown and every content modality of ``content`` absent."""
    features = {name: np.array(values, copy=True) for name, values in catalogue.features.items()}
    item_ids = np.array(catalogue.item_ids, copy=True)
    item_ids[list(ids)] = "not-an-item"
    features[contract.ITEM_ID][list(ids)] = b"not-an-item"
    for name, absent in ((contract.HAS_TEXT, 0), (contract.HAS_IMAGE, 0), (contract.CATEGORICAL, contract.PAD),
                         (contract.NUMERIC_MASK, 0)):
        features[name][list(content)] = absent
    return readers.Catalogue(item_ids[rows], catalogue.titles[rows], {k: v[rows] for k, v in features.items()})


@pytest.mark.parametrize("head", [{}, {"scoring": "dot", "history_norm": "pre"}])
def test_items_that_nothing_places_rank_below_every_placed_item(tiny_run, catalogue, head):
    model = untrained_model(tiny_run, **head)
    # Row 0: neither id nor content; row 1: content, no id; row 2: id, no content; the rest as they are.
    rows = np.arange(12)
    items = item_embeddings(model, _without(catalogue, rows, ids=[0, 1], content=[0, 2]))
    np.testing.assert_array_equal(items.placed, [False] + [True] * 11)
    np.testing.assert_array_equal(items.has_id[:3], [False, False, True])
    assert items.offsets[0] <= UNPLACED_OFFSET + 10 and (np.abs(items.offsets[1:]) < 100).all()
    rng = np.random.default_rng(0)
    users, queries = rng.normal(size=(2, 50, items.embeddings.shape[1]))
    scores = catalogue_scores(users, queries, rng.normal(size=50), items)
    assert (scores[:, 0] < scores[:, 1:].min(axis=1)).all()


def test_an_item_whose_only_modalities_are_disabled_is_not_placed(tiny_run, catalogue):
    model = untrained_model(tiny_run, disabled_modalities=["text", "image", "categorical", "numeric"])
    items = item_embeddings(model, catalogue)
    # Only a trained id places an item now.
    np.testing.assert_array_equal(items.placed, items.has_id)
    assert (~items.has_id).any()


# SASRec's head: tied dot-product scoring over pre-norm blocks.
DOT_HEAD = {"scoring": "dot", "history_norm": "pre"}
HEADS = [{}, DOT_HEAD]


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("pooling", ["attention", "last"])
def test_history_is_causal_and_order_aware(tiny_run, pooling, head):
    model = untrained_model(tiny_run, history_pooling=pooling, history_blocks=2, **head)
    items = contract.Vocabularies.load(tiny_run["features"]).items[:4]
    history = tf.constant([["", "", items[0], items[1], items[2], items[3]], ["", "", items[3], items[2], items[1], items[0]]])
    users = tf.constant(["nobody", "nobody"])
    out = model.user_tower({contract.USER_ID: users, "history": history}).numpy()
    assert not np.allclose(out[0], out[1], atol=1e-4), "reordering the history must change the user vector"
    padded = tf.constant([["", "", "", "", "", items[3]]])
    unknown = tf.constant([["not-an-item"] * 5 + [items[3]]])
    a = model.user_tower({contract.USER_ID: users[:1], "history": padded}).numpy()
    b = model.user_tower({contract.USER_ID: users[:1], "history": unknown}).numpy()
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("pooling", ["attention", "last"])
def test_per_position_embeddings_see_only_the_past(tiny_run, pooling, head):
    model = untrained_model(tiny_run, history_pooling=pooling, **head)
    items = contract.Vocabularies.load(tiny_run["features"]).items[:6]
    users = tf.constant(["nobody", "nobody"])
    history = tf.constant([["", items[0], items[1], items[2], items[3], items[4]], ["", items[0], items[1], items[5], items[4], items[3]]])
    inputs = {contract.USER_ID: users, "history": history}
    rows = model.user_tower.sequence_embeddings(inputs).numpy()
    # Rows up to position 2 read the same items; later rows differ.
    np.testing.assert_allclose(rows[0, :3], rows[1, :3], atol=1e-5)
    assert not np.allclose(rows[0, 3], rows[1, 3], atol=1e-4)
    # The last row is what serving computes from the whole history.
    np.testing.assert_allclose(rows[:, -1], model.user_tower(inputs).numpy(), atol=1e-5)


def test_short_history_is_padded_to_the_window(tiny_run):
    model = untrained_model(tiny_run)
    item = contract.Vocabularies.load(tiny_run["features"]).items[0]
    users = tf.constant(["nobody"])
    short = model.user_tower({contract.USER_ID: users, "history": tf.constant([[item]])}).numpy()
    full = model.user_tower({contract.USER_ID: users, "history": tf.constant([[""] * 5 + [item]])}).numpy()
    np.testing.assert_allclose(short, full, atol=1e-5)


def _profile(tokens, ages):
    return {
        contract.USER_CATEGORICAL: tf.constant(tokens),
        contract.USER_NUMERIC: tf.constant([[a] for a in ages], tf.float32),
        contract.USER_NUMERIC_MASK: tf.constant([[1.0 if a else 0.0] for a in ages], tf.float32),
    }


def test_user_profile_moves_the_user_vector_and_absent_means_empty(tiny_run):
    model = untrained_model(tiny_run, user_features=True)
    vocab = contract.Vocabularies.load(tiny_run["features"])
    assert model.user_tower.reads_profile and vocab.user_categorical
    base = {contract.USER_ID: tf.constant(["nobody"] * 3), "history": tf.constant([[vocab.items[0]]] * 3)}
    with_profile = model.user_tower({**base, **_profile([[vocab.user_categorical[0]], [vocab.user_categorical[-1]], [""]], [20.0, 20.0, 0.0])}).numpy()
    assert not np.allclose(with_profile[0], with_profile[1], atol=1e-4), "a different segment must move the user"
    # No profile keys at all is the same as an explicitly empty profile (a history-only request).
    np.testing.assert_allclose(model.user_tower(base).numpy()[2], with_profile[2], atol=1e-5)


def test_user_features_off_ignores_the_profile(tiny_run):
    model = untrained_model(tiny_run, user_features=False)
    vocab = contract.Vocabularies.load(tiny_run["features"])
    assert not model.user_tower.reads_profile
    base = {contract.USER_ID: tf.constant(["nobody"]), "history": tf.constant([[vocab.items[0]]])}
    np.testing.assert_allclose(
        model.user_tower({**base, **_profile([[vocab.user_categorical[0]]], [40.0])}).numpy(), model.user_tower(base).numpy(), atol=1e-6
    )


def test_dot_head_items_are_their_id_row_or_their_projected_content(tiny_run, catalogue):
    model = untrained_model(tiny_run, **DOT_HEAD)
    tower = model.item_tower
    features = {k: tf.constant(v) for k, v in catalogue.features.items()}
    out = tower.encode_all(features)
    embedding, weights, id_used = out["embedding"].numpy(), out["weights"].numpy(), out["mask"].numpy()[:, 0]
    assert id_used.any() and (~id_used).any(), "the tiny catalogue has warm and cold items"
    rows = tower.id_encoder.lookup(features[contract.ITEM_ID]).numpy()
    table = tower.id_encoder.embedding.embeddings.numpy()
    np.testing.assert_allclose(embedding[id_used], table[rows[id_used]], atol=1e-6)
    content_mask = out["mask"].numpy().copy()
    content_mask[:, 0] = False
    fused, _ = tower.fusion(out["modalities"], tf.constant(content_mask))
    np.testing.assert_allclose(embedding[~id_used], tower.output_projection(fused).numpy()[~id_used], atol=1e-5)
    # The weights say what made the embedding: all id, or the content fusion's split.
    np.testing.assert_allclose(weights[id_used], np.eye(weights.shape[1])[np.zeros(id_used.sum(), int)])
    assert (weights[~id_used, 0] == 0).all()
    np.testing.assert_allclose(weights[~id_used].sum(axis=1), 1.0, atol=1e-5)


def test_dot_head_user_is_the_layer_normed_last_state_whatever_the_user_id(tiny_run):
    model = untrained_model(tiny_run, history_pooling="last", **DOT_HEAD)
    items = contract.Vocabularies.load(tiny_run["features"]).items[:3]
    history = tf.constant([["", "", "", items[0], items[1], items[2]]] * 2)
    users = model.user_tower({contract.USER_ID: tf.constant(["nobody", "someone-else"]), "history": history}).numpy()
    np.testing.assert_allclose(users[0], users[1], atol=1e-6)
    # The final LayerNorm (unit scale, zero shift at init) and nothing after it: no projection, no L2 norm.
    np.testing.assert_allclose(users.mean(axis=1), 0.0, atol=1e-4)
    np.testing.assert_allclose(users.std(axis=1), 1.0, atol=1e-2)


@pytest.mark.parametrize("changes, message", [
    ({"scoring": "l2"}, "model.scoring 'l2'"),
    ({"history_norm": "mid"}, "model.history_norm 'mid'"),
    ({"scoring": "dot", "user_features": True}, "--model.user_features false, or --model.scoring cosine"),
    ({"cold_fusion_temperature": 0.0}, "model.cold_fusion_temperature 0.0 must be > 0"),
])
def test_bad_head_settings_are_refused(tiny_run, changes, message):
    with pytest.raises(ValueError, match=message):
        untrained_model(tiny_run, **changes)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("training", [False, True])
def test_fused_rows_fuses_the_first_rows_only_and_changes_nothing_else(tiny_run, catalogue, head, training):
    model = untrained_model(tiny_run, id_dropout=0.5, text_token_dropout=0.3, image_noise=0.5, **head)
    features = {k: tf.constant(v) for k, v in catalogue.features.items()}
    count = len(catalogue.features[contract.ITEM_ID]) // 2
    tf.random.set_seed(4)
    whole = model.item_tower.encode_all(features, training=training)
    tf.random.set_seed(4)
    first = model.item_tower.encode_all(features, training=training, fused_rows=count)
    for key, value in first.items():
        expected = whole[key].numpy()
        if key not in ("modalities", "mask"):
            assert value.shape[0] == count, key
            expected = expected[:count]
        np.testing.assert_allclose(value.numpy(), expected, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("count", [0, 2, 5])
def test_split_rows_equals_slicing_values_and_gradients(count):
    values = tf.Variable(np.arange(5 * 3 * 2, dtype=np.float32).reshape(5, 3, 2))
    weights = tf.constant(np.linspace(-1.0, 1.0, 5 * 3 * 2, dtype=np.float32).reshape(5, 3, 2))
    with tf.GradientTape(persistent=True) as tape:
        head, tail = split_rows(values, tf.constant(count))
        by_split = tf.reduce_sum(head * weights[:count]) + 3.0 * tf.reduce_sum(tail * weights[count:])
        by_slice = tf.reduce_sum(values[:count] * weights[:count]) + 3.0 * tf.reduce_sum(values[count:] * weights[count:])
    np.testing.assert_array_equal(head.numpy(), values.numpy()[:count])
    np.testing.assert_array_equal(tail.numpy(), values.numpy()[count:])
    np.testing.assert_array_equal(tape.gradient(by_split, values).numpy(), tape.gradient(by_slice, values).numpy())
