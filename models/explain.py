"""Which modality drove the top of a whole-catalogue ranking (``metrics.json``'s ``drivers@10``).

Each score splits exactly into one contribution per modality plus a base
(:mod:`braidrec.models.score_parts`); a slot's driver is the modality with the
largest contribution, as ``recs.parquet``'s ``driver`` column and the export's
``explain`` signatures say.
"""

from __future__ import annotations

import numpy as np

from braidrec.features import contract
from braidrec.models.evaluate import CatalogueEmbeddings, EvalData
from braidrec.models.evaluate_mixed import MixedRanking, mixed_ranking
from braidrec.models.score_parts import drivers


def driver_report(model, data: EvalData, items: CatalogueEmbeddings, k: int = 10, split: int = contract.SPLIT_TEST,
                  batch_size: int = 1024, ranked: MixedRanking | None = None) -> dict:
    """Which modality drove the top-``k`` of the ``split`` users' whole-catalogue ranking.

    The ranking is the mixed task's (:func:`~braidrec.models.evaluate_mixed.mixed_ranking`: warm and
    cold items together, as serving ranks them); each slot's driver is the modality with the largest
    contribution to its score, as ``recs.parquet``'s ``driver`` column says.

    Args:
        model: the trained ``BraidModel``.
        data: the evaluation data.
        items: :func:`~braidrec.models.evaluate.item_embeddings` of the catalogue, ``with_parts``.
        k: the cut-off.
        split: the users' split.
        batch_size: users per batch.
        ranked: that ranking, already made (of ``split`` with ``k``); None: ranks again.

    Raises:
        ValueError: ``items`` has no parts.

    Returns:
        ``{"all": {modality: share of slots}, "with_id": {...}, "without_id": {...}, "slots": {...}}``,
        shares over the slots of items with and without a trained id, and how many slots each has
        (slots of items that nothing places, which no modality drives, are left out).
    """
    if items.parts is None:
        raise ValueError("driver_report needs the catalogue's per-modality parts: item_embeddings(..., with_parts=True)")
    modalities = list(model.item_tower.modalities)
    ranked = ranked or mixed_ranking(model, data, items, split, k, batch_size)
    parts = items.parts.parts
    counts = {"with_id": np.zeros(len(modalities)), "without_id": np.zeros(len(modalities))}
    for start in range(0, len(ranked.tops), batch_size):
        rows = slice(start, start + batch_size)
        top = ranked.tops[rows]
        slots = np.maximum(top, 0)
        has_id = items.has_id[slots]
        query = np.where(has_id[..., None], ranked.users[rows][:, None], ranked.queries[rows][:, None])
        driver = drivers(np.einsum("nkd,nkmd->nkm", query, parts[slots]), parts[slots])
        for name, among in (("with_id", has_id), ("without_id", ~has_id)):
            counts[name] += np.bincount(driver[(top >= 0) & (driver >= 0) & among], minlength=len(modalities))
    counts["all"] = counts["with_id"] + counts["without_id"]

    def shares(values: np.ndarray) -> dict:
        return {m: float(v / max(values.sum(), 1)) for m, v in zip(modalities, values)}

    return {**{name: shares(counts[name]) for name in ("all", "with_id", "without_id")},
            "slots": {name: int(counts[name].sum()) for name in ("all", "with_id", "without_id")}}
