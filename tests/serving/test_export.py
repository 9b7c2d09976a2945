"""The SavedModel: layout, signatures, save -> load -> compare, unknown users."""

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf

from braidrec.config import RunConfig
from braidrec.features import contract, readers
from braidrec.models.checkpoint import load_model_dir
from braidrec.models.datasets import pad_histories, user_profiles
from braidrec.models.evaluate import EvalData
from braidrec.models.taste_profile import cold_item_queries, score_moments, taste_profiles
from braidrec.models.train import train
from braidrec.serving.export import build_module, load_servable, next_version, save_module, serving_data
from braidrec.serving.module import RetrievalModule
from tests.conftest import served_scores


def _known_users(servable, n=4):
    return [u.decode() for u in servable.all_user_ids().numpy()[:n]]


def test_layout_is_tf_serving_versioned(tiny_run):
    base = tiny_run["export_base"] / "tiny"
    assert [p.name for p in base.iterdir() if not p.name.startswith(".")] == ["1"]
    assert (tiny_run["export"] / "saved_model.pb").is_file()
    assert next_version(base) == 2


def test_saved_model_cli_shows_signature(tiny_run):
    cli = Path(sys.executable).parent / "saved_model_cli"
    out = subprocess.run([str(cli), "show", "--all", "--dir", str(tiny_run["export"])], capture_output=True, text=True, check=True).stdout
    for signature in ("serving_default", "recommend_history", "recommend_profile", "search_text", "embed_items", "embed_users",
                      "recommend_candidates", "explain", "explain_history", "explain_profile"):
        assert f"signature_def['{signature}']" in out
    for name in ("user_id", "item_ids", "scores", "history", "query", "item_id", "embeddings", "modality_weights"):
        assert f"['{name}']" in out


@pytest.fixture(scope="module")
def dot_model(tiny_run, tmp_path_factory):
    """A model with SASRec's head (``model.scoring=dot``), trained one epoch on the tiny features."""
    config = RunConfig()
    config.model.embedding_dim, config.model.scoring, config.model.history_norm = 16, "dot", "pre"
    config.train.epochs, config.train.batch_size, config.train.verbose, config.train.temperature = 1, 128, 0, 1.0
    out = tmp_path_factory.mktemp("dot") / "model"
    train(tiny_run["features"], out, config)
    return out


@pytest.mark.parametrize("model", ["tiny", "dot"])
def test_save_load_compare(tiny_run, tmp_path, servable, model, request):
    # The dot model is trained only when its case runs.
    module = build_module(tiny_run["model"] if model == "tiny" else request.getfixturevalue("dot_model"), k=10)
    # Else tf.saved_model.save logs "Skipping full serialization of TF-Keras layer ItemTower".
    assert module.item_tower.built
    users = tf.constant(_known_users(servable) + ["someone-new"])
    before = module.serve(users)
    version = save_module(module, tmp_path, "copy")
    loaded = load_servable(version)
    after = loaded.signatures["serving_default"](user_id=users)
    np.testing.assert_array_equal(before["item_ids"].numpy(), after["item_ids"].numpy())
    np.testing.assert_allclose(before["scores"].numpy(), after["scores"].numpy(), rtol=1e-5, atol=1e-6)
    # The served score is the exported embeddings' dot product (cold items: with their query and bias) plus the offset.
    embedded_users = loaded.signatures["embed_users"](user_id=users)
    items = loaded.signatures["embed_items"](item_id=tf.reshape(after["item_ids"], [-1]))
    np.testing.assert_allclose(served_scores(embedded_users, items), after["scores"].numpy(), rtol=1e-4, atol=1e-5)


def test_known_and_unknown_users_get_k_items_without_known_ones(tiny_run, servable):
    users = _known_users(servable)
    out = servable.signatures["serving_default"](user_id=tf.constant(users + ["never-seen"]))
    ids = out["item_ids"].numpy()
    assert ids.shape == (len(users) + 1, 10)
    histories = {h.user_id: set(h.items) for h in readers.load_histories(tiny_run["features"])}
    for row, user in enumerate(users):
        assert not {i.decode() for i in ids[row]} & histories[user]
    assert np.all(np.diff(out["scores"].numpy(), axis=1) <= 1e-6)


def test_candidates_restrict_the_ranking(servable):
    users = tf.constant(_known_users(servable, 2))
    candidates = tf.constant(["i00003", "i00007", "i00011", "not-an-item"])
    out = servable.signatures["recommend_candidates"](user_id=users, candidates=candidates, k=tf.constant(10))
    got = {i.decode() for i in out["item_ids"].numpy().ravel()}
    assert got <= {"i00003", "i00007", "i00011"}


def test_fresh_process_answers_known_and_unknown_users(tiny_run, servable):
    """``saved_model_cli run`` in a new process: k ids for a known and an unknown user."""
    cli = Path(sys.executable).parent / "saved_model_cli"
    known = _known_users(servable, 1)[0]
    out = subprocess.run(
        [str(cli), "run", "--dir", str(tiny_run["export"]), "--tag_set", "serve", "--signature_def", "serving_default",
         "--input_exprs", f"user_id=['{known}', 'nobody']"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "item_ids" in out and "scores" in out
    assert out.count("b'i0") >= 20


def test_profiles_save_load_compare_with_the_keras_user_tower(tiny_run, servable):
    """Known users are served with their stored profile; ``recommend_profile`` takes one per request."""
    tower = load_model_dir(tiny_run["model"]).model.user_tower
    histories = {h.user_id: h for h in readers.load_histories(tiny_run["features"])}
    users = _known_users(servable, 3)
    history = pad_histories([histories[u].items for u in users], tower.max_history)
    profiles = user_profiles(list(histories.values()), np.array(users, dtype=object))
    inputs = {k: tf.constant(v) for k, v in profiles.items()}
    expected = tower({contract.USER_ID: tf.constant(users), "history": tf.constant(history), **inputs}).numpy()
    stored = servable.signatures["embed_users"](user_id=tf.constant(users))["embeddings"].numpy()
    np.testing.assert_allclose(stored, expected, atol=1e-5)

    new_user = tower({contract.USER_ID: tf.constant([""] * 3), "history": tf.constant(history), **inputs}).numpy()
    out = servable.signatures["recommend_profile"](history=tf.constant(history), **inputs)
    items = servable.signatures["embed_items"](item_id=tf.reshape(out["item_ids"], [-1]))
    np.testing.assert_allclose(served_scores(_history_user(tiny_run, new_user, history), items), out["scores"].numpy(), atol=1e-5)
    empty = {k: tf.zeros_like(v) for k, v in inputs.items()}
    without = servable.signatures["recommend_profile"](history=tf.constant(history), **empty)["scores"].numpy()
    assert not np.allclose(without, out["scores"].numpy(), atol=1e-4), "the profile must change the answer"
    # Its explaining twin splits the same scores.
    explained = servable.signatures["explain_profile"](history=tf.constant(history), item_ids=out["item_ids"], **inputs)
    np.testing.assert_allclose(explained["scores"].numpy(), out["scores"].numpy(), rtol=1e-4, atol=1e-5)


def _history_user(tiny_run, users: np.ndarray, history: np.ndarray) -> dict:
    """``embed_users``-like outputs of new users (tower vectors ``users``) with ``history`` [B, L] item ids."""
    trained = load_model_dir(tiny_run["model"])
    data = serving_data(trained.model, EvalData.load(trained.features_dir))
    row_of = {item: row for row, item in enumerate(data.item_ids.astype(str))}
    rows = np.array([[row_of.get(item, -1) for item in items] for items in history.astype(str)])
    profiles = taste_profiles(rows, functools.partial(tf.gather, data.item_embeddings))
    moments = score_moments(data.item_embeddings, data.item_has_id)
    queries, bias = cold_item_queries(users, profiles, data.cold_profile_weight, moments)
    return {"embeddings": users, "cold_item_queries": queries.numpy(), "cold_item_bias": bias.numpy()}


def test_cold_item_offsets_save_load_compare(tiny_run, tmp_path):
    """With a prior that scores cold items (fitted to counts that follow one category), the export
    serves ``user @ item + offset`` over the whole catalogue, as evaluation ranks."""
    trained = load_model_dir(tiny_run["model"])
    data = EvalData.load(trained.features_dir)
    tower = trained.model.item_tower
    first = data.catalogue.features[contract.CATEGORICAL][:, 0]
    counts = np.where(first == first[0], 50, 2) * (data.train_counts > 0)
    assert tower.fit_prior(tower.pretokenize(data.catalogue.features), counts).scale > 0
    served_data = serving_data(trained.model, data)
    cold = data.train_counts == 0
    assert served_data.item_offsets[cold].any() and not served_data.item_offsets[~cold].any()
    served = load_servable(save_module(RetrievalModule(trained.model.user_tower, served_data, 10, item_tower=tower), tmp_path, "prior"))

    users = _known_users(served, 5)
    embedded = served.signatures["embed_users"](user_id=tf.constant(users))
    catalogue = {"embeddings": np.tile(served_data.item_embeddings, (len(users), 1)), "has_id": np.tile(served_data.item_has_id, len(users)),
                 "score_offsets": np.tile(served_data.item_offsets, len(users))}
    scores = served_scores({k: v.numpy() for k, v in embedded.items()}, catalogue)
    rows = {u: r for r, u in enumerate(served_data.user_ids.astype(str))}
    for row, user in enumerate(users):
        known = served_data.known_items[rows[user]]
        scores[row, known[known >= 0]] = -np.inf
    expected = served_data.item_ids[np.argsort(-scores, axis=1)[:, :10]].astype(str)
    out = served.signatures["serving_default"](user_id=tf.constant(users))
    assert (out["item_ids"].numpy().astype(str) == expected).all()
    np.testing.assert_allclose(out["scores"].numpy(), -np.sort(-scores, axis=1)[:, :10], rtol=1e-4, atol=1e-5)
    # The explanation of those answers adds up to the same scores, cold items' prior in the base.
    explained = served.signatures["explain"](user_id=tf.constant(users), item_ids=out["item_ids"])
    np.testing.assert_allclose(explained["scores"].numpy(), out["scores"].numpy(), rtol=1e-4, atol=1e-5)
