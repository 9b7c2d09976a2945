"""The benchmark's datasets, prepared through the ``braid`` command exactly as a user would.

``synthetic``: ``braid data synth`` with its defaults, then ``braid extract``.
``ml100k``: ``braid data movielens --src ML100K`` (the MovieLens adapter), then ``braid extract``.
Features are reused when a finished extraction (its manifest) is already in the work directory.
"""

from __future__ import annotations

from pathlib import Path

from braidrec.features import contract
from braidrec.pipeline import cli

DATASETS = ("synthetic", "ml100k")
DEFAULT_ML100K = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "ml-100k"


def _braid(*argv) -> None:
    code = cli.main([str(a) for a in argv])
    if code != 0:
        raise RuntimeError(f"`braid {' '.join(map(str, argv))}` exited {code}; run it by hand to see the report")


def prepare(name: str, work: Path, ml100k_src: Path = DEFAULT_ML100K, fresh: bool = False) -> Path:
    """Raw dataset and features of ``name`` under ``work/name``; returns the features directory.

    Args:
        name: ``synthetic`` or ``ml100k``.
        work: the benchmark's work directory.
        ml100k_src: the MovieLens 100K folder (u.data, u.item, posters/, overviews.csv).
        fresh: re-create the dataset and features even if present.

    Raises:
        ValueError: unknown dataset name.
        FileNotFoundError: ml-100k requested but ``ml100k_src`` has no ``u.data``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset '{name}' (known: {', '.join(DATASETS)})")
    root = Path(work) / name
    data_dir, features = root / "data", root / "features"
    if not fresh and (features / contract.MANIFEST).is_file():
        return features
    if name == "synthetic":
        _braid("data", "synth", "--out", data_dir)
    else:
        if not (Path(ml100k_src) / "u.data").is_file():
            raise FileNotFoundError(f"{ml100k_src}/u.data not found: pass --ml100k-src DIR (the MovieLens 100K folder)")
        _braid("data", "movielens", "--src", ml100k_src, "--out", data_dir)
    _braid("extract", "--data", data_dir, "--out", features)
    return features
