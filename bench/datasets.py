"""The benchmark's datasets, prepared through the ``braid`` command exactly as a user would.

``synthetic``: ``braid data synth`` with its defaults, then ``braid extract``.
``ml100k``: ``braid data movielens --src ML100K`` (the MovieLens adapter), then ``braid extract``.
Features are reused when a finished extraction (its manifest) is already in the work directory
and its schema holds every feature the current contract defines; older ones are extracted again.
"""

from __future__ import annotations

import json
from pathlib import Path

from braidrec.features import contract
from braidrec.pipeline import cli

DATASETS = ("synthetic", "ml100k")
DEFAULT_ML100K = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "ml-100k"


def is_current(features: Path) -> bool:
    """Whether ``features`` is a finished extraction with every item and history feature of the contract."""
    manifest = features / contract.MANIFEST
    if not manifest.is_file():
        return False
    schema = json.loads(manifest.read_text()).get("schema", {})
    # The pretrained text vector is optional: only the features every extraction writes must be there.
    return set(contract.item_feature_spec(0)) <= set(schema.get("items", {})) and set(contract.HISTORY_SPEC) <= set(
        schema.get("histories", {})
    )


def _braid(*argv) -> None:
    code = cli.main([str(a) for a in argv])
    if code != 0:
        raise RuntimeError(f"`braid {' '.join(map(str, argv))}` exited {code}; run it by hand to see the report")


def prepare(
    name: str, work: Path, ml100k_src: Path = DEFAULT_ML100K, fresh: bool = False, extract: dict | None = None
) -> Path:
    """Raw dataset and features of ``name`` under ``work/name``; returns the features directory.

    Args:
        name: ``synthetic`` or ``ml100k``.
        work: the benchmark's work directory.
        ml100k_src: the MovieLens 100K folder (u.data, u.item, posters/, overviews.csv).
        fresh: re-create the features even if present (and the dataset, for the default features).
        extract: ``braid extract`` flags (``{"text_encoder": "minilm"}`` is ``--extract.text_encoder minilm``);
            their features go to ``features-<field>-<value>...`` beside the default ones.

    Raises:
        ValueError: unknown dataset name.
        FileNotFoundError: ml-100k requested but ``ml100k_src`` has no ``u.data``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset '{name}' (known: {', '.join(DATASETS)})")
    root = Path(work) / name
    extract = extract or {}
    suffix = "".join(f"-{field}-{value}" for field, value in sorted(extract.items()))
    data_dir, features = root / "data", root / f"features{suffix}"
    if not fresh and is_current(features):
        return features
    flags = [part for field, value in sorted(extract.items()) for part in (f"--extract.{field}", value)]
    # Extra features are made from the raw data the default ones came from (same split).
    if (fresh and not extract) or not (data_dir / "dataset.yaml").is_file():
        _make_data(name, data_dir, ml100k_src)
    _braid("extract", "--data", data_dir, "--out", features, *flags)
    return features


def _make_data(name: str, data_dir: Path, ml100k_src: Path) -> None:
    if name == "synthetic":
        _braid("data", "synth", "--out", data_dir)
        return
    if not (Path(ml100k_src) / "u.data").is_file():
        raise FileNotFoundError(f"{ml100k_src}/u.data not found: pass --ml100k-src DIR (the MovieLens 100K folder)")
    _braid("data", "movielens", "--src", ml100k_src, "--out", data_dir)
