"""An exact split of item embeddings, and so of scores, into per-modality parts.

Every fusion mode is linear in the modality embeddings once the fusion weights
are fixed (``sum`` and ``attention`` weight and add them, ``concat`` projects
their concatenation), and so is the output projection; the cosine head then
divides by one norm per item. An item's embedding is therefore exactly

    embedding = sum_m part_m + bias_part

and a user's score for it, ``query . embedding + offset``, is the sum of one
contribution ``query . part_m`` per modality plus a base
(``query . bias_part`` + the cold-item bias + the score offset). The fusion
weight (``embed_items``' ``modality_weights``) says how much of an item's
embedding a modality makes; the contribution says how much of one user's score
for it that modality earned, which can be negative.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from braidrec.models.towers import ItemTower

# tf.math.l2_normalize's floor on the squared norm, so parts divide by what the embedding did.
_NORM_EPSILON = 1e-12


class ItemParts(NamedTuple):
    """Items' embeddings split by modality: ``embedding = parts.sum(1) + bias_scale[:, None] * bias``.

    Attributes:
        parts: float32 [items, M, dim], each modality's part (zero for a modality the item lacks).
        bias_scale: float32 [items], how much of the shared bias vector each embedding holds (one over
            its norm before normalisation with the cosine head; 0 or 1 with ``scoring=dot``).
        bias: float32 [dim], the projections' bias, shared by every item.
    """

    parts: np.ndarray
    bias_scale: np.ndarray
    bias: np.ndarray

    @property
    def bias_parts(self) -> np.ndarray:
        """float32 [items, dim], each item's bias part."""
        return self.bias_scale[:, None] * self.bias[None]


def modality_parts(tower: ItemTower, out: dict) -> ItemParts:
    """Splits items' embeddings into one part per modality plus a bias part.

    Args:
        tower: the item tower whose :meth:`~ItemTower.encode_all` made ``out``.
        out: ``encode_all(features, training=False)`` of a batch of items (``modalities``,
            ``weights``, ``mask``), as NumPy arrays.

    Returns:
        :class:`ItemParts` whose sum is ``out["embedding"]`` up to float rounding, M in
        ``tower.modalities`` order.
    """
    stacked = np.asarray(out["modalities"], np.float64)
    weights = np.asarray(out["weights"], np.float64)
    mask = np.asarray(out["mask"], bool)
    kernel = tower.output_projection.kernel.numpy().astype(np.float64)
    bias = tower.output_projection.bias.numpy().astype(np.float64)
    if tower.dot:
        # An item whose id is used is its id row; any other is its content, fused and projected (unnormalised).
        id_used = mask[:, 0]
        content_mask = mask.copy()
        content_mask[:, 0] = False
        parts, shared = _projected(tower, stacked, weights, content_mask, kernel, bias)
        parts[id_used] = 0.0
        parts[id_used, 0] = stacked[id_used, 0]
        return ItemParts(parts.astype(np.float32), np.where(id_used, 0.0, 1.0).astype(np.float32), shared.astype(np.float32))
    parts, shared = _projected(tower, stacked, weights, mask, kernel, bias)
    scale = 1.0 / np.sqrt(np.maximum(np.sum((parts.sum(axis=1) + shared) ** 2, axis=-1), _NORM_EPSILON))
    return ItemParts((parts * scale[:, None, None]).astype(np.float32), scale.astype(np.float32), shared.astype(np.float32))


def _projected(tower: ItemTower, stacked: np.ndarray, weights: np.ndarray, mask: np.ndarray, kernel: np.ndarray,
               bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each modality's share of ``output_projection(fused)`` before normalisation [batch, M, dim], and
    the shared rest [dim]."""
    if tower.fusion.mode != "concat":
        # sum and attention: fused = sum_m w_m e_m (absent modalities have weight 0).
        return weights[..., None] * (stacked @ kernel), bias
    # concat: fused = W_c . concat(present_m e_m) + b_c, a block of W_c per modality.
    concat_kernel = tower.fusion.projection.kernel.numpy().astype(np.float64)
    concat_bias = tower.fusion.projection.bias.numpy().astype(np.float64)
    blocks = concat_kernel.reshape(stacked.shape[1], stacked.shape[-1], -1)  # [M, dim, fused dim]
    parts = np.einsum("bmd,mdf->bmf", stacked * mask[..., None], blocks) @ kernel
    return parts, concat_bias @ kernel + bias


def concatenate_parts(batches: list[ItemParts], tower: ItemTower) -> ItemParts:
    """One :class:`ItemParts` of batches of :func:`modality_parts`, in order (empty for no batch)."""
    if not batches:
        dim = tower.output_projection.units
        return ItemParts(np.zeros((0, len(tower.modalities), dim), np.float32), np.zeros(0, np.float32), np.zeros(dim, np.float32))
    return ItemParts(np.concatenate([b.parts for b in batches]), np.concatenate([b.bias_scale for b in batches]), batches[0].bias)


def drivers(contributions: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """The index of the modality with the largest contribution per result, among the modalities the
    item has (a part that is all zeros is a modality it lacks, whose zero must not outrank a present
    modality's negative contribution).

    Args:
        contributions: float [..., M], ``query . part`` per modality.
        parts: float [..., M, dim], the parts they came from.

    Returns:
        int [...]; -1 for an item with no modality at all (nothing places it).
    """
    present = np.any(parts != 0, axis=-1)
    best = np.argmax(np.where(present, contributions, -np.inf), axis=-1)
    return np.where(present.any(axis=-1), best, -1)
