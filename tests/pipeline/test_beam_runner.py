"""Local Beam runs go straight to the FnApiRunner: no Prism download attempt, no temp-dir litter."""

from __future__ import annotations

import tempfile
import urllib.request

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner

from braidrec.pipeline.beam_runner import open_pipeline

LOCAL = [
    [],
    ["--runner=DirectRunner"],
    ["--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"],
]


@pytest.mark.parametrize("args", LOCAL, ids=["default", "direct", "direct-multi-processing"])
def test_local_runs_use_fn_api_runner_without_network_or_litter(args, tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError(f"a local Beam run tried the network: {args}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with open_pipeline(args) as p:
        total = p | beam.Create([1, 2, 3]) | beam.CombineGlobally(sum)
        _ = total | beam.Map(lambda value: (tmp_path / "total.txt").write_text(str(value)))
    assert isinstance(p.runner, FnApiRunner)
    assert (tmp_path / "total.txt").read_text() == "6"
    assert [path.name for path in tmp_path.iterdir()] == ["total.txt"]


def test_other_runners_are_left_to_beam():
    pipeline = open_pipeline(["--runner=BundleBasedDirectRunner"])
    assert type(pipeline.runner).__name__ == "BundleBasedDirectRunner"
