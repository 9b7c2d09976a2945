"""ModalityFusion: masking, weights, serialisation."""

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf
import tf_keras as keras

from braidrec.models.fusion import FUSION_MODES, ModalityFusion, balance_penalty

EMB = tf.random.stateless_normal([4, 3, 8], seed=[1, 2])
MASK = tf.constant([[True, True, True], [True, False, True], [False, False, True], [False, False, False]])


@pytest.mark.parametrize("mode", FUSION_MODES)
def test_weights_sum_to_one_over_present_modalities(mode):
    fused, weights = ModalityFusion(mode)(EMB, MASK)
    assert fused.shape == (4, 8)
    np.testing.assert_allclose(weights.numpy().sum(axis=1), [1, 1, 1, 0], atol=1e-6)
    assert (weights.numpy()[~MASK.numpy()] == 0).all()


@pytest.mark.parametrize("mode", FUSION_MODES)
def test_masked_modality_does_not_change_output(mode):
    layer = ModalityFusion(mode)
    changed = tf.tensor_scatter_nd_update(EMB, [[1, 1]], [tf.fill([8], 100.0)])
    before, _ = layer(EMB, MASK)
    after, _ = layer(changed, MASK)
    np.testing.assert_allclose(before.numpy()[1], after.numpy()[1], atol=1e-5)


@pytest.mark.parametrize("mode", FUSION_MODES)
def test_serialisation_round_trip(mode, tmp_path):
    emb_in = keras.Input([3, 8])
    mask_in = keras.Input([3], dtype=tf.bool)
    fused, weights = ModalityFusion(mode, hidden_dim=16, name="fusion")(emb_in, mask_in)
    model = keras.Model([emb_in, mask_in], [fused, weights])
    path = str(tmp_path / "fusion.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert restored.get_layer("fusion").get_config()["mode"] == mode
    for a, b in zip(model([EMB, MASK]), restored([EMB, MASK])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


@pytest.mark.parametrize("mode", FUSION_MODES)
def test_temperature_tempers_each_rows_attention_and_nothing_else(mode):
    layer = ModalityFusion(mode)
    _, plain = layer(EMB, MASK)
    temperature = tf.constant([1.0, 2.0, 1e6, 3.0])
    _, tempered = layer(EMB, MASK, temperature=temperature)
    plain, tempered = plain.numpy(), tempered.numpy()
    if mode != "attention":
        np.testing.assert_array_equal(tempered, plain)
        return
    # softmax(logits / T) over the present modalities is the learned weights to the power 1/T, renormalised.
    expected = np.where(MASK.numpy(), plain, 0.0) ** (1.0 / temperature.numpy()[:, None])
    expected /= np.maximum(expected.sum(axis=1, keepdims=True), 1e-12)
    np.testing.assert_allclose(tempered, expected, atol=1e-5)
    np.testing.assert_allclose(tempered[2], [0.0, 0.0, 1.0], atol=1e-6)  # one modality: nothing to temper
    assert np.abs(tempered[1] - [0.5, 0.0, 0.5]).max() < np.abs(plain[1] - [0.5, 0.0, 0.5]).max()


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="model.fusion"):
        ModalityFusion("median")


def test_balance_penalty_matches_hand_computation():
    # Row 0: weights 0.5 / 0.25 / 0.25 over three present modalities:
    #   KL(uniform || w) = -log 3 - (log 0.5 + 2 log 0.25) / 3.
    # Row 1: two present, given as 0.3 / 0.1 (they are renormalised to 0.75 / 0.25):
    #   -log 2 - (log 0.75 + log 0.25) / 2.
    # Row 2: one present modality, row 3: none; both add zero.
    weights = tf.constant([[0.5, 0.25, 0.25], [0.3, 0.0, 0.1], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    mask = tf.constant([[True, True, True], [True, False, True], [False, True, False], [False, False, False]])
    expected = (-np.log(3) - (np.log(0.5) + 2 * np.log(0.25)) / 3) + (-np.log(2) - (np.log(0.75) + np.log(0.25)) / 2)
    np.testing.assert_allclose(balance_penalty(weights, mask).numpy(), expected, rtol=1e-5)


def test_balance_penalty_is_zero_for_uniform_weights_and_pulls_a_collapsed_modality_up():
    mask = tf.constant([[True, True, True]])
    assert abs(float(balance_penalty(tf.fill([1, 3], 1 / 3), mask))) < 1e-6
    logits = tf.Variable([[2.0, 1.0, -6.0]])
    with tf.GradientTape() as tape:
        penalty = balance_penalty(tf.nn.softmax(logits), mask)
    gradient = tape.gradient(penalty, logits).numpy()[0]
    assert gradient[2] < 0 < gradient[0]  # descent raises the ignored modality's logit, lowers the dominant one's
