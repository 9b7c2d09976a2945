"""Every signature of the tiny export, the op list, the warm-up file, models.config, the partitioned index
(the explain signatures: test_explain_signatures.py)."""

import json

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from braidrec.features import contract, readers
from braidrec.models.evaluate import EvalData
from braidrec.serving.index import BruteForceIndex
from braidrec.serving.model_config import CONFIG_FILE, parse_model_config
from braidrec.serving.partitioned import PartitionedIndex
from braidrec.serving.warmup import read_warmup
from tests.conftest import served_scores

SIGNATURES = [
    "serving_default", "recommend_history", "recommend_profile", "recommend_candidates", "search_text", "embed_items", "embed_users",
    "explain", "explain_history", "explain_profile",
]


@pytest.fixture(scope="module")
def histories(tiny_run):
    return {h.user_id: h.items for h in readers.load_histories(tiny_run["features"])}


def test_every_signature_is_exported(servable):
    assert set(SIGNATURES) <= set(servable.signatures)


def test_recommend_history_excludes_the_history_and_ignores_unknown_items(servable, histories):
    items = [i.decode() for i in servable.all_item_ids().numpy()]
    history = tf.constant([["", items[0], items[1]], ["", "", "not-an-item"]])
    ids = servable.signatures["recommend_history"](history=history)["item_ids"].numpy().astype(str)
    assert ids.shape == (2, 10)
    assert not {items[0], items[1]} & set(ids[0])
    assert set(ids[1]) <= set(items)


def _found_by_own_text(servable, catalogue, rows, queries) -> np.ndarray:
    """Per catalogue row: whether ``search_text``, given the row's text, puts the row's item in its top 10."""
    out = servable.signatures["search_text"](query=tf.constant(queries))["item_ids"].numpy().astype(str)
    return np.array([catalogue.item_ids[r] in set(top) for r, top in zip(rows, out)])


def test_search_text_finds_the_item_whose_text_is_the_query(servable, tiny_run):
    catalogue = readers.load_catalogue(tiny_run["features"])
    texts = [t.decode() if isinstance(t, bytes) else str(t) for t in catalogue.take(np.arange(len(catalogue)))[contract.TEXT]]
    rows = [r for r, t in enumerate(texts) if t.strip()][:20]
    hits = _found_by_own_text(servable, catalogue, rows, [texts[r] for r in rows]).mean()
    # Random top-10 of 150 items would hit 1 in 15; the text path must do far better.
    assert hits >= 0.3, hits


def test_embed_items_returns_catalogue_embeddings_and_modality_weights(servable):
    item = servable.all_item_ids().numpy()[:1]
    out = servable.signatures["embed_items"](item_id=tf.constant([item[0], b"unknown"]))
    np.testing.assert_allclose(np.linalg.norm(out["embeddings"].numpy()[0]), 1.0, rtol=1e-4)
    np.testing.assert_allclose(out["modality_weights"].numpy()[0].sum(), 1.0, rtol=1e-4)
    assert out["found"].numpy().tolist() == [True, False]
    assert not out["embeddings"].numpy()[1].any()


def test_embed_users_score_equals_serving_default(servable):
    user = servable.all_user_ids().numpy()[:1]
    users = servable.signatures["embed_users"](user_id=tf.constant(user))
    rec = servable.signatures["serving_default"](user_id=tf.constant(user))
    items = servable.signatures["embed_items"](item_id=rec["item_ids"][0])
    np.testing.assert_allclose(served_scores(users, items), rec["scores"].numpy(), rtol=1e-4, atol=1e-5)


def _ops(export_dir):
    proto = saved_model_pb2.SavedModel.FromString((export_dir / "saved_model.pb").read_bytes())
    graph = proto.meta_graphs[0].graph_def
    ops = {n.op for n in graph.node}
    for function in graph.library.function:
        ops |= {n.op for n in function.node_def}
    return ops


@pytest.mark.parametrize("kind, expected", [("brute_force", {"MatMul", "TopKV2"}), ("partitioned", {"RaggedRange", "RaggedTensorToTensor", "LowerBound"})])
def test_graph_uses_only_core_tensorflow_ops(tiny_run, partitioned_export, kind, expected):
    ops = _ops(tiny_run["export"] if kind == "brute_force" else partitioned_export)
    assert expected <= ops
    assert ops - set(dir(tf.raw_ops)) == set()


def test_partitioned_export_serves_k_items_without_known_ones(partitioned_export, servable, histories):
    users = [u.decode() for u in servable.all_user_ids().numpy()[:5]]
    ids = tf.saved_model.load(str(partitioned_export)).signatures["serving_default"](user_id=tf.constant(users))["item_ids"].numpy().astype(str)
    assert ids.shape == (5, 10)
    for row, user in enumerate(users):
        assert not set(ids[row]) & set(histories[user]) - {""}


@pytest.mark.parametrize("signature", SIGNATURES)
def test_warmup_file_parses_and_replays(tiny_run, servable, signature):
    requests = {r.model_spec.signature_name: r for r in read_warmup(tiny_run["export"])}
    assert set(requests) == set(servable.signatures)
    request = requests[signature]
    assert request.model_spec.name == "tiny"
    out = servable.signatures[signature](**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
    assert all(v.shape[0] >= 1 for v in out.values())


def test_models_config_names_the_export(tiny_run):
    config = parse_model_config((tiny_run["export_base"] / CONFIG_FILE).read_text())
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == ("tiny", "/models/tiny", "tensorflow")


@pytest.mark.parametrize("nprobe, min_recall", [(64, 1.0), (8, 0.8)])
def test_partitioned_index_matches_brute_force(nprobe, min_recall):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(32, 16))
    items = centers[rng.integers(0, 32, 4000)] + 0.3 * rng.normal(size=(4000, 16))
    items = (items / np.linalg.norm(items, axis=1, keepdims=True)).astype(np.float32)
    queries = tf.constant(items[rng.integers(0, 4000, 50)] + 0.05)
    known = tf.constant(np.tile(np.array([[3, -1]], np.int32), (50, 1)))
    exact, _ = BruteForceIndex(items).top_k(queries, known, 10)
    approx, _ = PartitionedIndex(items, cells=64, nprobe=nprobe).top_k(queries, known, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx.numpy(), exact.numpy())])
    assert recall >= min_recall
    assert not (approx.numpy() == 3).any()


@pytest.mark.parametrize("make_index", [BruteForceIndex, lambda e, o: PartitionedIndex(e, cells=4, nprobe=4, offsets=o)])
def test_indexes_add_item_score_offsets_unless_asked_not_to(make_index):
    """Exact top-k of ``queries @ items.T + offsets``; ``with_offsets=False`` is the dot product alone."""
    rng = np.random.default_rng(1)
    items = rng.normal(size=(40, 8)).astype(np.float32)
    offsets = np.where(np.arange(40) % 5 == 0, 3.0, 0.0).astype(np.float32)
    queries = rng.normal(size=(6, 8)).astype(np.float32)
    none_known = tf.fill([6, 1], -1)
    index = make_index(items, offsets)
    rows, scores = index.top_k(tf.constant(queries), none_known, 5)
    expected = queries @ items.T + offsets
    np.testing.assert_array_equal(rows.numpy(), np.argsort(-expected, axis=1)[:, :5])
    np.testing.assert_allclose(scores.numpy(), np.sort(expected, axis=1)[:, ::-1][:, :5], rtol=1e-5)
    plain, _ = index.top_k(tf.constant(queries), none_known, 5, with_offsets=False)
    np.testing.assert_array_equal(plain.numpy(), np.argsort(-(queries @ items.T), axis=1)[:, :5])
    np.testing.assert_allclose(index.offsets_of(tf.constant([0, 1])).numpy(), [3.0, 0.0])


def test_partitioned_index_finds_items_lifted_by_offsets_outside_the_probed_cells():
    """An item whose offset lifts it to the top is returned even when its cell is far from the query."""
    rng = np.random.default_rng(2)
    centers = np.eye(8, dtype=np.float32)
    items = centers[np.arange(400) % 8] + 0.05 * rng.normal(size=(400, 8)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    offsets = np.zeros(400, np.float32)
    far = np.flatnonzero(np.arange(400) % 8 == 7)[:3]  # in a cluster the queries do not point to
    offsets[far] = 5.0
    queries = tf.constant(np.tile(centers[:1], (4, 1)))
    none_known = tf.fill([4, 1], -1)
    index = PartitionedIndex(items, cells=8, nprobe=1, offsets=offsets)
    rows, scores = index.top_k(queries, none_known, 5)
    np.testing.assert_array_equal(np.sort(rows.numpy()[:, :3], axis=1), np.tile(np.sort(far), (4, 1)))
    assert index.scanned == 3
    expected = queries.numpy() @ items.T + offsets
    np.testing.assert_allclose(scores.numpy()[:, :3], np.sort(expected, axis=1)[:, ::-1][:, :3], rtol=1e-5)
    # Searching by content alone the offsets do not count, so the far items drop out.
    plain, _ = index.top_k(queries, none_known, 5, with_offsets=False)
    assert not set(plain.numpy().ravel()) & set(far.tolist())
    np.testing.assert_allclose(index.offsets_of(tf.constant(far)).numpy(), 5.0)


def test_partitioned_index_with_every_item_lifted_is_exact():
    rng = np.random.default_rng(3)
    items = rng.normal(size=(30, 4)).astype(np.float32)
    offsets = rng.uniform(0.5, 1.0, size=30).astype(np.float32)
    queries = rng.normal(size=(5, 4)).astype(np.float32)
    rows, _ = PartitionedIndex(items, cells=4, nprobe=1, offsets=offsets).top_k(tf.constant(queries), tf.fill([5, 1], -1), 6)
    np.testing.assert_array_equal(rows.numpy(), np.argsort(-(queries @ items.T + offsets), axis=1)[:, :6])


def test_index_refuses_offsets_of_the_wrong_length():
    with pytest.raises(ValueError, match="one offset each"):
        BruteForceIndex(np.zeros((4, 2), np.float32), np.zeros(3, np.float32))


@pytest.mark.parametrize("cold_share", [0.2, 1.0])
@pytest.mark.parametrize("make_index", [
    lambda e, o, h: BruteForceIndex(e, o, h),
    lambda e, o, h: PartitionedIndex(e, cells=4, nprobe=4, offsets=o, has_id=h),
])
def test_indexes_score_items_without_an_id_with_the_cold_query(make_index, cold_share):
    """Rows without a trained id are scored ``cold_query @ item + cold_bias + offset``, the others
    ``query @ item + offset`` (every cell probed, so the partitioned index is exact; with every row
    lacking an id, they all sit in cells instead of the scanned set)."""
    rng = np.random.default_rng(4)
    items = rng.normal(size=(40, 8)).astype(np.float32)
    has_id = np.arange(40) >= int(40 * cold_share)
    offsets = np.where(~has_id, rng.uniform(-0.5, 0.5, 40), 0.0).astype(np.float32)
    queries, cold_queries = rng.normal(size=(2, 6, 8)).astype(np.float32)
    cold_bias = rng.normal(size=6).astype(np.float32)
    index = make_index(items, offsets, has_id)
    rows, scores = index.top_k(tf.constant(queries), tf.fill([6, 1], -1), 7, cold_queries=tf.constant(cold_queries),
                               cold_bias=tf.constant(cold_bias))
    expected = np.where(has_id, queries @ items.T, cold_queries @ items.T + cold_bias[:, None]) + offsets
    np.testing.assert_array_equal(rows.numpy(), np.argsort(-expected, axis=1)[:, :7])
    np.testing.assert_allclose(scores.numpy(), -np.sort(-expected, axis=1)[:, :7], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(index.has_id_of(tf.constant([0, 39])).numpy(), has_id[[0, 39]])
    if isinstance(index, PartitionedIndex):
        # Rows without an id are scanned for every query (all of them clustered when none has one).
        assert index.scanned == (0 if cold_share == 1.0 else int((~has_id).sum()))


def test_text_search_metric_is_what_search_text_serves(servable, tiny_run):
    """metrics.json's alignment.text_search Recall@10 equals the share of items the signature finds by their text."""
    catalogue = readers.load_catalogue(tiny_run["features"])
    metrics = json.loads(tiny_run["metrics"].read_text())["alignment"]["text_search"]
    rows = np.flatnonzero(np.asarray(catalogue.features[contract.HAS_TEXT]) > 0)
    found = _found_by_own_text(servable, catalogue, rows, np.asarray(catalogue.features[contract.TEXT])[rows])
    served = found.mean()
    assert metrics["items"] == len(rows) > 20
    assert metrics["recall@10"] == pytest.approx(served, abs=1.5 / len(rows))
    assert metrics["recall@1"] <= metrics["recall@10"]
    cold = EvalData.load(tiny_run["features"]).cold_mask[rows]
    assert metrics["unseen"]["items"] == int(cold.sum()) > 0
    assert metrics["unseen"]["recall@10"] == pytest.approx(found[cold].mean(), abs=1.5 / cold.sum())
