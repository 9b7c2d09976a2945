"""Cell-level parsing shared by every table: missing values, ids, list cells, timestamps.

Kept apart from :mod:`braidrec.data.layout` (which re-exports these names) so
that the rules for one cell can be read, and reused by the extractor, on their own.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

MAX_TIMESTAMP = int(dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc).timestamp())
# What a text cell, or an item of a list cell, may hold (``braid data validate`` reports anything else).
SCALARS = (str, int, float, np.integer, np.floating)


def is_missing(value: Any) -> bool:
    """True for None, NaN/NA/NaT and blank strings; lists are never missing."""
    if value is None:
        return True
    if isinstance(value, (list, tuple, np.ndarray, dict)):
        return False
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def normalize_id(value: Any) -> str | None:
    """An id cell as a string (``7``, ``7.0`` and ``"7"`` agree); None when missing."""
    if is_missing(value):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return str(value).strip()


def normalize_ids(values: pd.Series) -> pd.Series:
    """:func:`normalize_id` of every cell, as an object Series; whole columns of text or integers at C speed.

    A long interactions table's two id columns are most of what reading it costs in Python.
    """
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "string":
        stripped = values.astype(object).str.strip()
        return stripped.where(stripped.notna() & (stripped != ""), None).astype(object)
    if kind == "integer" and not values.isna().any():
        return values.astype("int64").astype(str).astype(object)
    return pd.Series([normalize_id(v) for v in values], index=values.index, dtype=object)


def _is_scalar(value: Any) -> bool:
    # NumPy bools too: the items of a Parquet bool list keep their values.
    return not is_missing(value) and isinstance(value, SCALARS + (np.bool_,))


def is_text(value: Any) -> bool:
    """True for a present string or number, what a text cell may hold.

    A list, a mapping or a bool there is a wrong-type cell (``braid data validate`` reports it);
    the extractor reads it as missing rather than as its Python repr.
    """
    return _is_scalar(value) and not isinstance(value, (bool, np.bool_))


def split_list(value: Any) -> list[str]:
    """A list-valued (categorical) cell as stripped strings.

    Args:
        value: a list/tuple/array, a ``'|'``-separated string, another scalar, or a
            missing value.

    Returns:
        The non-empty items; ``[]`` for None, NaN or ``''``, and for a mapping; items of a list that
        are not scalars (a nested list or mapping) are left out. Validation reports both.
    """
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [str(v).strip() for v in value if _is_scalar(v)]
    elif is_missing(value) or isinstance(value, dict):
        return []
    elif isinstance(value, str):
        items = [part.strip() for part in value.split("|")]
    else:
        items = [str(normalize_id(value))]
    return [item for item in items if item]


def parse_timestamp(value: Any) -> int:
    """A timestamp cell as integer unix seconds (UTC).

    Args:
        value: int or float unix seconds (floats are floored), a numeric string, an
            ISO-8601 string (naive means UTC), a datetime or numpy datetime64.

    Returns:
        Seconds since 1970-01-01 UTC.

    Raises:
        ValueError: for missing or unparseable values, and for times before 1970 or
            from year 2200 on (often milliseconds stored as seconds).
    """
    if isinstance(value, np.generic) and not isinstance(value, np.datetime64):
        value = value.item()  # plain Python scalars also give readable messages: 5, not np.int64(5)
    if isinstance(value, bool) or is_missing(value):
        raise ValueError(f"timestamp {value!r} is empty or not a time (use unix seconds or ISO-8601)")
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value).to_pydatetime()
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            try:
                value = dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(
                    f"cannot parse timestamp {text!r}: use unix seconds or ISO-8601 like '2020-01-31T12:00:00Z'"
                ) from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        seconds = math.floor(value.timestamp())
    elif isinstance(value, (int, np.integer)):
        seconds = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"timestamp {value!r} is not a finite number")
        seconds = math.floor(value)
    else:
        raise ValueError(f"cannot parse timestamp {value!r} of type {type(value).__name__}")
    if seconds < 0:
        raise ValueError(f"timestamp {value!r} is before 1970-01-01 (use unix seconds or ISO-8601)")
    if seconds >= MAX_TIMESTAMP:
        raise ValueError(f"timestamp {value!r} is after year 2200 (milliseconds? divide by 1000 to get seconds)")
    return seconds
