"""Input files of ``braid recommend``: user and candidate id lists, and exclusions.

``--exclude FILE`` takes either form:

- a Parquet/CSV file with ``user_id`` and ``item_id`` columns: each pair is
  never recommended to that user (e.g. items bought elsewhere);
- item ids alone (one per line, or a Parquet/CSV file with only ``item_id``):
  never recommended to anyone (e.g. out of stock).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd


@dataclasses.dataclass(frozen=True)
class Exclusions:
    """Items to leave out: ``everyone`` for all users, ``per_user`` by user id."""

    everyone: frozenset[str] = frozenset()
    per_user: dict[str, frozenset[str]] = dataclasses.field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when nothing is excluded."""
        return not self.everyone and not self.per_user


def _table(path: Path) -> pd.DataFrame | None:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str)
    return None


def read_id_file(path: str | Path, column: str) -> list[str]:
    """Ids from a text file (one per line) or a Parquet/CSV file with ``column``.

    Raises:
        ValueError: the file does not hold the column, naming it.
    """
    path = Path(path)
    frame = _table(path)
    if frame is not None:
        if column not in frame.columns:
            raise ValueError(f"{path}: no column '{column}' (columns: {', '.join(map(str, frame.columns))})")
        return frame[column].dropna().astype(str).tolist()
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def read_exclusions(path: str | Path) -> Exclusions:
    """Reads ``--exclude``: per-user pairs (user_id + item_id columns) or item ids for everyone.

    Raises:
        ValueError: a table without an ``item_id`` column, or with empty ids (naming the row).
    """
    path = Path(path)
    frame = _table(path)
    if frame is None or "user_id" not in frame.columns:
        return Exclusions(everyone=frozenset(read_id_file(path, "item_id")))
    if "item_id" not in frame.columns:
        raise ValueError(f"{path}: has user_id but no item_id column; per-user exclusions need both (columns: {', '.join(map(str, frame.columns))})")
    empty = frame[["user_id", "item_id"]].isna().any(axis=1)
    if empty.any():
        row = int(empty.idxmax())
        raise ValueError(f"{path}: row {row + 1} has an empty user_id or item_id; fill or drop it")
    per_user: dict[str, set[str]] = {}
    for user, item in zip(frame["user_id"].astype(str), frame["item_id"].astype(str)):
        per_user.setdefault(user, set()).add(item)
    return Exclusions(per_user={u: frozenset(items) for u, items in per_user.items()})
