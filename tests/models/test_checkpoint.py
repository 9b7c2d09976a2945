"""A model directory is loaded only over the vocabularies it was trained on, which it keeps a copy of."""

import json
import shutil

import numpy as np
import pytest

from braidrec.features import contract
from braidrec.models.checkpoint import MODEL_JSON, load_model_alone, load_model_dir, vocabulary_digest
from braidrec.models.evaluate import EvalData, item_embeddings


def test_features_extracted_again_with_other_vocabularies_are_refused(tiny_run, tmp_path):
    features = tmp_path / "features"
    shutil.copytree(tiny_run["features"], features)
    load_model_dir(tiny_run["model"], features)  # a copy of the same vocabularies loads
    # The same tokens in another order: the weights would load and every text row would mean another token.
    tokens = features / contract.VOCAB_DIR / contract.TEXT_VOCAB
    lines = tokens.read_text().splitlines()
    tokens.write_text("\n".join(lines[1:] + lines[:1]) + "\n")
    with pytest.raises(ValueError, match="not those .* was trained on .* braid train --features"):
        load_model_dir(tiny_run["model"], features)


def test_a_model_saved_without_the_digest_loads_unchecked(tiny_run, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_run["model"], model_dir)
    meta = json.loads((model_dir / MODEL_JSON).read_text())
    assert len(meta.pop("vocabulary_sha256")) == 64
    (model_dir / MODEL_JSON).write_text(json.dumps(meta))
    assert load_model_dir(model_dir).model.item_tower is not None


def _moved_away(tiny_run, tmp_path, features_dir: str):
    """A copy of the tiny model whose recorded features directory is ``features_dir``."""
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_run["model"], model_dir)
    meta = json.loads((model_dir / MODEL_JSON).read_text())
    (model_dir / MODEL_JSON).write_text(json.dumps({**meta, "features_dir": features_dir}))
    return model_dir


def test_a_model_whose_features_are_gone_loads_alone_and_embeds_as_before(tiny_run, tmp_path):
    assert vocabulary_digest(tiny_run["model"]) == vocabulary_digest(tiny_run["features"])
    model_dir = _moved_away(tiny_run, tmp_path, str(tmp_path / "removed"))
    alone = load_model_alone(model_dir)
    with pytest.raises(FileNotFoundError):
        load_model_dir(model_dir)
    catalogue = EvalData.load(tiny_run["features"]).catalogue
    np.testing.assert_allclose(item_embeddings(alone.model, catalogue).embeddings,
                               item_embeddings(load_model_dir(tiny_run["model"]).model, catalogue).embeddings, atol=1e-6)


def test_a_model_without_its_own_vocabularies_loads_alone_from_its_checked_features(tiny_run, tmp_path):
    model_dir = _moved_away(tiny_run, tmp_path, str(tiny_run["features"]))
    shutil.rmtree(model_dir / contract.VOCAB_DIR)
    assert load_model_alone(model_dir).features_dir == tiny_run["features"]
    other = tmp_path / "features"
    shutil.copytree(tiny_run["features"], other)
    (other / contract.VOCAB_DIR / contract.ITEM_VOCAB).write_text("a\nb\n")
    _moved_away(tiny_run, tmp_path / "x", str(other))
    shutil.rmtree(tmp_path / "x" / "model" / contract.VOCAB_DIR)
    with pytest.raises(ValueError, match="not those .* was trained on"):
        load_model_alone(tmp_path / "x" / "model")
