"""The embedded default dataset: a synthetic catalogue with planted ground truth.

Items mix a few latent topics; each topic owns disjoint words, a colour and a
shape, so text and images both carry the topic signal. Users prefer topics, and
interactions are sampled from a known score s(u, i) = w * (p_u . theta_i) + b_i,
saved in ``ground_truth.npz`` so evaluation can compare a model to the truth
(:mod:`braidrec.data.synth_truth` reads it back).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from braidrec.config import SynthConfig
from braidrec.data.layout import DatasetSpec, write_dataset_yaml
from braidrec.data.synth_content import describe_look, item_looks, sample_words, topic_looks, topic_words, write_images

GENERATOR = "braidrec.data.synth"
START_TIME = 1577836800  # 2020-01-01T00:00:00Z


def _check_config(config: SynthConfig) -> None:
    minimums = {"items": 2, "users": 1, "topics": 1, "categories": 1, "history_min": 1, "image_size": 8}
    for field, least in minimums.items():
        if getattr(config, field) < least:
            raise ValueError(f"synth.{field} must be >= {least}, got {getattr(config, field)}")
    for field in ("missing_image", "missing_text", "mismatch", "corrupt"):
        if not 0.0 <= getattr(config, field) <= 1.0:
            raise ValueError(f"synth.{field} is a fraction of items and must be in [0, 1], got {getattr(config, field)}")
    if config.missing_image + config.mismatch + config.corrupt > 1.0:
        raise ValueError("synth.missing_image + synth.mismatch + synth.corrupt must not exceed 1 (they are disjoint)")


def _dirichlet(rng: np.random.Generator, alpha: float, k: int, n: int) -> np.ndarray:
    mix = np.nan_to_num(rng.dirichlet(np.full(k, alpha), size=n)) if k > 1 else np.ones((n, 1))
    mix[mix.sum(axis=1) <= 0, 0] = 1.0  # small alphas can underflow to all zeros: fall back to one topic
    return mix / mix.sum(axis=1, keepdims=True)


def _items(rng: np.random.Generator, config: SynthConfig, vocab: list[list[str]], topic_category: np.ndarray):
    n, k = config.items, config.topics
    theta = _dirichlet(rng, 0.15, k, n)
    dominant = theta.argmax(axis=1)
    log_rank = -np.log(rng.permutation(n) + 1.0)  # Zipf by a random rank, so popularity ignores topic
    # Standardise first, then scale: std(b) == popularity_skew, so the knob survives normalisation
    # (std(log rank) is close to 1, so this is about Zipf with that exponent).
    bias = config.popularity_skew * (log_rank - log_rank.mean()) / (log_rank.std() or 1.0)
    category = np.where(rng.random(n) < 0.1, rng.integers(config.categories, size=n), topic_category[dominant])
    topic_price = np.exp(rng.uniform(np.log(5), np.log(200), k))
    topic_year = rng.uniform(1995, 2022, k)
    rows = []
    for i in range(n):
        title = " ".join(sample_words(rng, theta[i], vocab, int(rng.integers(2, 4)), 1.0)).title()
        description = " ".join(sample_words(rng, theta[i], vocab, int(rng.integers(12, 26)), 0.6))
        rows.append({
            "item_id": f"i{i + 1:05d}", "title": title, "description": description, "image_path": None,
            "category": f"category_{category[i]:02d}",
            "price": round(float(theta[i] @ topic_price * rng.lognormal(0, 0.25)), 2),
            "year": int(np.clip(round(theta[i] @ topic_year + rng.normal(0, 3)), 1990, 2024)),
        })
    items = pd.DataFrame(rows)
    no_text = rng.permutation(n)[: round(config.missing_text * n)]
    # Both spellings of "no text" occur in real data, so both are planted.
    items["description"] = items["description"].astype(object)
    items.loc[no_text[::2], "description"] = None
    items.loc[no_text[1::2], "description"] = ""
    missing_text = np.zeros(n, bool)
    missing_text[no_text] = True
    return items, theta, bias, missing_text


def _interactions(rng: np.random.Generator, config: SynthConfig, prefs: np.ndarray, theta: np.ndarray,
                  bias: np.ndarray, item_ids: list[str], user_ids: list[str]) -> pd.DataFrame:
    weight = config.preference_weight
    lengths = np.minimum(np.maximum(config.history_min, rng.poisson(config.history_mean, config.users)),
                         max(1, config.items // 2))
    users, items, times = [], [], []
    for start in range(0, config.users, 512):  # blocks of users bound memory to 512 x items scores
        block = slice(start, min(start + 512, config.users))
        # Gumbel-top-k: the k largest of s + Gumbel noise are a sample without replacement with p ~ exp(s).
        keys = weight * prefs[block] @ theta.T + bias + rng.gumbel(size=(block.stop - start, config.items))
        top = int(lengths[block].max())
        best = np.argpartition(-keys, top - 1, axis=1)[:, :top]
        best = np.take_along_axis(best, np.argsort(-np.take_along_axis(keys, best, axis=1), axis=1), axis=1)
        for offset, u in enumerate(range(start, block.stop)):
            chosen = rng.permutation(best[offset, : lengths[u]])
            gaps = rng.exponential(86400.0, lengths[u]).astype(np.int64) + 1
            users += [u] * len(chosen)
            items += chosen.tolist()
            times += (START_TIME + int(rng.integers(0, 30 * 86400)) + np.cumsum(gaps)).tolist()
    users, items, times = np.array(users), np.array(items), np.array(times, np.int64)
    true = weight * np.einsum("ij,ij->i", prefs[users], theta[items]) + bias[items]
    z = (true - true.mean()) / (true.std() or 1.0)
    ratings = np.clip(np.rint(3 + 1.2 * z + rng.normal(0, 0.6, len(z))), 1, 5).astype(np.int64)
    # A few repeated (user, item) pairs with a later time exercise deduplication downstream.
    for u in rng.choice(config.users, size=max(1, round(0.005 * config.users)), replace=False):
        rows = np.flatnonzero(users == u)
        pick = rng.choice(rows)
        users, items = np.append(users, u), np.append(items, items[pick])
        times = np.append(times, times[rows].max() + int(rng.integers(60, 86400)))
        ratings = np.append(ratings, ratings[pick])
    frame = pd.DataFrame({
        "user_id": [user_ids[u] for u in users], "item_id": [item_ids[i] for i in items],
        "timestamp": times.astype(np.int64), "rating": ratings.astype(np.int64),
    })
    return frame.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)


def _is_previous_synthetic(out_dir: Path) -> bool:
    try:
        return json.loads((out_dir / "ground_truth.json").read_text()).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def _layout() -> dict:
    return {
        "name": "synthetic",
        "items": {"path": "items.parquet", "id": "item_id", "title": "title", "text": ["title", "description"],
                  "image": "image_path", "categorical": ["category"], "numeric": ["price", "year"]},
        "interactions": {"path": "interactions.parquet", "user": "user_id", "item": "item_id",
                         "timestamp": "timestamp", "weight": "rating"},
        "users": {"path": "users.parquet", "id": "user_id", "categorical": ["segment"], "numeric": ["age"]},
        "ground_truth": "ground_truth.npz",
    }


def _build(root: Path, config: SynthConfig) -> None:
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(6)]
    # Separate streams per stage, so e.g. changing a missing-image rate leaves interactions unchanged.
    vocab_rng, item_rng, image_rng, user_rng, event_rng, look_rng = streams
    k = config.topics
    vocab = topic_words(vocab_rng, k)
    colours, shapes = topic_looks(vocab_rng, k)
    topic_category = vocab_rng.permutation(np.arange(k) % config.categories)
    items, theta, bias, missing_text = _items(item_rng, config, vocab, topic_category)
    looks = item_looks(look_rng, config.items)
    has_description = ~missing_text
    items.loc[has_description, "description"] = [
        f"{text} {describe_look(looks[0][i], looks[1][i])}"
        for i, text in zip(np.flatnonzero(has_description), items.loc[has_description, "description"])
    ]
    masks = write_images(root, image_rng, config, items, theta, colours, shapes, looks)
    prefs = _dirichlet(user_rng, 0.3, k, config.users)
    user_ids = [f"u{u + 1:05d}" for u in range(config.users)]
    users = pd.DataFrame({
        "user_id": user_ids,
        "segment": [f"segment_{topic_category[t]:02d}" for t in prefs.argmax(axis=1)],
        "age": np.clip(np.rint(user_rng.normal(38, 12, config.users)), 16, 90).astype(np.int64),
    })
    item_ids = items["item_id"].tolist()
    events = _interactions(event_rng, config, prefs, theta, bias, item_ids, user_ids)
    items.to_parquet(root / "items.parquet", index=False)
    users.to_parquet(root / "users.parquet", index=False)
    events.to_parquet(root / "interactions.parquet", index=False)
    np.savez(
        root / "ground_truth.npz",
        item_ids=np.array(item_ids), user_ids=np.array(user_ids),
        item_topics=theta.astype(np.float32), user_prefs=prefs.astype(np.float32),
        item_bias=bias.astype(np.float32), preference_weight=np.float32(config.preference_weight),
        missing_text=missing_text, item_tint=looks[0], item_frame=looks[1], **masks,
    )
    about = {
        "generator": GENERATOR,
        "score": "s(u, i) = preference_weight * dot(user_prefs[u], item_topics[i]) + item_bias[i]",
        "arrays": {
            "item_ids, user_ids": "row order of the other arrays",
            "item_topics": "[items, topics] topic mixture theta_i ~ Dirichlet(0.15)",
            "item_tint, item_frame": "[items] the picture's backdrop and frame colour (synth_content.TINTS/FRAMES), named in the description",
            "user_prefs": "[users, topics] preference p_u ~ Dirichlet(0.3)",
            "item_bias": "[items] log-popularity (Zipf), mean 0, std popularity_skew (1 by default)",
            "preference_weight": "scalar w in the score",
            "mismatched": "[items] image shows another item (of another topic when possible)",
            "corrupt_image": "[items] image file holds garbage bytes",
            "missing_image": "[items] image cell empty, no file",
            "missing_text": "[items] description is None or '' (title is always present)",
            "mismatch_source": "[items] row of the item whose picture a mismatched item shows, else -1",
        },
        "topics": [{"words": vocab[t], "colour": [int(c) for c in colours[t]], "shape": shapes[t],
                    "category": f"category_{topic_category[t]:02d}"} for t in range(k)],
        "config": dataclasses.asdict(config),
    }
    (root / "ground_truth.json").write_text(json.dumps(about, indent=2))
    write_dataset_yaml(root, _layout())


def generate_synthetic(out_dir: str | os.PathLike, config: SynthConfig) -> DatasetSpec:
    """Writes the synthetic dataset to ``out_dir`` atomically and returns its spec.

    The dataset is built in a temporary directory next to ``out_dir`` and renamed
    into place, so readers never see a half-written dataset.

    Args:
        out_dir: target directory; created if missing. An existing non-empty
            directory is replaced only if it holds an earlier synthetic dataset.
        config: sizes, seed and data-quality knobs; equal configs give equal bytes
            in the tables and ground truth.

    Returns:
        The :class:`DatasetSpec` of the new dataset.

    Raises:
        ValueError: when a config field is out of range (the message names it).
        FileExistsError: when ``out_dir`` is a file or a non-empty directory that is
            not a synthetic dataset.
    """
    _check_config(config)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir}: is a file; choose a directory for the synthetic dataset")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not _is_previous_synthetic(out_dir):
        raise FileExistsError(
            f"{out_dir}: not empty and not a synthetic dataset; refusing to replace it (choose an empty directory)"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.building-"))
    try:
        _build(building, config)
        if out_dir.exists():
            retired = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
            os.replace(out_dir, retired / "dataset")
            os.replace(building, out_dir)
            shutil.rmtree(retired)
        else:
            os.replace(building, out_dir)
    finally:
        if building.exists():
            shutil.rmtree(building)
    return DatasetSpec.load(out_dir)
