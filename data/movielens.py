"""``braid data movielens --src DIR --out DIR``: detect a public layout and convert it.

Three layouts are recognised, in this order:

- GroupLens 100K (``u.data``, ``u.item``, ``u.user``; optional ``posters/`` and ``overviews.csv``);
- MovieLens "latest" CSVs (``ratings.csv``, ``movies.csv``; optional ``tags.csv``,
  ``links.csv``, ``posters/``), shared by ml-latest-small, ml-25m and ml-32m;
- RecBole atomic files (``NAME.inter``; optional ``NAME.item``, ``NAME.user``).
"""

from __future__ import annotations

import os
from pathlib import Path

from braidrec.data.adapters import grouplens, mllatest, recbole
from braidrec.data.adapters.common import AdapterError
from braidrec.data.adapters.output import write_adapted

ADAPTERS = (("grouplens-100k", grouplens), ("movielens-latest", mllatest), ("recbole", recbole))


def detect_layout(src: str | os.PathLike) -> str:
    """The name of the layout ``src`` is in.

    Raises:
        AdapterError: when ``src`` is not a directory or matches no known layout.
    """
    src = Path(src)
    if not src.is_dir():
        raise AdapterError(src, "not a directory (pass the folder holding the dataset files)")
    for name, module in ADAPTERS:
        if module.matches(src):
            return name
    raise AdapterError(src, "no known layout: expected u.data + u.item (GroupLens 100K), ratings.csv + movies.csv "
                            "(MovieLens latest/25M/32M) or NAME.inter (RecBole atomic files)")


def convert(src: str | os.PathLike, out: str | os.PathLike) -> dict:
    """Converts the dataset at ``src`` into the raw layout at ``out``.

    Args:
        src: a directory in one of the recognised layouts.
        out: the dataset directory to write (replaced atomically); keep it outside the
            repository when the source's licence forbids redistribution.

    Returns:
        The summary of :func:`braidrec.data.adapters.output.write_adapted`.

    Raises:
        AdapterError: naming the source file when the layout is unknown or a file is malformed.
    """
    src, out = Path(src), Path(out)
    if out.resolve() == src.resolve() or src.resolve().is_relative_to(out.resolve()):
        raise AdapterError(out, "the output directory must not be the source or contain it (it is replaced)")
    module = dict(ADAPTERS)[detect_layout(src)]
    return write_adapted(module.read(src), out)
