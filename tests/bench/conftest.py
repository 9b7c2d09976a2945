"""Fixtures of the benchmark tests."""

import pytest

from braidrec.models.evaluate import EvalData


@pytest.fixture(scope="module")
def data(tiny_run) -> EvalData:
    """The tiny synthetic run's evaluation data, as the peers read it."""
    return EvalData.load(tiny_run["features"])
