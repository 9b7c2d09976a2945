"""Type checks of role columns for ``braid data validate``: text must be text, lists flat.

Parquet and JSON lines can hold any value in a cell (a dict, a nested list),
which the extractor would otherwise turn into a string like ``"{'en': ...}"``
silently. Numeric, id, timestamp and image cells are checked elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from braidrec.data.cells import SCALARS, is_missing, is_text
from braidrec.data.layout import TableSpec


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def _text_problem(value: Any) -> str | None:
    if is_missing(value) or is_text(value):
        return None
    return f"holds a {_describe(value)}; text cells must be strings"


def _list_problem(value: Any) -> str | None:
    if isinstance(value, (list, tuple, np.ndarray)):
        nested = [v for v in value if not (is_missing(v) or isinstance(v, SCALARS))]
        return f"list holds a {_describe(nested[0])}; list cells must hold strings or numbers" if nested else None
    if isinstance(value, Mapping) or isinstance(value, bool):
        return f"holds a {_describe(value)}; use a list, a '|'-separated string or one value"
    return None


def check_types(table: TableSpec, frame: pd.DataFrame, add: Callable[..., None], offset: int = 0) -> None:
    """Reports cells of text/title and categorical columns whose value has the wrong type.

    Args:
        table: the table's spec (its ``title``, ``text`` and ``categorical`` roles are checked).
        frame: the table as read.
        add: the collector's ``add(kind, table, row, column, message)``.
        offset: rows before ``frame``'s first (a chunk of a longer table).
    """
    checks = [(c, "text", _text_problem) for c in dict.fromkeys(((table.title,) if table.title else ()) + table.text)]
    checks += [(c, "categorical", _list_problem) for c in table.categorical]
    for column, role, check in checks:
        if column not in frame.columns or column in (table.id,):
            continue
        for row, value in enumerate(frame[column], start=offset + 1):
            problem = check(value)
            if problem:
                add("wrong-type", table.path, row, column,
                    f"'{table.name}.{role}' column {problem} (fix the cell or leave it empty)")
