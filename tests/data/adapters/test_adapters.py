"""Every adapter on its tiny source: detection, the written tables, and a valid, extractable dataset."""

from __future__ import annotations

import pandas as pd
import pytest

from braidrec.data import movielens
from braidrec.data.adapters.common import AdapterError
from braidrec.data.layout import DatasetSpec
from braidrec.data.tables import read_table
from braidrec.data.validate import validate_dataset


def test_layout_is_detected(source):
    name, src = source
    assert movielens.detect_layout(src) == name


def test_converted_dataset_is_valid(source, tmp_path):
    _, src = source
    summary = movielens.convert(src, tmp_path / "out")
    assert validate_dataset(tmp_path / "out") == []
    spec = DatasetSpec.load(tmp_path / "out")
    interactions = read_table(spec, spec.interactions)
    assert len(interactions) == summary["interactions"]
    assert interactions["timestamp"].notna().all()


def test_grouplens_tables(tmp_path, writers):
    summary = movielens.convert(writers["grouplens-100k"](tmp_path / "src"), tmp_path / "out")
    assert (summary["images_copied"], summary["items_without_image"], summary["users"]) == (2, 1, 2)
    items = pd.read_parquet(tmp_path / "out" / "items.parquet").set_index("item_id")
    assert items.loc["1", "overview"] == "Toys come alive,\nand argue."
    assert list(items.loc["1", "genres"]) == ["Comedy", "Romance"]
    assert items.loc["3", "title"] == "Amélie (2001)"
    assert items.loc["3", "year"] == 2001.0, "year falls back to the title when the release date is empty"
    assert items.loc["2", "image_path"] == "posters/2.jpg" and pd.isna(items.loc["3", "image_path"])
    assert (tmp_path / "out" / "posters" / "2.jpg").read_bytes() == (tmp_path / "src" / "posters" / "2.jpg").read_bytes()
    users = pd.read_parquet(tmp_path / "out" / "users.parquet").set_index("user_id")
    assert users.loc["2", "zip_region"] == "other" and users.loc["1", "zip_region"] == "8"


def test_mllatest_tags_become_text(tmp_path, writers):
    movielens.convert(writers["movielens-latest"](tmp_path / "src"), tmp_path / "out")
    items = pd.read_parquet(tmp_path / "out" / "items.parquet").set_index("item_id")
    assert items.loc["1", "tags"] == "pixar; fun", "tags are case-folded and most used first"
    assert list(items.loc["3", "genres"]) == []
    assert items.loc["2", "title"] == "Heat, The (1995)" and items.loc["2", "year"] == 1995.0
    assert items.loc["1", "imdb_id"] == "0114709"
    spec = DatasetSpec.load(tmp_path / "out")
    assert spec.items.text == ("title", "tags") and spec.users is None


def test_recbole_roles_follow_field_types(tmp_path, writers):
    movielens.convert(writers["recbole"](tmp_path / "src"), tmp_path / "out")
    spec = DatasetSpec.load(tmp_path / "out")
    assert spec.items.text == ("movie_title",)
    assert spec.items.categorical == ("class",) and spec.items.numeric == ("release_year",)
    items = pd.read_parquet(tmp_path / "out" / "items.parquet").set_index("item_id")
    assert list(items.loc["302", "class"]) == ["Crime", "Film-Noir", "Mystery", "Thriller"]
    assert spec.users is not None and "age" in spec.users.categorical + spec.users.numeric


@pytest.mark.parametrize("layout, file, content, match", [
    ("grouplens-100k", "u.data", "1\t1\t5\n", r"u.data: line 1 has 3 fields"),
    ("movielens-latest", "movies.csv", "id,name\n1,x\n", r"movies.csv: missing column\(s\) movieId, title, genres"),
    ("recbole", "tiny.inter", "user_id\titem_id\n1\t2\n", r"tiny.inter: header cell 'user_id'"),
    ("recbole", "tiny.inter", "uid:token\tiid:token\n1\t2\n", r"no 'user_id' field \(nor a token field matching 'user'\)"),
])
def test_malformed_sources_name_the_file(tmp_path, writers, layout, file, content, match):
    root = writers[layout](tmp_path / "src")
    (root / file).write_text(content)
    with pytest.raises(AdapterError, match=match):
        movielens.convert(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_layout_and_unsafe_output_are_refused(tmp_path, writers):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AdapterError, match="no known layout"):
        movielens.detect_layout(tmp_path / "empty")
    src = writers["recbole"](tmp_path / "src")
    with pytest.raises(AdapterError, match="must not be the source"):
        movielens.convert(src, src)


def test_image_lookup_ignores_ids_that_are_not_file_names(tmp_path):
    from braidrec.data.adapters.common import find_image

    (tmp_path / "posters").mkdir()
    (tmp_path / "secret.jpg").write_bytes(b"x")
    assert find_image(tmp_path / "posters", "../secret") is None
