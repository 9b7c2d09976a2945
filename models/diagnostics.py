"""Beyond accuracy: cross-modal alignment, robustness and fusion attention.

Coverage comes with the ranking metrics (``ranking.evaluate_ranking``).

Alignment is measured between the encoders' outputs (before fusion), which
is where the alignment loss acts: a text and an image of the same item should
be closer than those of two random items, and a text should retrieve its own
item's image among all items that have both. Text search is measured as
serving's ``search_text`` answers: an item's text, alone, against every item's
fused embedding.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.features import contract, readers
from braidrec.models.evaluate import EvalData, model_metrics
from braidrec.models.two_tower import BraidModel, alignment_pairs

IMAGE_NOISE_STD = 0.5
TOP_CATEGORIES = 20


def modality_embeddings(model: BraidModel, catalogue: readers.Catalogue, batch_size: int = 1024):
    """(per-modality embeddings [items, M, dim], presence mask [items, M]) without id dropout."""
    embs, masks = [], []
    for start in range(0, len(catalogue), batch_size):
        rows = np.arange(start, min(len(catalogue), start + batch_size))
        out = model.item_tower.encode_all({k: tf.constant(v) for k, v in catalogue.take(rows).items()}, training=False)
        embs.append(out["modalities"].numpy())
        masks.append(out["mask"].numpy())
    return np.concatenate(embs), np.concatenate(masks)


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def own_ranks(queries: np.ndarray, keys: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """0-based rank, by cosine among every key, of each query's own row (same index).

    ``rows`` (indices into ``queries``) ranks only those queries, still against every key.
    """
    rows = np.arange(len(queries)) if rows is None else rows
    scores = _normalise(queries[rows]) @ _normalise(keys).T
    own = scores[np.arange(len(rows)), rows]
    return (scores > own[:, None]).sum(axis=1)


def recall_at(ranks: np.ndarray, ks=(1, 10)) -> dict[str, float]:
    """Share of the ``ranks`` below each k."""
    return {f"recall@{k}": float((ranks < k).mean()) for k in ks}


def cross_modal_recall(queries: np.ndarray, keys: np.ndarray, ks=(1, 10), rows: np.ndarray | None = None) -> dict[str, float]:
    """Share of queries whose own row (same index) is among the top-k keys by cosine (see :func:`own_ranks`)."""
    return recall_at(own_ranks(queries, keys, rows), ks)


def alignment_report(model: BraidModel, catalogue: readers.Catalogue, unseen: np.ndarray | None = None) -> dict:
    """Paired-minus-random cosine gap per aligned pair; text<->image retrieval.

    Args:
        model: the trained model.
        catalogue: every item.
        unseen: bool [items], the items training never showed the alignment loss
            (cold items): their text queries, against every item's image, say
            whether alignment generalises or memorises.

    Returns:
        ``{"pairs": {"text~image": {"paired", "random", "gap", "items"}, ...},
        "text_to_image": {...}, "image_to_text": {...}, "unseen_text_to_image": {...}}``.
    """
    embs, mask = modality_embeddings(model, catalogue)
    names = model.item_tower.modalities
    report: dict = {"pairs": {}}
    rng = np.random.default_rng(0)
    for a, b in alignment_pairs(names):
        both = mask[:, a] & mask[:, b]
        if both.sum() < 2:
            continue
        left, right = _normalise(embs[both, a]), _normalise(embs[both, b])
        paired = float(np.mean(np.sum(left * right, axis=1)))
        shuffled = right[rng.permutation(len(right))]
        unrelated = float(np.mean(np.sum(left * shuffled, axis=1)))
        report["pairs"][f"{names[a]}~{names[b]}"] = {"paired": paired, "random": unrelated, "gap": paired - unrelated, "items": int(both.sum())}
    text, image = names.index("text"), names.index("image")
    both = mask[:, text] & mask[:, image]
    if both.sum() >= 2:
        ranks = own_ranks(embs[both, text], embs[both, image])
        report["text_to_image"] = {**recall_at(ranks), "items": int(both.sum())}
        report["image_to_text"] = {**cross_modal_recall(embs[both, image], embs[both, text]), "items": int(both.sum())}
        queries = unseen[both] if unseen is not None else np.zeros(int(both.sum()), bool)
        if queries.any():
            report["unseen_text_to_image"] = {**recall_at(ranks[queries]), "items": int(queries.sum()), "keys": int(both.sum())}
    return report


def text_search_report(model: BraidModel, catalogue: readers.Catalogue, item_embeddings: np.ndarray,
                       unseen: np.ndarray | None = None, batch_size: int = 1024) -> dict:
    """Recall@1 and @10 of each item's own text, as a query alone, among every item's fused embedding.

    It is what the export's ``search_text`` signature serves (the same text-only
    features through the item tower, ranked by cosine, no popularity offsets).

    Args:
        model: the trained model.
        catalogue: every item.
        item_embeddings: float32 [items, dim], the catalogue's fused embeddings
            (``evaluate.item_embeddings(...).embeddings``).
        unseen: bool [items], the items training never showed (cold items),
            also scored on their own.

    Returns:
        ``{"recall@1", "recall@10", "items"}`` over the items with text, and under
        ``"unseen"`` the same over the unseen ones; ``{}`` when no item has text.
    """
    texts = np.asarray(catalogue.features[contract.TEXT])
    rows = np.flatnonzero(np.asarray(catalogue.features[contract.HAS_TEXT]) > 0)
    if not len(rows):
        return {}
    queries = np.zeros_like(item_embeddings)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        queries[chunk] = model.item_tower.encode_text(tf.constant(texts[chunk])).numpy()
    ranks = own_ranks(queries, item_embeddings, rows=rows)
    report = {**recall_at(ranks), "items": int(len(rows))}
    cold = unseen[rows] if unseen is not None else np.zeros(len(rows), bool)
    if cold.any():
        report["unseen"] = {**recall_at(ranks[cold]), "items": int(cold.sum())}
    return report


def _with_features(data: EvalData, **changes: np.ndarray) -> EvalData:
    features = {**data.catalogue.features, **changes}
    return dataclasses.replace(data, catalogue=dataclasses.replace(data.catalogue, features=features))


def _without_profiles(data: EvalData) -> EvalData:
    blank = [
        dataclasses.replace(h, categorical=[], numeric=[0.0] * len(h.numeric), numeric_mask=[0.0] * len(h.numeric))
        for h in data.histories
    ]
    return dataclasses.replace(data, histories=blank)


def robustness_report(model: BraidModel, data: EvalData, ks: list[int]) -> dict:
    """Warm and cold Recall@10 with images removed, text removed, noisy image inputs and,
    when the user tower reads them, user profiles removed (``no_profile``).

    Noise is Gaussian with ``IMAGE_NOISE_STD`` times each image feature's
    standard deviation over the catalogue (seeded).
    """
    feats = data.catalogue.features
    image = feats[contract.IMAGE]
    noise = np.random.default_rng(0).normal(size=image.shape) * image.std(axis=0, keepdims=True) * IMAGE_NOISE_STD
    variants = {
        "no_image": _with_features(data, **{contract.HAS_IMAGE: np.zeros_like(feats[contract.HAS_IMAGE])}),
        "no_text": _with_features(data, **{contract.HAS_TEXT: np.zeros_like(feats[contract.HAS_TEXT])}),
        "image_noise": _with_features(data, **{contract.IMAGE: (image + noise).astype(np.float32)}),
    }
    if model.user_tower.reads_profile:
        variants["no_profile"] = _without_profiles(data)
    out = {}
    for name, variant in variants.items():
        metrics = model_metrics(model, variant, ks)
        out[name] = {"warm_recall@10": metrics["warm"]["recall@10"], "cold_recall@10": metrics["cold"]["recall@10"]}
    return out


def attention_report(weights: np.ndarray, modalities: list[str], catalogue: readers.Catalogue,
                     placed: np.ndarray | None = None) -> dict:
    """Mean fusion weight per modality, overall and per categorical token (the most frequent ones).

    Only over the ``placed`` rows (bool [items]; None: all): an item with no modality present has no
    weights to average, and counting its zeros would understate every modality's share.
    """
    placed = np.ones(len(weights), bool) if placed is None else np.asarray(placed, bool)
    overall = {name: float(v) for name, v in zip(modalities, weights[placed].mean(axis=0))} if placed.any() else {}
    tokens = catalogue.features.get(contract.CATEGORICAL)
    per_category = {}
    if tokens is not None:
        decoded = [[t.decode() if isinstance(t, bytes) else str(t) for t in row if t] for row in tokens]
        for token, _ in Counter(t for row in decoded for t in set(row)).most_common(TOP_CATEGORIES):
            rows = [i for i, row in enumerate(decoded) if token in row and placed[i]]
            if not rows:
                continue
            per_category[token] = {name: float(v) for name, v in zip(modalities, weights[rows].mean(axis=0))}
    return {"overall": overall, "per_category": per_category}

