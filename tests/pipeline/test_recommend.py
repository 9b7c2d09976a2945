"""``braid recommend --exclude`` (both file forms) and ``--candidates`` with exclusions, and the
explanation columns, on the tiny export."""

import json

import numpy as np
import pandas as pd
import pytest

from braidrec.pipeline.recommend_inputs import read_exclusions
from tests.conftest import braid


@pytest.fixture(scope="module")
def baseline(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("recs") / "base.parquet"
    braid("recommend", "--model", tiny_run["export"], "--out", out, "--k", "5")
    return pd.read_parquet(out)


def _write(path, form, frame):
    if form == "txt":
        path.write_text("\n".join(frame["item_id"]) + "\n")
    elif form == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("form", ["txt", "csv", "parquet"])
def test_item_exclusions_apply_to_everyone(tiny_run, tmp_path, baseline, form):
    top = baseline[baseline["rank"] == 1]["item_id"].value_counts().index[:2].tolist()
    exclude = _write(tmp_path / f"ex.{form}", form, pd.DataFrame({"item_id": top}))
    out = tmp_path / "recs.parquet"
    braid("recommend", "--model", tiny_run["export"], "--out", out, "--k", "5", "--exclude", exclude)
    recs = pd.read_parquet(out)
    assert not recs["item_id"].isin(top).any()
    assert (recs.groupby("user_id").size() == 5).all()


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_pair_exclusions_apply_per_user(tiny_run, tmp_path, baseline, form):
    first = baseline[baseline["rank"] == 1].head(3)
    exclude = _write(tmp_path / f"pairs.{form}", form, first[["user_id", "item_id"]].reset_index(drop=True))
    out = tmp_path / "recs.parquet"
    braid("recommend", "--model", tiny_run["export"], "--out", out, "--k", "5", "--exclude", exclude)
    recs = pd.read_parquet(out)
    pairs = set(zip(first["user_id"], first["item_id"]))
    assert not pairs & set(zip(recs["user_id"], recs["item_id"]))
    # Each excluded user's former second item moves up to rank 1; others keep their list.
    for user, item in pairs:
        second = baseline[(baseline["user_id"] == user) & (baseline["rank"] == 2)]["item_id"].item()
        assert recs[(recs["user_id"] == user) & (recs["rank"] == 1)]["item_id"].item() == second
    untouched = baseline[~baseline["user_id"].isin(first["user_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(recs[~recs["user_id"].isin(first["user_id"])].reset_index(drop=True)[["user_id", "item_id"]], untouched[["user_id", "item_id"]])


def test_candidates_and_exclusions_combine(tiny_run, tmp_path, baseline):
    (tmp_path / "cands.txt").write_text("i00001\ni00002\ni00003\ni00004\n")
    (tmp_path / "ex.txt").write_text("i00002\n")
    out = tmp_path / "recs.parquet"
    braid("recommend", "--model", tiny_run["export"], "--out", out, "--k", "5", "--candidates", tmp_path / "cands.txt", "--exclude", tmp_path / "ex.txt")
    assert set(pd.read_parquet(out)["item_id"]) <= {"i00001", "i00003", "i00004"}


def test_pairs_without_item_column_are_refused(tmp_path):
    (tmp_path / "bad.csv").write_text("user_id,other\nu1,x\n")
    with pytest.raises(ValueError, match="item_id"):
        read_exclusions(tmp_path / "bad.csv")


def _contribution_columns(tiny_run) -> list[str]:
    modalities = json.loads((tiny_run["model"] / "model.json").read_text())["modalities"]
    return [f"contribution_{m}" for m in modalities]


@pytest.mark.parametrize("narrowed", [False, True])
def test_explanation_columns_add_up_to_the_score(tiny_run, tmp_path, baseline, narrowed):
    """Both scoring paths (serving_default, and recommend_candidates when exclusions narrow the catalogue)."""
    recs = baseline
    if narrowed:
        (tmp_path / "ex.txt").write_text(baseline["item_id"].iloc[0] + "\n")
        braid("recommend", "--model", tiny_run["export"], "--out", tmp_path / "recs.parquet", "--k", "5", "--exclude", tmp_path / "ex.txt")
        recs = pd.read_parquet(tmp_path / "recs.parquet")
    columns = _contribution_columns(tiny_run)
    assert list(recs.columns) == ["user_id", "rank", "item_id", "score", "driver", *columns, "base"]
    np.testing.assert_allclose(recs[columns].sum(axis=1) + recs["base"], recs["score"], rtol=1e-4, atol=1e-5)
    largest = recs[columns].to_numpy().argmax(axis=1)
    assert (recs["driver"].to_numpy() == np.array([c[len("contribution_"):] for c in columns])[largest]).all()


def test_explanation_can_be_left_out(tiny_run, tmp_path, baseline):
    out = tmp_path / "recs.parquet"
    braid("recommend", "--model", tiny_run["export"], "--out", out, "--k", "5", "--recommend.explain", "false")
    recs = pd.read_parquet(out)
    assert list(recs.columns) == ["user_id", "rank", "item_id", "score"]
    pd.testing.assert_frame_equal(recs, baseline[recs.columns])


def test_an_export_without_explain_gives_plain_recs_and_says_so(tiny_run, tmp_path, caplog):
    braid("export", "--model", tiny_run["model"], "--out", tmp_path / "export", "--name", "plain", "--k", "10", "--export.explain", "false")
    out = tmp_path / "recs.parquet"
    braid("recommend", "--model", tmp_path / "export" / "plain" / "1", "--out", out, "--k", "5")
    assert list(pd.read_parquet(out).columns) == ["user_id", "rank", "item_id", "score"]
    assert "no explain signature" in caplog.text
