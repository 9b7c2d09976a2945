"""metrics.json's ``efficiency``: weights per modality, bytes per item, timed passes."""

import json
import time

import numpy as np
import pytest

from braidrec.features import contract
from braidrec.models.checkpoint import load_model_dir
from braidrec.models.evaluate import EvalData, item_embeddings
from braidrec.models.evaluate_mixed import mixed_ranking
from braidrec.models.efficiency import StageTimer, efficiency_report, parameter_counts


@pytest.fixture(scope="module")
def built_model(tiny_run):
    """The tiny trained model after both towers ran once, as evaluation runs them (Keras builds on call)."""
    model = load_model_dir(tiny_run["model"]).model
    data = EvalData.load(tiny_run["features"])
    mixed_ranking(model, data, item_embeddings(model, data.catalogue))
    return model


def test_parameter_counts_cover_every_weight_once(tiny_run, built_model):
    model = built_model
    counts = parameter_counts(model)
    unique = {id(w): w for w in model.item_tower.weights + model.user_tower.weights}
    assert counts["total"] == sum(int(np.prod(w.shape)) for w in unique.values())
    vocab = contract.Vocabularies.load(tiny_run["features"])
    # The id table: every trained id plus one out-of-vocabulary row.
    assert counts["item_tower"]["id"] == (len(vocab.items) + 1) * model.item_tower.output_projection.units
    assert set(counts["item_tower"]) == set(model.item_tower.modalities) | {"content_prior", "fusion_and_output"}
    assert counts["item_tower"]["content_prior"] > 0 and counts["user_tower"] > 0


def test_stage_timer_records_rows_and_rate():
    timer = StageTimer()
    with timer("nap", 50):
        time.sleep(0.01)
    stage = timer.stages["nap"]
    assert stage["rows"] == 50 and stage["seconds"] >= 0.01
    assert stage["per_s"] == pytest.approx(50 / stage["seconds"])


def test_evaluate_reports_efficiency(tiny_run):
    metrics = json.loads(tiny_run["metrics"].read_text())
    efficiency = metrics["efficiency"]
    model_json = json.loads((tiny_run["model"] / "model.json").read_text())
    dim, modalities = model_json["model"]["embedding_dim"], len(model_json["modalities"])
    assert efficiency["bytes_per_item"] == {"embedding": 4 * dim, "explain_parts": 4 * modalities * dim,
                                            "explain_parts_float16": 2 * modalities * dim}
    assert set(efficiency["throughput"]) == {"catalogue_items_with_parts", "text_queries_searched", "users_ranked_over_the_catalogue"}
    assert efficiency["throughput"]["catalogue_items_with_parts"]["rows"] == metrics["split"]["items"]
    assert efficiency["throughput"]["users_ranked_over_the_catalogue"]["rows"] == metrics["split"]["test_users"]
    history = json.loads((tiny_run["model"] / "history.json").read_text())
    assert efficiency["training"]["seconds_to_best_epoch"] == history["seconds_to_best_epoch"]


def test_report_without_history_has_no_training(built_model):
    assert "training" not in efficiency_report(built_model, StageTimer())
