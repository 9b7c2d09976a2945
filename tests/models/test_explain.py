"""``drivers@10``: which modality drove the top of the whole-catalogue ranking."""

import numpy as np
import pytest

from braidrec.features import contract
from braidrec.models.evaluate import EvalData, item_embeddings
from braidrec.models.evaluate_mixed import mixed_ranking
from braidrec.models.explain import driver_report
from braidrec.models.mixed_ranking import mixed_task
from tests.conftest import untrained_model


def test_driver_report_counts_every_top_slot_and_only_present_modalities(tiny_run):
    model = untrained_model(tiny_run, disabled_modalities=["image", "categorical", "numeric"])
    data = EvalData.load(tiny_run["features"])
    items = item_embeddings(model, data.catalogue, with_parts=True)
    report = driver_report(model, data, items, k=5)
    assert report["slots"]["all"] == 5 * len(mixed_task(data, contract.SPLIT_TEST).relevant)
    assert report["slots"]["all"] == report["slots"]["with_id"] + report["slots"]["without_id"]
    for name in ("all", "with_id", "without_id"):
        assert sum(report[name].values()) == pytest.approx(1.0)
        assert report[name]["image"] == report[name]["categorical"] == report[name]["numeric"] == 0.0
    # Items without a trained id have text alone here (the tiny catalogue's items all have text or
    # nothing), so text drives every one of their slots.
    if report["slots"]["without_id"]:
        assert report["without_id"]["text"] == 1.0


def test_driver_report_needs_the_parts(tiny_run):
    model = untrained_model(tiny_run)
    data = EvalData.load(tiny_run["features"])
    with pytest.raises(ValueError, match="with_parts=True"):
        driver_report(model, data, item_embeddings(model, data.catalogue))


def test_driver_report_reads_a_given_ranking(tiny_run):
    """braid evaluate ranks the test users once for ``mixed`` and ``drivers@10``: the report of that
    ranking equals the report that ranks again, and a ranking with other tops gives other counts."""
    model = untrained_model(tiny_run)
    data = EvalData.load(tiny_run["features"])
    items = item_embeddings(model, data.catalogue, with_parts=True)
    ranked = mixed_ranking(model, data, items, k=5)
    assert driver_report(model, data, items, k=5, ranked=ranked) == driver_report(model, data, items, k=5)
    emptied = ranked._replace(tops=np.where(np.arange(5) < 2, ranked.tops, -1))
    assert driver_report(model, data, items, k=5, ranked=emptied)["slots"]["all"] == 2 * len(ranked.tops)
