"""Writing an adapted dataset: Parquet tables, copied images and ``dataset.yaml``, atomically.

Adapters produce plain DataFrames; this module owns the on-disk result so every
layout ends up identical in shape. Images are *copied* into the output
directory because ``resolve_image_path`` refuses anything (including a
symlink target) outside the dataset directory, and the source directory may be
a licensed copy that must not be linked into other trees.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pandas as pd

from braidrec.data.layout import write_dataset_yaml

IMAGES_DIR = "posters"


@dataclasses.dataclass
class AdaptedDataset:
    """What an adapter read, before it is written.

    Attributes:
        name: dataset name for ``dataset.yaml``.
        items: one row per item; must hold ``item_id``; ``image_path`` (when present)
            is relative to the output directory and filled only for copied images.
        interactions: ``user_id``, ``item_id``, ``timestamp`` (unix seconds) and
            optionally ``rating``.
        users: one row per user with ``user_id``, or None.
        item_roles: the items table's roles beyond ``path``/``id`` (title, text, ...).
        user_roles: the users table's roles beyond ``path``/``id``.
        images: item id -> source image file to copy as ``posters/<id><suffix>``.
        layout: which source layout was read (``grouplens-100k``, ``movielens-latest``, ``recbole``).
    """

    name: str
    items: pd.DataFrame
    interactions: pd.DataFrame
    users: pd.DataFrame | None
    item_roles: dict
    user_roles: dict
    images: dict[str, Path]
    layout: str


def _copy_images(images: dict[str, Path], out: Path) -> dict[str, str]:
    """Copies each image to ``out/posters``; returns item id -> relative path."""
    target_dir = out / IMAGES_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    relative = {}
    for item_id, source in images.items():
        name = f"{item_id}{source.suffix.lower()}"
        shutil.copyfile(source, target_dir / name)
        relative[item_id] = f"{IMAGES_DIR}/{name}"
    return relative


def write_adapted(dataset: AdaptedDataset, out_dir: str | os.PathLike) -> dict:
    """Writes ``dataset`` as a raw-layout directory at ``out_dir`` (replacing it atomically).

    Args:
        dataset: the tables an adapter produced.
        out_dir: the dataset directory to create; it should lie outside the repository
            when the source's licence forbids redistribution.

    Returns:
        A summary: layout, rows per table, images copied and items without an image.
    """
    from braidrec.pipeline.fileutil import atomic_dir

    out = Path(out_dir)
    with atomic_dir(out) as work:
        items = dataset.items.copy()
        paths = _copy_images(dataset.images, work)
        items["image_path"] = pd.Series([paths.get(i) for i in items["item_id"]], index=items.index, dtype=object)
        items.to_parquet(work / "items.parquet", index=False)
        dataset.interactions.to_parquet(work / "interactions.parquet", index=False)
        layout = {
            "name": dataset.name,
            "items": {"path": "items.parquet", "id": "item_id", **dataset.item_roles, "image": "image_path"},
            "interactions": {"path": "interactions.parquet", "user": "user_id", "item": "item_id",
                             "timestamp": "timestamp",
                             **({"weight": "rating"} if "rating" in dataset.interactions.columns else {})},
        }
        if dataset.users is not None:
            dataset.users.to_parquet(work / "users.parquet", index=False)
            layout["users"] = {"path": "users.parquet", "id": "user_id", **dataset.user_roles}
        write_dataset_yaml(work, layout)
    return {
        "layout": dataset.layout,
        "out": str(out),
        "items": len(items),
        "interactions": len(dataset.interactions),
        "users": 0 if dataset.users is None else len(dataset.users),
        "images_copied": len(paths),
        "items_without_image": int(items["image_path"].isna().sum()),
    }
