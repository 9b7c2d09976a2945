"""The ``braid`` command on tiny data: each stage's output, errors, and ``braid run``."""

import json

import pandas as pd
import pytest

from braidrec.pipeline import cli
from tests.conftest import TINY_SYNTH, TINY_TRAIN, braid


def test_metrics_json_has_all_numbers(tiny_run):
    metrics = json.loads(tiny_run["metrics"].read_text())
    for key in ("recall@10", "recall@20", "ndcg@10", "ndcg@20"):
        assert 0 <= metrics["braidrec"]["warm"][key] <= 1
        assert 0 <= metrics["popularity"]["warm"][key] <= 1
        assert 0 <= metrics["oracle"]["warm"][key] <= 1
    assert {"recall@10", "ndcg@10"} <= set(metrics["braidrec"]["cold"])
    assert metrics["random"]["cold"]["recall@10"] > 0
    # A short training run on synthetic data must beat popularity and a random cold ranking.
    assert metrics["braidrec"]["warm"]["recall@10"] > 2 * metrics["popularity"]["warm"]["recall@10"]
    assert metrics["braidrec"]["cold"]["recall@10"] > metrics["random"]["cold"]["recall@10"]
    assert sum(metrics["attention"]["overall"].values()) == pytest.approx(1.0, abs=0.01)
    assert 0 < metrics["coverage@10"] <= 1
    assert {"no_image", "no_text", "image_noise", "no_profile"} <= set(metrics["robustness"])
    gap = metrics["alignment"]["pairs"]["text~image"]
    assert gap["gap"] == pytest.approx(gap["paired"] - gap["random"])
    assert 0 <= metrics["alignment"]["text_to_image"]["recall@1"] <= metrics["alignment"]["text_to_image"]["recall@10"] <= 1


def test_recommend_writes_k_rows_per_user(tiny_run):
    recs = pd.read_parquet(tiny_run["recs"])
    assert list(recs.columns)[:5] == ["user_id", "rank", "item_id", "score", "driver"]
    per_user = recs.groupby("user_id")["rank"].agg(list)
    assert all(ranks == [1, 2, 3, 4, 5] for ranks in per_user)
    assert per_user.index.nunique() == 100


def test_recommend_with_users_and_candidates(tiny_run, tmp_path):
    (tmp_path / "users.txt").write_text("u00001\nu00002\n")
    (tmp_path / "cands.txt").write_text("i00001\ni00002\ni00003\ni00004\ni00005\ni00006\n")
    out = tmp_path / "recs.parquet"
    braid("recommend", "--model", tiny_run["export"], "--out", out, "--k", "3", "--users", tmp_path / "users.txt", "--candidates", tmp_path / "cands.txt")
    recs = pd.read_parquet(out)
    assert set(recs["user_id"]) == {"u00001", "u00002"}
    assert set(recs["item_id"]) <= {f"i0000{n}" for n in range(1, 7)}
    assert recs.groupby("user_id").size().max() <= 3


def test_validate_reports_problems(tiny_run, tmp_path, capsys):
    assert cli.main(["data", "validate", str(tiny_run["data"])]) == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "dataset.yaml").write_text("items: {path: items.csv, id: item_idd}\ninteractions: {path: x.csv, user: u, item: i, timestamp: t}\n")
    (bad / "items.csv").write_text("item_id,title\n1,a\n")
    assert cli.main(["data", "validate", str(bad)]) == 1
    assert "item_id" in capsys.readouterr().out


def test_config_errors_exit_2(tmp_path, capsys):
    assert cli.main(["train", "--features", str(tmp_path), "--out", str(tmp_path / "m"), "--train.epochs", "many"]) == 2
    assert "train.epochs" in capsys.readouterr().err


def test_braid_run_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    synth = [f"--data.synth.{flag.lstrip('-')}" if flag.startswith("--") else flag for flag in TINY_SYNTH]
    braid("run", "--out", out, *synth, *TINY_TRAIN, "--extract.num_shards", "1", "--export.k", "10", "--recommend.k", "5")
    printed = capsys.readouterr().out
    for artefact in ("data/dataset.yaml", "features/manifest.json", "model/model.json", "metrics.json", "export/braidrec/1/saved_model.pb", "recs.parquet", "config.yaml"):
        assert (out / artefact).exists(), artefact
    assert "oracle" in printed and "top-5 recommendations" in printed
