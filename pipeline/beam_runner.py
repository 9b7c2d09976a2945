"""One way to open a Beam pipeline for every braidrec job, without Beam's run-time Prism download.

Beam's ``DirectRunner`` (the default when no ``--runner`` is given) first tries
the Prism runner, which downloads its binary from GitHub when the job starts.
Offline that attempt fails after a network lookup, leaves an empty
``/tmp/beam-temp*`` directory behind and falls back to the ``FnApiRunner``;
online it silently runs the job on a different engine than the one tested.
braidrec downloads nothing at run time, so a local run goes straight to the
``FnApiRunner``, exactly as ``DirectRunner`` would after that fallback (same
provision info, and ``--direct_running_mode`` / ``--direct_num_workers`` are
honoured). Any other ``--runner`` (``PrismRunner``, ``DataflowRunner``,
``FlinkRunner``, ...) is used as given.
"""

from __future__ import annotations

from collections.abc import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

# Runner names that mean "Beam's default local runner".
DIRECT_RUNNER_NAMES = (None, "DirectRunner", "SwitchingDirectRunner")


def open_pipeline(beam_args: Sequence[str] | None) -> beam.Pipeline:
    """A ``beam.Pipeline`` for standard Beam pipeline options.

    Args:
        beam_args: e.g. ``["--runner=DirectRunner", "--direct_running_mode=multi_processing",
            "--direct_num_workers=2"]``; empty or None runs locally in process.

    Returns:
        The pipeline, to be used as a context manager. ``DirectRunner`` (or no runner) runs on
        Beam's ``FnApiRunner`` with the options' provision info; other runners are Beam's own.
    """
    options = PipelineOptions(list(beam_args or []))
    if options.view_as(StandardOptions).runner not in DIRECT_RUNNER_NAMES:
        return beam.Pipeline(options=options)
    return beam.Pipeline(runner=local_runner(options), options=options)


def local_runner(options: PipelineOptions):
    """The ``FnApiRunner`` that Beam's ``DirectRunner`` builds for a batch pipeline (its provision
    info carries the options to subprocess workers), without the Prism attempt before it."""
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    provision = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
    return fn_runner.FnApiRunner(provision_info=provision)
