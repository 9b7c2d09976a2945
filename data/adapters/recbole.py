"""RecBole atomic files: ``NAME.inter`` (+ ``NAME.item``, ``NAME.user``), tab-separated with typed headers.

Each header cell is ``field:type`` with type ``token``, ``token_seq`` (space-
separated tokens), ``float`` or ``float_seq``. Roles are inferred:

- interactions: ``user_id``, ``item_id`` and ``timestamp`` fields (else the first token field
  naming a user / an item, the first float field naming a time), ``rating`` as weight;
- items and users: ``token_seq`` fields whose name says text (title, name, desc, ...) become
  text; other ``token``/``token_seq`` fields categorical; ``float`` fields and
  ``token`` fields named like a year numeric; ``float_seq`` fields are kept but unused.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from braidrec.data.adapters.common import AdapterError, find_image
from braidrec.data.adapters.output import AdaptedDataset

TYPES = ("token", "token_seq", "float", "float_seq")
TEXT_NAME = re.compile(r"title|name|desc|text|review|summary|overview|abstract|plot", re.I)
YEAR_NAME = re.compile(r"year", re.I)


def _inter_files(src: Path) -> list[Path]:
    return sorted(src.glob("*.inter"))


def matches(src: Path) -> bool:
    """True when ``src`` holds at least one ``.inter`` file."""
    return bool(_inter_files(src))


def read_atomic(path: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Reads one atomic file.

    Returns:
        (frame with one string column per field, field name -> type).

    Raises:
        AdapterError: naming the file when a header cell is not ``field:type`` with a known type.
    """
    frame = pd.read_csv(path, sep="\t", dtype=str, quoting=csv.QUOTE_NONE, keep_default_na=False, encoding="utf-8")
    types: dict[str, str] = {}
    for cell in frame.columns:
        name, _, kind = str(cell).rpartition(":")
        if not name or kind not in TYPES:
            raise AdapterError(path, f"header cell {cell!r} is not 'field:type' with type one of {', '.join(TYPES)}")
        types[name] = kind
    frame.columns = list(types)
    return frame, types


def _pick(types: dict[str, str], preferred: str, pattern: str, kinds: tuple[str, ...], path: Path) -> str:
    if preferred in types:
        return preferred
    for name, kind in types.items():
        if kind in kinds and re.search(pattern, name, re.I):
            return name
    raise AdapterError(path, f"no '{preferred}' field (nor a {'/'.join(kinds)} field matching '{pattern}'); "
                             f"fields: {', '.join(f'{n}:{k}' for n, k in types.items())}")


def _entity(frame: pd.DataFrame, types: dict[str, str], id_field: str, new_id: str) -> tuple[pd.DataFrame, dict]:
    """An item or user table with typed columns and its roles."""
    out = pd.DataFrame({new_id: frame[id_field].str.strip()})
    text, categorical, numeric = [], [], []
    for name, kind in types.items():
        if name == id_field:
            continue
        values = frame[name]
        if kind == "float" or (kind == "token" and YEAR_NAME.search(name)):
            out[name] = pd.to_numeric(values.replace("", np.nan), errors="coerce")
            numeric.append(name)
        elif kind == "token_seq" and TEXT_NAME.search(name):
            out[name] = values
            text.append(name)
        elif kind in ("token", "token_seq"):
            out[name] = [v.split() if kind == "token_seq" else ([v] if v.strip() else []) for v in values]
            categorical.append(name)
        else:
            out[name] = values
    roles = {"text": text, "categorical": categorical, "numeric": numeric}
    if text:
        roles["title"] = text[0]
    return out, {k: v for k, v in roles.items() if v}


def read(src: Path) -> AdaptedDataset:
    """Reads RecBole atomic files at ``src``.

    Args:
        src: directory with exactly one ``NAME.inter`` (``NAME.item``, ``NAME.user`` and
            ``posters/<item id>.jpg`` optional).

    Returns:
        The adapted tables.

    Raises:
        AdapterError: naming the file when several .inter files exist, a header is not
            typed, or a required field (user, item, timestamp) cannot be found.
    """
    inters = _inter_files(src)
    if len(inters) != 1:
        raise AdapterError(src, f"expected one .inter file, found {', '.join(p.name for p in inters)}; "
                                "point --src at a directory holding one dataset")
    stem = inters[0].with_suffix("")
    frame, types = read_atomic(inters[0])
    user = _pick(types, "user_id", "user", ("token",), inters[0])
    item = _pick(types, "item_id", "item", ("token",), inters[0])
    stamp = _pick(types, "timestamp", "time", ("float", "token"), inters[0])
    interactions = pd.DataFrame({
        "user_id": frame[user].str.strip(),
        "item_id": frame[item].str.strip(),
        # Floats like 881250949.0 are whole seconds; fractions are floored by the extractor.
        "timestamp": pd.to_numeric(frame[stamp].replace("", np.nan), errors="coerce"),
    })
    if "rating" in types:
        interactions["rating"] = pd.to_numeric(frame["rating"].replace("", np.nan), errors="coerce")
    item_path = stem.with_suffix(".item")
    if item_path.is_file():
        raw, item_types = read_atomic(item_path)
        items, item_roles = _entity(raw, item_types, _pick(item_types, item, "item", ("token",), item_path), "item_id")
    else:
        # Without an .item file the catalogue is the set of ids that were interacted with.
        items, item_roles = pd.DataFrame({"item_id": sorted(set(interactions["item_id"]))}), {}
    users, user_roles = None, {}
    user_path = stem.with_suffix(".user")
    if user_path.is_file():
        raw, user_types = read_atomic(user_path)
        users, user_roles = _entity(raw, user_types, _pick(user_types, user, "user", ("token",), user_path), "user_id")
        user_roles.pop("title", None)
        user_roles.pop("text", None)
    images = {i: path for i in items["item_id"] if (path := find_image(src / "posters", i)) is not None}
    return AdaptedDataset(
        name=stem.name, items=items, interactions=interactions, users=users, item_roles=item_roles,
        user_roles=user_roles, images=images, layout="recbole",
    )
