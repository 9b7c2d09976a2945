"""Id cells read the same whichever way a column is typed, one cell at a time or a whole column at once."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from braidrec.data.cells import normalize_id, normalize_ids

COLUMNS = {
    "text with blanks": pd.Series(["a", " b ", "", "  ", None, np.nan, "007"]),
    "integers": pd.Series([1, 2, 3]),
    "numpy integers": pd.Series([np.int32(4), np.int64(5)]),
    "floats": pd.Series([1.0, 2.5, np.nan]),
    "nullable integers": pd.Series(pd.array([1, None, 3], dtype="Int64")),
    "mixed": pd.Series(["x", 1, 2.0, None]),
    "pandas strings": pd.Series(pd.array(["a", None, " c"], dtype="string")),
    "arrow strings": pd.Series(pa.array(["a", None, " c"]).to_pandas(types_mapper=pd.ArrowDtype)),
    "bools": pd.Series([True, False]),
    "empty": pd.Series([], dtype=object),
}


@pytest.mark.parametrize("values", list(COLUMNS.values()), ids=list(COLUMNS))
def test_a_whole_column_normalises_as_its_cells_do(values):
    expected = [normalize_id(v) for v in values]
    got = normalize_ids(values)
    assert got.dtype == object and got.tolist() == expected
    assert [type(v) for v in got] == [type(v) for v in expected]


def test_cells_agree_across_types():
    assert normalize_id(7) == normalize_id(7.0) == normalize_id(" 7 ") == "7"
    assert normalize_id("  ") is None and normalize_id(float("nan")) is None
