"""``braid data movielens`` + ``braid extract`` on the real MovieLens 100K (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from braidrec.pipeline import cli

ML100K = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "ml-100k"
MULTI = ("--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (ML100K / "u.data").is_file(), reason=f"MovieLens 100K not found at {ML100K}"),
]


def test_ml100k_converts_and_every_rating_is_accounted_for(tmp_path, capsys):
    assert cli.main(["data", "movielens", "--src", str(ML100K), "--out", str(tmp_path / "ml100k")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["items"], summary["users"], summary["interactions"]) == (1682, 943, 100000)
    assert (summary["images_copied"], summary["items_without_image"]) == (1663, 19)
    assert cli.main(["extract", "--data", str(tmp_path / "ml100k"), "--out", str(tmp_path / "features"), *MULTI]) == 0
    manifest = json.loads((tmp_path / "features" / "manifest.json").read_text())
    counts, accounting = manifest["counts"], manifest["interactions"]
    assert accounting["read"] == 100000 and accounting["balanced"]
    assert (counts["items_with_image"], counts["items_without_image"]) == (1663, 19)
    assert not [k for k in counts if k.startswith("dead_letter.image")], "every poster decodes"
