"""The retrieval, alignment and fusion-balance losses on hand-computed tiny cases."""

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf
import tensorflow_recommenders as tfrs

from braidrec.config import ExtractConfig, ModelConfig, TrainConfig
from braidrec.features import contract, readers
from braidrec.models import datasets
from braidrec.models.alignment import paired_info_nce
from braidrec.models.fusion import balance_penalty
from braidrec.models.two_tower import ALIGNMENT_PREFIX, ALIGNMENT_PROBABILITY, TARGET_PREFIX, BraidModel, alignment_pairs


def _softmax_ce(logits: np.ndarray) -> float:
    """Sum over rows of cross-entropy with the diagonal as the positive."""
    logits = logits - logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-np.trace(log_probs[:, : logits.shape[0]]))


def test_in_batch_softmax_matches_hand_computation():
    users = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    items = np.array([[1.0, 0.0], [0.6, 0.8]], np.float32)
    task = tfrs.tasks.Retrieval(temperature=0.5)
    loss = task(tf.constant(users), tf.constant(items), compute_metrics=False).numpy()
    assert loss == pytest.approx(_softmax_ce(users @ items.T / 0.5), rel=1e-5)


def test_logq_correction_and_accidental_hits():
    users = np.eye(3, dtype=np.float32)
    items = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0]], np.float32)
    probability = np.array([0.5, 0.25, 0.5], np.float32)
    ids = tf.constant(["a", "b", "a"])
    task = tfrs.tasks.Retrieval(remove_accidental_hits=True)
    loss = task(tf.constant(users), tf.constant(items), candidate_sampling_probability=tf.constant(probability), candidate_ids=ids, compute_metrics=False)
    logits = users @ items.T - np.log(probability)[None]
    # Item "a" is both candidate 0 and candidate 2: each row's duplicate of its positive is removed.
    logits[0, 2] = logits[2, 0] = -np.inf
    assert loss.numpy() == pytest.approx(_softmax_ce(logits), rel=1e-5)


@pytest.mark.parametrize(
    "modalities, expected",
    [
        (["id", "text", "image"], [(1, 2), (1, 0), (2, 0)]),
        (["id", "text", "image", "categorical"], [(1, 2), (1, 0), (2, 0), (3, 0)]),
        (["id", "text", "image", "text_pretrained"], [(1, 2), (3, 2), (1, 0), (2, 0), (3, 0)]),
    ],
)
def test_alignment_pairs(modalities, expected):
    assert alignment_pairs(modalities) == expected


@pytest.mark.parametrize(
    "disabled, expected",
    [(["text"], [(2, 0), (3, 0)]), (["image"], [(1, 0), (3, 0)]), (["id"], [(1, 2)]), (["id", "image"], [])],
)
def test_alignment_pairs_skip_disabled_modalities(disabled, expected):
    assert alignment_pairs(["id", "text", "image", "categorical"], disabled) == expected


def test_same_window_mask_hides_the_users_other_targets_only():
    windows = tf.constant([0, 0, 1, 0], tf.int64)
    mask = BraidModel.same_window_mask(windows, tf.constant(6)).numpy()
    expected = np.array([
        [1, 0, 1, 0, 1, 1],
        [0, 1, 1, 0, 1, 1],
        [1, 1, 1, 1, 1, 1],
        [0, 0, 1, 1, 1, 1],
    ], bool)
    np.testing.assert_array_equal(mask, expected)


@pytest.fixture(scope="module")
def pair_batch(tiny_run) -> dict:
    """One unshuffled training batch of 64 (history, target) pairs of the tiny run."""
    catalogue = readers.load_catalogue(tiny_run["features"])
    users = readers.load_histories(tiny_run["features"])
    ids, histories, targets = datasets.next_item_pairs(users, contract.SPLIT_TRAIN, 6)
    probabilities = datasets.sampling_probabilities(catalogue, users)
    return next(iter(datasets.retrieval_dataset(catalogue, ids, histories, targets, probabilities, 64, None)))


def test_fusion_balance_adds_its_weight_times_the_content_penalty(tiny_run, pair_batch):
    vocab = contract.Vocabularies.load(tiny_run["features"])
    model = BraidModel(vocab, ModelConfig(embedding_dim=16), ExtractConfig(max_history=6), TrainConfig(fusion_balance_weight=0.5))
    batch = pair_batch
    with_term = float(model.compute_loss(batch, training=False))
    model.balance_weight = 0.0
    without = float(model.compute_loss(batch, training=False))
    encoded = model.item_tower.encode_all(BraidModel.prefixed(batch, TARGET_PREFIX), training=False)
    # Column 0 is the id: only the content modalities are balanced.
    penalty = float(balance_penalty(encoded["weights"][:, 1:], encoded["mask"][:, 1:]))
    assert penalty > 0
    assert with_term - without == pytest.approx(0.5 * penalty, rel=1e-4)


def test_alignment_items_as_negatives_join_the_retrieval_candidates(tiny_run):
    """With ``train.alignment_negatives`` the retrieval loss is the TFRS task over the targets and then the
    alignment items, each with its sampling probability and id (hit removal)."""
    catalogue = readers.load_catalogue(tiny_run["features"])
    users = readers.load_histories(tiny_run["features"])
    ids, histories, targets = datasets.next_item_pairs(users, contract.SPLIT_TRAIN, 6)
    probabilities = datasets.sampling_probabilities(catalogue, users)
    batch = next(iter(datasets.retrieval_dataset(catalogue, ids, histories, targets, probabilities, 64, None,
                                                 alignment_items=16, alignment_negatives=True)))
    vocab = contract.Vocabularies.load(tiny_run["features"])
    # No alignment loss: what remains is the retrieval loss alone.
    config = TrainConfig(alignment_negatives=True, alignment_weight=0.0, behaviour_alignment_weight=0.0, temperature=0.5)
    model = BraidModel(vocab, ModelConfig(embedding_dim=16), ExtractConfig(max_history=6), config)
    loss = float(model.compute_loss(batch, training=False))
    candidates = [model.item_tower.encode_all(BraidModel.prefixed(batch, prefix))["embedding"]
                  for prefix in (TARGET_PREFIX, ALIGNMENT_PREFIX)]
    task = tfrs.tasks.Retrieval(temperature=0.5, remove_accidental_hits=True)
    expected = float(task(
        model.user_tower(batch), tf.concat(candidates, 0),
        candidate_sampling_probability=tf.concat([batch["sampling_probability"], batch[ALIGNMENT_PROBABILITY]], 0),
        candidate_ids=tf.concat([batch[TARGET_PREFIX + contract.ITEM_ID], batch[ALIGNMENT_PREFIX + contract.ITEM_ID]], 0),
        compute_metrics=False))
    targets_only = float(task(model.user_tower(batch), candidates[0], candidate_sampling_probability=batch["sampling_probability"],
                              candidate_ids=batch[TARGET_PREFIX + contract.ITEM_ID], compute_metrics=False))
    assert expected > targets_only
    assert loss == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("behaviour_temperature", [0.0, 0.5])
def test_behaviour_pairs_use_their_own_temperature(tiny_run, pair_batch, behaviour_temperature):
    """The loss is the retrieval task plus each pair group's InfoNCE at its temperature (0: the alignment one)."""
    vocab = contract.Vocabularies.load(tiny_run["features"])
    config = TrainConfig(alignment_temperature=0.2, behaviour_alignment_temperature=behaviour_temperature,
                         alignment_weight=1.0, behaviour_alignment_weight=0.3, alignment_negatives=False)
    model = BraidModel(vocab, ModelConfig(embedding_dim=16), ExtractConfig(max_history=6), config)
    loss = float(model.compute_loss(pair_batch, training=False))
    encoded = model.item_tower.encode_all(BraidModel.prefixed(pair_batch, TARGET_PREFIX), training=False)
    pairs = alignment_pairs(model.item_tower.modalities)
    id_index = model.item_tower.modalities.index("id")
    cross = [p for p in pairs if id_index not in p]
    behaviour = [p for p in pairs if id_index in p]
    assert cross and behaviour
    ids = pair_batch[TARGET_PREFIX + contract.ITEM_ID]

    def info_nce(chosen, temperature):
        return float(paired_info_nce(encoded["modalities"], encoded["mask"], ids, chosen, temperature))

    retrieval = float(model.in_batch_loss(model.user_tower(pair_batch), encoded["embedding"], pair_batch, None, False))
    expected_behaviour = info_nce(behaviour, behaviour_temperature or 0.2)
    assert expected_behaviour != pytest.approx(info_nce(behaviour, 0.5 if behaviour_temperature == 0 else 0.2), rel=1e-3)
    assert loss == pytest.approx(retrieval + info_nce(cross, 0.2) + 0.3 * expected_behaviour, rel=1e-5)


@pytest.mark.parametrize("changes", [{"alignment_temperature": 0.0}, {"behaviour_alignment_temperature": -0.1}])
def test_bad_alignment_temperatures_are_refused(tiny_run, changes):
    vocab = contract.Vocabularies.load(tiny_run["features"])
    with pytest.raises(ValueError, match="alignment_temperature"):
        BraidModel(vocab, ModelConfig(embedding_dim=16), ExtractConfig(max_history=6), TrainConfig(**changes))


def test_alignment_negatives_without_alignment_items_are_refused(tiny_run):
    vocab = contract.Vocabularies.load(tiny_run["features"])
    with pytest.raises(ValueError, match="--train.alignment_items 512"):
        BraidModel(vocab, ModelConfig(embedding_dim=16), ExtractConfig(max_history=6),
                   TrainConfig(alignment_negatives=True, alignment_items=0))


def test_negative_fusion_balance_is_refused(tiny_run):
    vocab = contract.Vocabularies.load(tiny_run["features"])
    with pytest.raises(ValueError, match="train.fusion_balance_weight"):
        BraidModel(vocab, ModelConfig(embedding_dim=16), ExtractConfig(max_history=6), TrainConfig(fusion_balance_weight=-0.1))


def _dot_model(tiny_run, **train_changes):
    vocab = contract.Vocabularies.load(tiny_run["features"])
    return BraidModel(vocab, ModelConfig(embedding_dim=4, scoring="dot"), ExtractConfig(max_history=6),
                      TrainConfig(temperature=0.5, **train_changes))


def test_full_softmax_scores_every_warm_id_and_the_targets_own_embedding(tiny_run):
    model = _dot_model(tiny_run)
    id_encoder = model.item_tower.id_encoder
    ids = contract.Vocabularies.load(tiny_run["features"]).items[:2]
    table = id_encoder.embedding(tf.range(id_encoder.lookup.vocabulary_size())).numpy()
    labels = id_encoder.lookup(tf.constant(ids)).numpy()
    users = np.array([[1.0, 0.0, 0.5, 0.0], [0.0, -1.0, 0.0, 2.0]], np.float32)
    # Row 0 keeps its id row; row 1's id was dropped, so its content embedding stands in for it.
    targets = np.stack([table[labels[0]], [0.3, 0.1, -0.2, 0.4]]).astype(np.float32)
    loss = model.full_softmax_loss(tf.constant(users), tf.constant(targets), tf.constant(ids)).numpy()
    expected = 0.0
    for user, target, label in zip(users, targets, labels):
        logits = table @ user
        logits[label] = target @ user
        logits = logits[1:] / 0.5  # row 0 is the out-of-vocabulary id: never a candidate
        expected += np.log(np.exp(logits - logits.max()).sum()) + logits.max() - logits[label - 1]
    assert loss == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("changes, message", [
    ({"sampled_negatives": 8}, "--train.sampled_negatives 0"),
    ({"content_loss_weight": -1.0}, "train.content_loss_weight"),
])
def test_dot_head_refuses_bad_settings(tiny_run, changes, message):
    with pytest.raises(ValueError, match=message):
        _dot_model(tiny_run, **changes)


def test_dot_head_adds_the_weighted_in_batch_loss_of_the_targets_content(tiny_run, pair_batch):
    model = _dot_model(tiny_run, content_loss_weight=0.5)
    batch = pair_batch
    with_term = float(model.compute_loss(batch, training=False))
    model.content_weight = 0.0
    without = float(model.compute_loss(batch, training=False))
    queries = model.user_tower(batch, training=False)
    content = model.item_tower.encode_all(BraidModel.prefixed(batch, TARGET_PREFIX), training=False)["content"]
    # The TFRS task with logQ and hit removal, at the model's temperature, on the content embeddings.
    task = tfrs.tasks.Retrieval(temperature=0.5, remove_accidental_hits=True)
    expected = float(task(queries, content, candidate_sampling_probability=batch["sampling_probability"],
                          candidate_ids=batch[TARGET_PREFIX + contract.ITEM_ID], compute_metrics=False))
    assert expected > 0
    assert with_term - without == pytest.approx(0.5 * expected, rel=1e-4)


@pytest.mark.parametrize("trains_users", [True, False])
def test_content_loss_trains_the_user_tower_only_when_asked(tiny_run, pair_batch, trains_users):
    model = _dot_model(tiny_run, content_loss_trains_users=trains_users)
    model.compute_loss(pair_batch)  # builds every layer

    def content_term_gradients(variables):
        with tf.GradientTape(persistent=True) as tape:
            model.content_weight = 1.0
            with_term = model.compute_loss(pair_batch)
            model.content_weight = 0.0
            without = model.compute_loss(pair_batch)
            term = with_term - without
        return [g for g in tape.gradient(term, variables) if g is not None]

    user_grads = content_term_gradients(model.user_tower.trainable_variables)
    projection_grads = content_term_gradients(model.item_tower.output_projection.trainable_variables)
    assert max(float(tf.reduce_max(tf.abs(tf.convert_to_tensor(g)))) for g in projection_grads) > 0
    user_moved = any(float(tf.reduce_max(tf.abs(tf.convert_to_tensor(g)))) > 1e-6 for g in user_grads)
    assert user_moved == trains_users
