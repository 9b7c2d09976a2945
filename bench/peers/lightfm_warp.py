"""LightFM with the WARP loss: ids only, or ids plus item features (genres, title and overview words).

With features an item's embedding is the sum of its feature embeddings, so a
cold item (no interactions, identity feature never trained) is still placed by
its genres and words: LightFM is the content-aware peer for the cold task.

Two setups with features: the bench's own (``lightfm_features``: warm columns
only, cold items placed by content alone) and LightFM out of the box
(``lightfm_features_dataset``: ``lightfm.data.Dataset`` over the whole catalogue,
its identity features and row normalisation, so WARP samples the never-seen
cold items as negatives), the setup a user following LightFM's docs gets.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import scipy.sparse as sp

from bench.peers.base import Scorer, TrainMatrix, factor_scorer, val_recall
from braidrec.features import contract, readers
from braidrec.models.evaluate import EvalData



@dataclasses.dataclass
class LightFMConfig:
    """Hyper-parameters (chosen on ml-100k validation Recall@10)."""

    components: int = 64
    learning_rate: float = 0.05
    alpha: float = 1e-5
    identity_weight: float = 0.5
    max_epochs: int = 80
    patience: int = 4

# Words seen in fewer items carry no signal the model can learn and only add parameters.
MIN_WORD_ITEMS = 2


def _decode(values: np.ndarray) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.tolist()]


def item_feature_matrix(
    catalogue: readers.Catalogue, identity: bool = True, identity_weight: float = 0.5, warm_rows: np.ndarray | None = None
) -> tuple[sp.csr_matrix, list[str]]:
    """Items x features: identity, categorical tokens (``genres=Action``) and text words.

    Args:
        catalogue: the features' catalogue (``features['categorical']``, ``features['text']``).
        identity: include one indicator per item (LightFM's usual setup).
        identity_weight: that indicator's value; the content features share the rest.
        warm_rows: bool [items]; rows False (cold items, whose id embedding is never
            trained) get no identity weight and all of it on content. Default: all warm.

    Returns:
        (row-normalised CSR [items, features], feature names).
    """
    categorical = catalogue.features[contract.CATEGORICAL]
    texts = _decode(catalogue.features[contract.TEXT])
    tokens = [set(t for t in _decode(categorical[row]) if t) | {f"word={w}" for w in texts[row].split()} for row in range(len(catalogue))]
    counts = Counter(t for item in tokens for t in item)
    names = sorted(t for t, n in counts.items() if n >= MIN_WORD_ITEMS or not t.startswith("word="))
    column = {t: i for i, t in enumerate(names)}
    rows, cols = [], []
    for row, item in enumerate(tokens):
        for t in item:
            if t in column:
                rows.append(row)
                cols.append(column[t])
    content = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(catalogue), len(names)))
    # Content features share weight 1 - identity_weight per item, so items with long
    # overviews do not dominate and a warm item's own id keeps a fixed say.
    norms = np.asarray(content.sum(axis=1)).ravel()
    warm = np.ones(len(catalogue), bool) if warm_rows is None else np.asarray(warm_rows, bool)
    id_weight = np.where(warm, identity_weight, 0.0) if identity else np.zeros(len(catalogue))
    content = sp.diags((1.0 - id_weight) / np.maximum(norms, 1.0)) @ content
    matrix = sp.hstack([sp.diags(id_weight), content]) if identity else content
    prefix = [f"item={i}" for i in catalogue.item_ids] if identity else []
    return matrix.tocsr().astype(np.float32), prefix + names


def dataset_item_features(catalogue: readers.Catalogue) -> sp.csr_matrix:
    """Items x features as ``lightfm.data.Dataset`` builds them by default: an identity feature
    for every item (cold ones too) beside the same genre and word tokens as
    :func:`item_feature_matrix`, each row normalised to sum to 1. Rows follow the catalogue."""
    from lightfm.data import Dataset

    content, names = item_feature_matrix(catalogue, identity=False)
    tokens = [[names[c] for c in content.indices[content.indptr[r]:content.indptr[r + 1]]] for r in range(len(catalogue))]
    dataset = Dataset()
    dataset.fit(users=[], items=list(catalogue.item_ids), item_features=names)
    matrix = dataset.build_item_features(zip(catalogue.item_ids, tokens))
    order = [dataset.mapping()[2][item] for item in catalogue.item_ids]
    return matrix.tocsr()[order].astype(np.float32)


def fit_lightfm(data: EvalData, seed: int, features: bool = False, config: LightFMConfig | None = None,
                out_of_the_box: bool = False) -> Scorer:
    """LightFM WARP, early-stopped on validation Recall@10.

    Args:
        data: evaluation data of the features directory.
        seed: LightFM's random state.
        features: use genres and title/overview words as item features (and score cold items).
        config: hyper-parameters; default :class:`LightFMConfig`.
        out_of_the_box: with features, LightFM as its docs set it up: every catalogue item a
            column and :func:`dataset_item_features` (``identity_weight`` unused).

    Returns:
        The best epoch's scorer.

    Raises:
        ValueError: ``out_of_the_box`` without ``features``.
    """
    from lightfm import LightFM

    if out_of_the_box and not features:
        raise ValueError("out_of_the_box is a setup of item features: pass features=True too")
    config = config or LightFMConfig()
    train = TrainMatrix.build(data)
    # The bench's own setup trains on warm columns only: otherwise WARP samples never-seen cold
    # items as negatives and learns to push their content away.
    warm = np.arange(len(data.catalogue)) if out_of_the_box else np.flatnonzero(data.train_counts > 0)
    scoring_features = None
    if out_of_the_box:
        scoring_features = dataset_item_features(data.catalogue)
    elif features:
        scoring_features = item_feature_matrix(data.catalogue, identity_weight=config.identity_weight, warm_rows=data.train_counts > 0)[0]
    train_features = scoring_features[warm] if features else None
    model = LightFM(
        no_components=config.components, loss="warp", learning_rate=config.learning_rate,
        item_alpha=config.alpha, user_alpha=config.alpha, random_state=seed,
    )
    name = ("LightFM WARP + features, out of the box" if out_of_the_box
            else "LightFM WARP + features" if features else "LightFM WARP")
    best, best_epoch, state = -1.0, 0, None
    interactions = train.matrix[:, warm].tocoo()
    for epoch in range(1, config.max_epochs + 1):
        # One thread: LightFM's parallel fit is Hogwild, so with two a seed's row moved between runs.
        model.fit_partial(interactions, item_features=train_features, epochs=1, num_threads=1)
        users, items = _snapshot(model, scoring_features, warm, len(data.catalogue))
        value = val_recall(Scorer(name, factor_scorer(users, items, train)), data)
        if value > best:
            best, best_epoch, state = value, epoch, (users, items)
        elif epoch - best_epoch >= config.patience:
            break
    users, items = state
    info = {**dataclasses.asdict(config), "best_epoch": best_epoch, "val_recall@10": best, "item_features": features,
            "out_of_the_box": out_of_the_box}
    return Scorer(name, factor_scorer(users, items, train), scores_cold=features, info=info)


def _snapshot(model, scoring_features, warm: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """User and catalogue item representations with the item bias folded in as an extra factor.

    Without features, LightFM's items are the warm columns; other catalogue rows get zeros
    (they are never warm candidates).
    """
    item_bias, item_emb = model.get_item_representations(scoring_features)
    _, user_emb = model.get_user_representations()
    users = np.hstack([user_emb, np.ones((len(user_emb), 1), np.float32)])
    items = np.hstack([item_emb, item_bias[:, None]])
    if scoring_features is None:
        full = np.zeros((n_items, items.shape[1]), np.float32)
        full[warm] = items
        items = full
    return users, items
