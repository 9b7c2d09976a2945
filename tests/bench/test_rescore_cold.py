"""bench.rescore_cold: re-scoring a stored model's cold task at other inference-time settings."""

import json

import pytest

from bench.rescore_cold import main, mean_runs, rescore


def test_the_models_own_settings_reproduce_braid_evaluate(tiny_run):
    metrics = json.loads(tiny_run["metrics"].read_text())
    (run,) = rescore(str(tiny_run["features"]), str(tiny_run["model"]))["runs"]
    assert run["cold_recall@10"] == pytest.approx(metrics["braidrec"]["cold"]["recall@10"], abs=1e-9)
    assert run["text_search_unseen@10"] == pytest.approx(metrics["alignment"]["text_search"]["unseen"]["recall@10"], abs=1e-9)


def test_each_combination_is_one_run_and_the_settings_act(tiny_run):
    metrics = json.loads(tiny_run["metrics"].read_text())
    runs = rescore(str(tiny_run["features"]), str(tiny_run["model"]), [1.0, 4.0], None, [0.75, 0.0])["runs"]
    assert [(r["temperature"], r["profile_weight"]) for r in runs] == [(1.0, 0.75), (1.0, 0.0), (4.0, 0.75), (4.0, 0.0)]
    assert runs[0]["cold_recall@10"] == pytest.approx(metrics["braidrec"]["cold"]["recall@10"], abs=1e-9)
    # The profile weight leaves the embeddings, and so text search, as they were.
    assert runs[1]["text_search_unseen@10"] == runs[0]["text_search_unseen@10"]
    # Each temperature re-embeds the cold items: some figure must move.
    first, other = runs[0], runs[2]
    assert (other["cold_recall@10"], other["text_search_unseen@10"]) != (first["cold_recall@10"], first["text_search_unseen@10"])


@pytest.mark.parametrize("flag, value, message", [
    ("--temperatures", "1,0", "every value must be > 0"),
    ("--prior-weights", "3,-1", "every value must be >= 0"),
    ("--profile-weights", "-0.5", "every value must be >= 0"),
    ("--profile-weights", ",", "at least one value"),
])
def test_out_of_range_settings_are_refused(tiny_run, flag, value, message):
    with pytest.raises(ValueError, match=message):
        main(["--features", str(tiny_run["features"]), "--models", str(tiny_run["model"]), flag, value])


def test_mean_runs_averages_each_setting_over_the_models():
    one = {"runs": [{"temperature": 1.0, "cold_recall@10": 0.2, "text_search_unseen@10": None},
                    {"temperature": 2.0, "cold_recall@10": 0.4, "text_search_unseen@10": 0.5}]}
    two = {"runs": [{"temperature": 1.0, "cold_recall@10": 0.3, "text_search_unseen@10": None},
                    {"temperature": 2.0, "cold_recall@10": 0.1, "text_search_unseen@10": 0.7}]}
    assert mean_runs([one, two]) == [
        {"temperature": 1.0, "cold_recall@10": pytest.approx(0.25), "text_search_unseen@10": None},
        {"temperature": 2.0, "cold_recall@10": pytest.approx(0.25), "text_search_unseen@10": pytest.approx(0.6)},
    ]
