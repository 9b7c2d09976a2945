"""The explain signatures: per-modality contributions to the served scores, in float32 and float16."""

import json

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf

from braidrec.config import ExportConfig
from braidrec.models.checkpoint import load_model_dir
from braidrec.models.evaluate import EvalData, item_embeddings
from braidrec.serving.export import build_module, load_servable, save_module


@pytest.fixture(scope="module")
def float16_export(tiny_run, tmp_path_factory):
    """The tiny model exported with its explain parts in float16."""
    module = build_module(tiny_run["model"], 10, config=ExportConfig(explain_precision="float16"))
    return save_module(module, tmp_path_factory.mktemp("f16"), "f16")


@pytest.fixture(scope="module")
def model_parts(tiny_run):
    """The trained model's own split of every catalogue item (float32), and the catalogue's row index."""
    trained = load_model_dir(tiny_run["model"])
    data = EvalData.load(trained.features_dir)
    return item_embeddings(trained.model, data.catalogue, with_parts=True).parts, data.index


def _export(tiny_run, request, kind: str):
    return {"brute_force": tiny_run["export"], "partitioned": request.getfixturevalue("partitioned_export"),
            "float16": request.getfixturevalue("float16_export")}[kind]


@pytest.mark.parametrize("kind", ["brute_force", "partitioned", "float16"])
def test_explain_splits_the_served_scores_by_modality(tiny_run, request, kind):
    served = load_servable(_export(tiny_run, request, kind))
    users = tf.constant([u.decode() for u in served.all_user_ids().numpy()[:4]] + ["unknown-user"])
    top = served.signatures["serving_default"](user_id=users)
    # One slot of each row replaced by padding and one by an unknown id: not found, nothing contributed.
    items = top["item_ids"].numpy().astype(object)
    items[:, -1], items[:, -2] = b"", b"not-an-item"
    out = {k: v.numpy() for k, v in served.signatures["explain"](user_id=users, item_ids=tf.constant(items)).items()}
    # The scores are the index's whatever the parts' precision; contributions and base add up to them.
    np.testing.assert_allclose(out["scores"][:, :-2], top["scores"].numpy()[:, :-2], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["contributions"].sum(axis=-1) + out["base"], out["scores"], rtol=1e-5, atol=1e-6)
    assert out["found"][:, :-2].all() and not out["found"][:, -2:].any()
    assert not out["contributions"][:, -2:].any() and not out["base"][:, -2:].any()
    modalities = [m.decode() for m in served.modality_names().numpy()]
    assert modalities == json.loads((tiny_run["model"] / "model.json").read_text())["modalities"]
    expected = np.array(modalities, dtype=object)[out["contributions"].argmax(axis=-1)]
    assert (out["driver"][:, :-2].astype(str) == expected[:, :-2]).all()
    assert (out["driver"][:, -2:] == b"").all()


@pytest.mark.parametrize("kind, atol", [("brute_force", 1e-5), ("float16", 2e-3)])
def test_contributions_and_base_are_the_models_split(tiny_run, request, model_parts, kind, atol):
    """Each contribution is the query's dot product with the model's part, and the base its bias part plus
    the cold-item bias and offset; float16 parts are within their rounding of the float32 ones."""
    served = load_servable(_export(tiny_run, request, kind))
    parts, index = model_parts
    users = [u.decode() for u in served.all_user_ids().numpy()[:6]]
    item_ids = served.signatures["serving_default"](user_id=tf.constant(users))["item_ids"]
    out = {k: v.numpy() for k, v in served.signatures["explain"](user_id=tf.constant(users), item_ids=item_ids).items()}
    vectors = {k: v.numpy() for k, v in served.signatures["embed_users"](user_id=tf.constant(users)).items()}
    flat = served.signatures["embed_items"](item_id=tf.reshape(item_ids, [-1]))
    has_id = flat["has_id"].numpy().reshape(item_ids.shape)
    assert has_id.any() and not has_id.all(), "the tiny top-10s should hold items with and without a trained id"
    queries = np.where(has_id[..., None], vectors["embeddings"][:, None], vectors["cold_item_queries"][:, None])
    rows = np.vectorize(lambda i: index[i.decode()])(item_ids.numpy())
    np.testing.assert_allclose(out["contributions"], np.einsum("bkd,bkmd->bkm", queries, parts.parts[rows]), atol=atol)
    base = parts.bias_scale[rows] * (queries @ parts.bias) + flat["score_offsets"].numpy().reshape(rows.shape)
    base += np.where(has_id, 0.0, vectors["cold_item_bias"][:, None])
    np.testing.assert_allclose(out["base"], base, atol=atol)
    assert served.item_parts.dtype == (tf.float16 if kind == "float16" else tf.float32)


def test_float16_parts_take_half_the_bytes(tiny_run, float16_export, model_parts):
    def variables_bytes(version) -> int:
        return sum(f.stat().st_size for f in (version / "variables").iterdir())

    saved = variables_bytes(tiny_run["export"]) - variables_bytes(float16_export)
    assert saved == pytest.approx(model_parts[0].parts.nbytes / 2, rel=0.05)


def test_explain_history_splits_recommend_history_scores(servable):
    items = [i.decode() for i in servable.all_item_ids().numpy()]
    history = tf.constant([["", items[0], items[1]], ["", "", ""]])
    top = servable.signatures["recommend_history"](history=history)
    out = servable.signatures["explain_history"](history=history, item_ids=top["item_ids"])
    np.testing.assert_allclose(out["scores"].numpy(), top["scores"].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["contributions"].numpy().sum(axis=-1) + out["base"].numpy(), out["scores"].numpy(), atol=1e-6)
    # The two histories are two users: their explanations of the same item differ.
    both = tf.constant([[items[2]], [items[2]]])
    contributions = servable.signatures["explain_history"](history=history, item_ids=both)["contributions"].numpy()
    assert not np.allclose(contributions[0], contributions[1])


def test_unknown_explain_precision_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="explain_precision 'int8'.*float16"):
        build_module(tmp_path / "no-model", 10, config=ExportConfig(explain_precision="int8"))
