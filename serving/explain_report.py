"""``braid explain``: why a user got an item, from an export's ``explain`` signatures, in one process.

A user is named by id (``explain``) or, for one unseen in training, by a history of
items (``explain_history``); the items are given, or are the user's own top-k from
``serving_default`` / ``recommend_history``. Each row splits the served score into one
contribution per modality and a base (``serving/explain.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.serving.export import load_servable


def _decoded(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).tolist()]


def explain_user(version_dir: str | Path, user_id: str | None = None, history: list[str] | None = None,
                 items: list[str] | None = None, k: int = 10) -> dict:
    """Each modality's contribution to one user's score for each of ``items`` (default: their top-``k``).

    Args:
        version_dir: an exported version, ``EXPORT_BASE/NAME/<version>``.
        user_id: a user known to the export (an unknown one is explained as served: from the
            tower's history-free vector); or
        history: the item ids of a user unseen in training, oldest first.
        items: the items to explain; None: the user's top-``k`` as served.
        k: how many of the top items, when ``items`` is None (at most the export's k).

    Returns:
        ``{"user", "known_user", "modalities", "rows": [{"rank", "item_id", "score", "base", "driver",
        "contributions": {modality: value}}]}``; ``rank`` is the item's place in the served top-k,
        None for given items.

    Raises:
        FileNotFoundError: ``version_dir`` is no exported version.
        ValueError: neither or both of ``user_id`` and ``history``, ``k`` < 1, an export without the
            explain signature, or items that are not in the export's catalogue.
    """
    if (user_id is None) == (history is None):
        raise ValueError("give either a user id (--user) or a history of item ids (--history), not both")
    if k < 1:
        raise ValueError(f"--k {k} must be >= 1 (how many of the user's top items to explain)")
    served = load_servable(version_dir)
    if "explain" not in served.signatures:
        raise ValueError(f"{version_dir} has no explain signature (exported before it, or with --export.explain false): "
                         "export the model again without --export.explain false")
    if user_id is not None:
        query = {"user_id": tf.constant([user_id])}
        recommend, explain = served.signatures["serving_default"], served.signatures["explain"]
    else:
        query = {"history": tf.constant([list(history) or [""]])}
        recommend, explain = served.signatures["recommend_history"], served.signatures["explain_history"]
    ranks: list[int | None]
    if items is None:
        top = _decoded(recommend(**query)["item_ids"].numpy()[0])
        items = [item for item in top if item][:k]
        ranks = list(range(1, len(items) + 1))
    else:
        ranks = [None] * len(items)
    out = {name: value.numpy()[0] for name, value in explain(**query, item_ids=tf.constant([list(items) or [""]])).items()}
    missing = [item for item, found in zip(items, out["found"]) if not found]
    if missing:
        raise ValueError(f"items not in the export's catalogue: {', '.join(missing[:10])}"
                         f"{' ...' if len(missing) > 10 else ''}; pass ids from its catalogue (all_item_ids)")
    modalities = _decoded(served.modality_names().numpy())
    rows = [{"rank": rank, "item_id": item, "score": float(out["scores"][i]), "base": float(out["base"][i]),
             "driver": _decoded(out["driver"][i:i + 1])[0],
             "contributions": {m: float(c) for m, c in zip(modalities, out["contributions"][i])}}
            for i, (rank, item) in enumerate(zip(ranks, items))]
    known = user_id is None or user_id in set(_decoded(served.all_user_ids().numpy()))
    return {"user": user_id if user_id is not None else {"history": list(history)}, "known_user": known,
            "modalities": modalities, "rows": rows}


def format_explanation(report: dict) -> str:
    """:func:`explain_user`'s report as a table: one row per item, one column per modality."""
    user = report["user"]
    who = f"user {user}" if isinstance(user, str) else f"a user with history {', '.join(user['history']) or '(empty)'}"
    lines = [f"{who}{'' if report['known_user'] else ' (not known to the export: its history-free vector)'}: "
             "score = base + one contribution per modality"]
    width = max([len(r["item_id"]) for r in report["rows"]] + [7])
    names = report["modalities"]
    header = f"{'rank':>4}  {'item_id':<{width}}  {'score':>7}  {'driver':<{max(map(len, names)) if names else 6}}"
    lines.append(header + "".join(f"  {m:>{max(len(m), 7)}}" for m in names) + f"  {'base':>7}")
    for row in report["rows"]:
        rank = "" if row["rank"] is None else str(row["rank"])
        line = f"{rank:>4}  {row['item_id']:<{width}}  {row['score']:>7.3f}  {row['driver']:<{max(map(len, names)) if names else 6}}"
        line += "".join(f"  {row['contributions'][m]:>{max(len(m), 7)}.3f}" for m in names)
        lines.append(line + f"  {row['base']:>7.3f}")
    return "\n".join(lines)
