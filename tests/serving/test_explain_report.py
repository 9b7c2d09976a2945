"""``braid explain``: one user's scores split by modality, from the export, as a table or JSON."""

import json

import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf

from braidrec.config import ExportConfig
from braidrec.pipeline import cli
from braidrec.serving.export import build_module, save_module
from braidrec.serving.explain_report import explain_user, format_explanation


def _known_user(servable) -> str:
    return servable.all_user_ids().numpy()[0].decode()


def test_a_users_top_k_is_split_into_the_served_scores(tiny_run, servable):
    user = _known_user(servable)
    report = explain_user(tiny_run["export"], user_id=user, k=4)
    served = servable.signatures["serving_default"](user_id=tf.constant([user]))
    assert [r["item_id"] for r in report["rows"]] == [i.decode() for i in served["item_ids"].numpy()[0][:4]]
    assert [r["rank"] for r in report["rows"]] == [1, 2, 3, 4]
    np.testing.assert_allclose([r["score"] for r in report["rows"]], served["scores"].numpy()[0][:4], rtol=1e-4, atol=1e-5)
    for row in report["rows"]:
        assert sum(row["contributions"].values()) + row["base"] == pytest.approx(row["score"], abs=1e-5)
        # The driver has the largest contribution among the modalities the item has (an absent one's is 0).
        driver = row["contributions"][row["driver"]]
        assert all(driver >= c for c in row["contributions"].values() if c != 0)
    assert report["known_user"] and list(report["rows"][0]["contributions"]) == report["modalities"]


def test_a_history_and_given_items_are_explained_as_explain_history(tiny_run, servable):
    items = [i.decode() for i in servable.all_item_ids().numpy()[:3]]
    report = explain_user(tiny_run["export"], history=items[:2], items=[items[2], items[0]])
    direct = servable.signatures["explain_history"](history=tf.constant([items[:2]]), item_ids=tf.constant([[items[2], items[0]]]))
    np.testing.assert_allclose([r["score"] for r in report["rows"]], direct["scores"].numpy()[0], atol=1e-6)
    assert [r["rank"] for r in report["rows"]] == [None, None]
    table = format_explanation(report)
    assert f"a user with history {items[0]}, {items[1]}" in table
    assert all(name in table.splitlines()[1] for name in report["modalities"])


def test_an_unknown_user_is_explained_as_served_and_said_so(tiny_run):
    report = explain_user(tiny_run["export"], user_id="nobody-at-all", k=2)
    assert not report["known_user"] and len(report["rows"]) == 2
    assert "not known to the export" in format_explanation(report)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "either a user id"),
    ({"user_id": "u", "history": ["i"]}, "not both"),
    ({"user_id": "u", "k": 0}, "--k 0"),
    ({"user_id": "u", "items": ["not-an-item"]}, "not in the export's catalogue: not-an-item"),
])
def test_bad_requests_say_what_to_fix(tiny_run, kwargs, message):
    with pytest.raises(ValueError, match=message):
        explain_user(tiny_run["export"], **kwargs)


def test_an_export_without_the_signature_says_how_to_get_it(tiny_run, tmp_path):
    version = save_module(build_module(tiny_run["model"], 10, config=ExportConfig(explain=False)), tmp_path, "plain")
    with pytest.raises(ValueError, match="no explain signature"):
        explain_user(version, user_id="u")


def test_the_command_prints_json(tiny_run, servable, capsys):
    user = _known_user(servable)
    assert cli.main(["explain", "--model", str(tiny_run["export"]), "--user", user, "--k", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["user"] == user and len(report["rows"]) == 3
    assert cli.main(["explain", "--model", str(tiny_run["export"]), "--history", "x", "--items", "nope"]) == 1
    assert "not in the export's catalogue: nope" in capsys.readouterr().err
