"""bench.rescore_cold: re-scoring a stored model's cold task at other fusion temperatures."""

import json

import pytest

from bench.rescore_cold import main, rescore


def test_temperature_one_reproduces_braid_evaluate_and_others_move_the_cold_figures(tiny_run):
    metrics = json.loads(tiny_run["metrics"].read_text())
    result = rescore(str(tiny_run["features"]), str(tiny_run["model"]), [1.0, 4.0])
    assert result["cold_recall@10"][1.0] == pytest.approx(metrics["braidrec"]["cold"]["recall@10"], abs=1e-9)
    search = metrics["alignment"]["text_search"]["unseen"]["recall@10"]
    assert result["text_search_unseen@10"][1.0] == pytest.approx(search, abs=1e-9)
    # Each temperature re-embeds the cold items: some figure must move.
    assert (result["cold_recall@10"][4.0], result["text_search_unseen@10"][4.0]) != (result["cold_recall@10"][1.0], search)


def test_a_temperature_that_is_not_positive_is_refused(tiny_run):
    with pytest.raises(ValueError, match="every value must be > 0"):
        main(["--features", str(tiny_run["features"]), "--models", str(tiny_run["model"]), "--temperatures", "1,0"])
