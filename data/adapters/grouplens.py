"""The GroupLens MovieLens 100K layout: ``u.data``, ``u.item``, ``u.user`` (+ posters, overviews).

Optional extras, used when present: ``posters/<item id>.jpg`` (any of .jpg,
.jpeg, .png, .gif, .webp) and ``overviews.csv`` with columns ``movie_id,
overview``. ``u.item`` is latin-1; its 19 genre flags are named by ``u.genre``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from braidrec.data.adapters.common import AdapterError, find_image, read_delimited, year_from_title
from braidrec.data.adapters.output import AdaptedDataset

REQUIRED = ("u.data", "u.item")
# The fixed genre order of ml-100k, used when u.genre is absent.
DEFAULT_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                  "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                  "War", "Western")
ITEM_FIXED = ("item_id", "title", "release_date", "video_release_date", "imdb_url")


def matches(src: Path) -> bool:
    """True when ``src`` holds the GroupLens 100K files."""
    return all((src / name).is_file() for name in REQUIRED)


def _genre_names(src: Path) -> list[str]:
    path = src / "u.genre"
    if not path.is_file():
        return list(DEFAULT_GENRES)
    frame = read_delimited(path, "|", ["name", "index"])
    return [name for name, _ in sorted(zip(frame["name"], frame["index"].astype(int)), key=lambda p: p[1])]


def _year(release: str | None, title: str) -> float:
    match = re.search(r"(\d{4})\s*$", release or "")
    return float(match.group(1)) if match else year_from_title(title)


def _items(src: Path) -> pd.DataFrame:
    genres = _genre_names(src)
    raw = read_delimited(src / "u.item", "|", [*ITEM_FIXED, *genres])
    flags = raw[genres].fillna("0").to_numpy() == "1"
    overviews: dict[str, str] = {}
    if (src / "overviews.csv").is_file():
        table = pd.read_csv(src / "overviews.csv", dtype=str, keep_default_na=False)
        if not {"movie_id", "overview"} <= set(table.columns):
            raise AdapterError(src / "overviews.csv", f"needs columns movie_id, overview; has {', '.join(table.columns)}")
        overviews = {k.strip(): v.strip() for k, v in zip(table["movie_id"], table["overview"]) if v.strip()}
    return pd.DataFrame({
        "item_id": raw["item_id"].str.strip(),
        "title": raw["title"].fillna(""),
        "overview": [overviews.get(i.strip()) for i in raw["item_id"]],
        "genres": [[g for g, on in zip(genres, row) if on] for row in flags],
        "year": [_year(r, t) for r, t in zip(raw["release_date"], raw["title"].fillna(""))],
        "imdb_url": raw["imdb_url"],
    })


def _zip_region(code: str | None) -> str:
    # The first digit of a US zip code is its region; others (e.g. Canadian codes) share one token.
    code = (code or "").strip()
    return code[0] if code[:1].isdigit() else "other"


def read(src: Path) -> AdaptedDataset:
    """Reads the GroupLens 100K layout at ``src``.

    Args:
        src: directory with ``u.data`` and ``u.item`` (``u.user``, ``u.genre``,
            ``posters/`` and ``overviews.csv`` optional).

    Returns:
        The adapted tables; posters become ``image_path`` once copied.

    Raises:
        AdapterError: naming the file and line when a file cannot be parsed.
    """
    items = _items(src)
    data = read_delimited(src / "u.data", "\t", ["user_id", "item_id", "rating", "timestamp"])
    interactions = pd.DataFrame({
        "user_id": data["user_id"].str.strip(),
        "item_id": data["item_id"].str.strip(),
        "timestamp": pd.to_numeric(data["timestamp"], errors="coerce").astype("Int64"),
        "rating": pd.to_numeric(data["rating"], errors="coerce"),
    })
    users = None
    user_roles: dict = {}
    if (src / "u.user").is_file():
        raw = read_delimited(src / "u.user", "|", ["user_id", "age", "gender", "occupation", "zip"])
        users = pd.DataFrame({
            "user_id": raw["user_id"].str.strip(),
            "age": pd.to_numeric(raw["age"], errors="coerce").astype(np.float64),
            "gender": raw["gender"],
            "occupation": raw["occupation"],
            "zip_region": [_zip_region(z) for z in raw["zip"]],
        })
        user_roles = {"categorical": ["gender", "occupation", "zip_region"], "numeric": ["age"]}
    images = {item: path for item in items["item_id"] if (path := find_image(src / "posters", item)) is not None}
    return AdaptedDataset(
        name=src.name or "ml-100k",
        items=items,
        interactions=interactions,
        users=users,
        item_roles={"title": "title", "text": ["title", "overview"], "categorical": ["genres"], "numeric": ["year"]},
        user_roles=user_roles,
        images=images,
        layout="grouplens-100k",
    )
