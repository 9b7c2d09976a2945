"""The problems ``braid data validate`` reports, how many there are, and the error that lists them.

A problem names its file, row and column and says how to fix it; a collector keeps
the first few of each kind and counts the rest, so a table with a million bad rows
still gives a readable report.
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset.

    Attributes:
        table: the file the problem is in, as written in dataset.yaml (or ``dataset.yaml``).
        row: 1-based data row (header excluded); None for file- or column-level problems.
        column: the column concerned, or None.
        message: what is wrong and how to fix it.
        omitted: for a summary line only, how many further problems of one kind were
            left out of the list (they still count).
        kind: what sort of problem (``duplicate-id``, ``image-missing``...; see :data:`braidrec.data.bad_records.RECORD_KINDS`).
    """

    table: str
    row: int | None
    column: str | None
    message: str
    omitted: int = 0
    kind: str = ""

    def __str__(self) -> str:
        where = self.table
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f" column {self.column}"
        # One line per problem, even when a parser's message spans several.
        return f"{where}: {' '.join(self.message.split())}"


class InvalidDatasetError(ValueError):
    """A dataset failed validation; ``.problems`` holds what :func:`validate_dataset` found."""

    def __init__(self, dataset_dir: str | os.PathLike, problems: list[Problem]):
        self.dataset_dir = str(dataset_dir)
        self.problems = list(problems)
        super().__init__(f"{self.dataset_dir}: dataset is invalid (run 'braid data validate' after fixing)\n"
                         + format_report(self.problems))

    def __reduce__(self):
        return (type(self), (self.dataset_dir, self.problems))


class ProblemCollector:
    """Keeps the first ``cap`` problems of each kind and counts the rest."""

    def __init__(self, cap: int):
        self.cap = cap
        self.kept: dict[tuple[str, str | None, str], list[Problem]] = {}
        self.extra: dict[tuple[str, str | None, str], int] = {}

    def add(self, kind: str, table: str, row: int | None, column: str | None, message: str) -> None:
        key = (table, column, kind)
        kept = self.kept.setdefault(key, [])
        if len(kept) < self.cap:
            kept.append(Problem(table, row, column, message, kind=kind))
        else:
            self.extra[key] = self.extra.get(key, 0) + 1

    def problems(self) -> list[Problem]:
        result = []
        for key, kept in self.kept.items():
            result += kept
            if self.extra.get(key):
                table, column, kind = key
                count = self.extra[key]
                result.append(Problem(table, None, column, f"... and {count} more '{kind}' problems", omitted=count,
                                      kind=kind))
        return result


def count_problems(problems: list[Problem]) -> int:
    """How many problems the list stands for, including those summarised as '... and N more'."""
    return sum(p.omitted if p.omitted else 1 for p in problems)


def format_report(problems: list[Problem]) -> str:
    """One line per problem, then a count line (``no problems found`` when empty)."""
    total = count_problems(problems)
    lines = [str(p) for p in problems]
    lines.append(f"{total} problem{'s' if total != 1 else ''} found" if total else "no problems found")
    return "\n".join(lines)
