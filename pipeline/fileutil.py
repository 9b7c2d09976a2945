"""File helpers: atomic directory output (build beside the target, then rename) and hashing."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_dir_beside(target: Path) -> Path:
    """A new empty directory next to ``target`` (same filesystem, so rename is atomic)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    return work


def replace_dir(work: Path, target: Path) -> None:
    """Moves finished ``work`` to ``target``, replacing an older ``target`` if present.

    Readers see either the old complete directory or the new one, never a
    half-written mix; the old copy is removed only after the swap.
    """
    target = Path(target)
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, old)
    os.rename(work, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """A temp directory beside ``target`` to write into; it replaces ``target`` (:func:`replace_dir`)
    when the block ends without an error, and is removed either way, so a failure leaves the
    old ``target`` (or none) and nothing half-written.

    Yields:
        The temp directory.
    """
    work = temp_dir_beside(target)
    try:
        yield work
        replace_dir(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` through a temp file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.write_text(text)
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
