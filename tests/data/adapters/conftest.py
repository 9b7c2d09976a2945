"""Tiny sources in each public layout, written by the tests themselves (no real data needed)."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest
from PIL import Image


def _poster(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 9), (20, 40, 200)).save(path)


def write_grouplens(root: Path) -> Path:
    """Three movies (one without poster, one without overview), two users, five ratings."""
    root.mkdir(parents=True, exist_ok=True)
    flags = ["0"] * 19
    action, comedy = list(flags), list(flags)
    action[1] = "1"
    comedy[5] = comedy[14] = "1"
    (root / "u.item").write_bytes("\n".join([
        "|".join(["1", "Toy Story (1995)", "01-Jan-1995", "", "http://x/1", *comedy]),
        "|".join(["2", "GoldenEye (1995)", "01-Jan-1995", "", "http://x/2", *action]),
        "|".join(["3", "Amélie (2001)", "", "", "http://x/3", *flags]),
    ]).encode("latin-1") + b"\n")
    (root / "u.data").write_text("1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t881250951\n"
                                 "2\t3\t2\t881250952\n2\t2\t1\t881250953\n")
    (root / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|T8H1N\n")
    (root / "overviews.csv").write_text('movie_id,overview\n1,"Toys come alive,\nand argue."\n2,Bond.\n')
    _poster(root / "posters" / "1.jpg")
    _poster(root / "posters" / "2.jpg")
    return root


def write_mllatest(root: Path) -> Path:
    """ml-latest-small shape: three movies, tags on two, links, one poster."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "movies.csv").write_text('movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n'
                                     '2,"Heat, The (1995)",Action|Crime\n3,Untitled,(no genres listed)\n')
    (root / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,4.5,964981247\n"
                                      "2,1,3.0,964982224\n2,3,5.0,964983815\n")
    (root / "tags.csv").write_text("userId,movieId,tag,timestamp\n1,1,pixar,1\n2,1,Pixar,2\n2,1,fun,3\n1,2,heist,4\n")
    (root / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n2,0113277,949\n3,0000001,\n")
    _poster(root / "posters" / "2.jpg")
    return root


def write_recbole(root: Path) -> Path:
    """RecBole atomic files named like the ml-100k example in the RecBole wheel."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "tiny.inter").write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                     "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t1\t878887116\n")
    (root / "tiny.item").write_text("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
                                    "242\tKolya\t1996\tComedy\n302\tL.A. Confidential\t1997\tCrime Film-Noir Mystery Thriller\n")
    (root / "tiny.user").write_text("user_id:token\tage:token\tgender:token\toccupation:token\n"
                                    "196\t49\tM\twriter\n186\t39\tF\texecutive\n")
    return root


WRITERS = MappingProxyType({"grouplens-100k": write_grouplens, "movielens-latest": write_mllatest, "recbole": write_recbole})


@pytest.fixture
def writers() -> dict:
    """Layout name -> function writing a tiny source of that layout into a directory."""
    return dict(WRITERS)


@pytest.fixture(params=sorted(WRITERS))
def source(request, tmp_path) -> tuple[str, Path]:
    """(layout name, source directory) for each layout in turn."""
    return request.param, WRITERS[request.param](tmp_path / request.param)
