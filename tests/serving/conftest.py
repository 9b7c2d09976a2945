"""Exports of the tiny run that several serving test modules load."""

import pytest

from braidrec.config import ExportConfig
from braidrec.serving.export import build_module, load_servable, save_module


@pytest.fixture(scope="session")
def servable(tiny_run):
    """The tiny run's export (brute-force index, float32 explain parts), loaded."""
    return load_servable(tiny_run["export"])


@pytest.fixture(scope="session")
def partitioned_export(tiny_run, tmp_path_factory):
    """The tiny model exported with the partitioned index (8 cells, 2 probed)."""
    config = ExportConfig(index="partitioned", index_cells=8, index_nprobe=2)
    return save_module(build_module(tiny_run["model"], 10, config=config), tmp_path_factory.mktemp("ivf"), "ivf")
