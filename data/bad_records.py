"""What extraction does with a dataset's bad records: refuse the dataset, or let the job take them on.

``braid data validate`` lists every problem. By default (``extract.bad_records refuse``) extraction
refuses a dataset with any, so nothing reaches the features that the user has not seen. A scheduled
job over data that is never quite clean (a picture missing from the store, a row with an unknown
item) can instead pass ``dead_letter``: problems of single records go where the extraction job
puts such records, and the manifest lists them; problems of the whole dataset still refuse it.
"""

from __future__ import annotations

import os

from braidrec.data.layout import DatasetSpec
from braidrec.data.validate import InvalidDatasetError, Problem, validate_dataset

# Problems of one record (a row or a cell), which the extraction job can take on with
# ``extract.bad_records dead_letter``: it dead-letters the record (an empty, repeated or unknown
# id, a bad timestamp), or drops the one value (a picture that is missing or empty, a number or
# text cell it cannot read) and keeps the rest of the record; an interaction whose user is not in the
# users table is kept, and that user has no profile. Every other kind (a missing column,
# an unreadable or empty table, a bad dataset.yaml) concerns the whole dataset and always refuses it.
RECORD_KINDS = frozenset({"empty-id", "duplicate-id", "unknown-id", "timestamp", "not-numeric", "image-path",
                          "image-missing", "image-empty", "wrong-type"})
BAD_RECORDS = ("refuse", "dead_letter")


def check_dataset(dataset_dir: str | os.PathLike, bad_records: str = "refuse") -> tuple[DatasetSpec, list[Problem]]:
    """Validates a dataset for extraction under ``extract.bad_records``.

    Args:
        dataset_dir: directory holding ``dataset.yaml``.
        bad_records: ``refuse``: any problem refuses the dataset; ``dead_letter``: problems of one record
            (:data:`RECORD_KINDS`) are returned for the extraction job to take on, and only the others refuse it.

    Returns:
        The parsed :class:`DatasetSpec` and the record problems let through (empty with ``refuse``).

    Raises:
        ValueError: ``bad_records`` is not one of :data:`BAD_RECORDS`.
        InvalidDatasetError: with ``.problems``: every problem (``refuse``), or those of the whole dataset.
    """
    check_bad_records(bad_records)
    problems = validate_dataset(dataset_dir)
    refused = problems if bad_records == "refuse" else [p for p in problems if p.kind not in RECORD_KINDS]
    if refused:
        raise InvalidDatasetError(dataset_dir, refused)
    return DatasetSpec.load(dataset_dir), problems


def check_bad_records(bad_records: str) -> None:
    """Raises ValueError naming ``extract.bad_records`` unless it is one of :data:`BAD_RECORDS`."""
    if bad_records not in BAD_RECORDS:
        raise ValueError(f"--extract.bad_records {bad_records!r}: use 'refuse' (any bad record refuses the dataset) "
                         "or 'dead_letter' (bad records go to the dead letter, counted in the manifest)")
