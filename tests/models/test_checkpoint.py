"""A model directory is loaded only over the vocabularies it was trained on."""

import json
import shutil

import pytest

from braidrec.features import contract
from braidrec.models.checkpoint import MODEL_JSON, load_model_dir


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
