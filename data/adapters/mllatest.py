"""The MovieLens "latest" CSV layout shared by ml-latest-small, ml-25m and ml-32m.

``ratings.csv`` (userId, movieId, rating, timestamp) and ``movies.csv`` (movieId,
title, genres separated by '|') are required; ``tags.csv`` (userId, movieId,
tag, timestamp) becomes item text, ``links.csv`` (movieId, imdbId, tmdbId) is
kept as plain columns, ``posters/<movieId>.jpg`` become images. The ratings
file is read with pyarrow's multi-threaded CSV reader: ml-32m has 32M rows.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import MappingProxyType

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from braidrec.data.adapters.common import AdapterError, csv_header, find_image, year_from_title
from braidrec.data.adapters.output import AdaptedDataset

REQUIRED = ("ratings.csv", "movies.csv")
COLUMNS = MappingProxyType({
    "ratings.csv": ("userId", "movieId", "rating", "timestamp"),
    "movies.csv": ("movieId", "title", "genres"),
    "tags.csv": ("userId", "movieId", "tag"),
    "links.csv": ("movieId", "imdbId", "tmdbId"),
})
NO_GENRES = "(no genres listed)"
MAX_TAGS_PER_ITEM = 30


def matches(src: Path) -> bool:
    """True when ``src`` holds ratings.csv and movies.csv."""
    return all((src / name).is_file() for name in REQUIRED)


def _read(src: Path, name: str, types: dict[str, pa.DataType]) -> pd.DataFrame:
    path = src / name
    header = csv_header(path)
    missing = [c for c in COLUMNS[name] if c not in header]
    if missing:
        raise AdapterError(path, f"missing column(s) {', '.join(missing)} in the header ({', '.join(header)}); "
                                 "is this a MovieLens latest/25M/32M file?")
    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types=types, include_columns=list(COLUMNS[name]), strings_can_be_null=True))
    except pa.ArrowInvalid as err:
        raise AdapterError(path, f"cannot parse: {err}") from err
    return table.to_pandas()


def _tags(src: Path) -> dict[str, str]:
    if not (src / "tags.csv").is_file():
        return {}
    frame = _read(src, "tags.csv", {"userId": pa.string(), "movieId": pa.string(), "tag": pa.string()})
    counts: dict[str, Counter] = {}
    for movie, tag in zip(frame["movieId"], frame["tag"]):
        if tag and tag.strip():
            counts.setdefault(movie, Counter())[tag.strip().lower()] += 1
    # The most used tags first (ties alphabetical) so a capped list keeps the consensus ones.
    return {movie: "; ".join(t for t, _ in sorted(c.items(), key=lambda p: (-p[1], p[0]))[:MAX_TAGS_PER_ITEM])
            for movie, c in counts.items()}


def read(src: Path) -> AdaptedDataset:
    """Reads the MovieLens latest layout at ``src``.

    Args:
        src: directory with ``ratings.csv`` and ``movies.csv`` (``tags.csv``,
            ``links.csv`` and ``posters/`` optional).

    Returns:
        The adapted tables: text = title + tags, categorical = genres, numeric = year.

    Raises:
        AdapterError: naming the file when a required column is missing or a row cannot be parsed.
    """
    movies = _read(src, "movies.csv", {"movieId": pa.string(), "title": pa.string(), "genres": pa.string()})
    tags = _tags(src)
    items = pd.DataFrame({
        "item_id": movies["movieId"].str.strip(),
        "title": movies["title"].fillna(""),
        "tags": [tags.get(m) for m in movies["movieId"]],
        "genres": [[g for g in (s or "").split("|") if g and g != NO_GENRES] for s in movies["genres"]],
        "year": [year_from_title(t) for t in movies["title"].fillna("")],
    })
    if (src / "links.csv").is_file():
        links = _read(src, "links.csv", {c: pa.string() for c in COLUMNS["links.csv"]}).set_index("movieId")
        items["imdb_id"] = items["item_id"].map(links["imdbId"])
        items["tmdb_id"] = items["item_id"].map(links["tmdbId"])
    ratings = _read(src, "ratings.csv", {"userId": pa.string(), "movieId": pa.string(), "rating": pa.float64(),
                                          "timestamp": pa.int64()})
    interactions = pd.DataFrame({
        "user_id": ratings["userId"], "item_id": ratings["movieId"],
        "timestamp": ratings["timestamp"].astype("Int64"), "rating": ratings["rating"],
    })
    images = {item: path for item in items["item_id"] if (path := find_image(src / "posters", item)) is not None}
    return AdaptedDataset(
        name=src.name or "movielens",
        items=items,
        interactions=interactions,
        users=None,
        item_roles={"title": "title", "text": ["title", "tags"], "categorical": ["genres"], "numeric": ["year"]},
        user_roles={},
        images=images,
        layout="movielens-latest",
    )
