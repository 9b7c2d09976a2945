"""Training and evaluation inputs built from the extracted features.

Training examples are next-item predictions: each train interaction is a
target, the user's earlier train items (the most recent ``max_history``) its
history. ``train.examples=sequence`` (the default) packs them as SASRec does:
one window of a user's items yields a target per position, scored in one pass
of the causal user tower; ``pairs`` makes one (history, target) example each.
"""

from __future__ import annotations

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.features import contract, readers
from braidrec.models.two_tower import (
    ALIGNMENT_PREFIX, ALIGNMENT_PROBABILITY, NEGATIVE_PREFIX, NEGATIVE_PROBABILITY, SAMPLING_PROBABILITY, QUERY_POSITION, TARGET_PREFIX,
)


def pad_histories(histories: list[list[str]], length: int) -> np.ndarray:
    """Left-pads (most recent last) or truncates each history to ``length`` ids."""
    out = np.full((len(histories), length), contract.PAD, dtype=object)
    for row, items in enumerate(histories):
        recent = items[-length:] if length else []
        if recent:
            out[row, length - len(recent):] = recent
    return out


def next_item_pairs(users: list[readers.UserHistory], split: int, max_history: int):
    """(user ids, histories, target item ids) for every interaction in ``split``.

    For ``SPLIT_TRAIN`` every train interaction is a target with the train items
    before it as history; for val/test the history is everything before the split.
    """
    user_ids, histories, targets = [], [], []
    for user in users:
        if split == contract.SPLIT_TRAIN:
            train = user.of(contract.SPLIT_TRAIN)
            for j, item in enumerate(train):
                user_ids.append(user.user_id)
                histories.append(train[max(0, j - max_history):j])
                targets.append(item)
        else:
            for item in user.of(split):
                user_ids.append(user.user_id)
                histories.append(user.before(split))
                targets.append(item)
    return np.asarray(user_ids, dtype=object), pad_histories(histories, max_history), np.asarray(targets, dtype=object)


def sequence_windows(users: list[readers.UserHistory], max_history: int):
    """Train windows: (user ids [W], histories [W, L], targets [W, L]), ``L = max_history``.

    A user's train items are cut, from the most recent back, into windows of
    ``L + 1``; a window's history is its first ``L`` items and position ``k``'s
    target is the item after it, so every train item but the user's first is a
    target exactly once. Both are left-padded with ``''``, which marks "no target".
    """
    user_ids, histories, targets = [], [], []
    for user in users:
        train = user.of(contract.SPLIT_TRAIN)
        for end in range(len(train), 1, -max_history):
            window = train[max(0, end - max_history - 1):end]
            user_ids.append(user.user_id)
            histories.append(window[:-1])
            targets.append(window[1:])
    return (
        np.asarray(user_ids, dtype=object), pad_histories(histories, max_history), pad_histories(targets, max_history)
    )


def user_profiles(users: list[readers.UserHistory], user_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Each example's user profile, aligned with ``user_ids``.

    Returns:
        ``USER_CATEGORICAL`` [N, T] tokens padded with ``''`` (T >= 1), ``USER_NUMERIC`` and
        ``USER_NUMERIC_MASK`` float32 [N, K] (K numeric columns, 0 without a users table).
        Users missing from ``users`` get an empty profile.
    """
    by_id = {user.user_id: user for user in users}
    chosen = [by_id.get(user_id) for user_id in np.asarray(user_ids).tolist()]
    width = max([1] + [len(u.categorical) for u in chosen if u is not None])
    columns = max([0] + [len(u.numeric) for u in chosen if u is not None])
    tokens = np.full((len(chosen), width), contract.PAD, dtype=object)
    numeric = np.zeros((len(chosen), columns), np.float32)
    mask = np.zeros((len(chosen), columns), np.float32)
    for row, user in enumerate(chosen):
        if user is None:
            continue
        tokens[row, :len(user.categorical)] = user.categorical
        if user.numeric:
            numeric[row], mask[row] = user.numeric, user.numeric_mask
    return {contract.USER_CATEGORICAL: tokens.astype(str), contract.USER_NUMERIC: numeric, contract.USER_NUMERIC_MASK: mask}


def tower_profiles(user_tower, users: list[readers.UserHistory], user_ids: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`user_profiles` of ``user_ids`` when ``user_tower`` reads profiles; else ``{}`` (nothing built).

    Training, evaluation and export all feed the tower through this, so none builds
    profile arrays for a tower that ignores them.
    """
    return user_profiles(users, user_ids) if user_tower.reads_profile else {}


def sampling_probabilities(catalogue: readers.Catalogue, users: list[readers.UserHistory]) -> np.ndarray:
    """Each item's share of train interactions (floor of one count so no item has zero)."""
    index = catalogue.index()
    counts = np.ones(len(catalogue), dtype=np.float64)
    for user in users:
        for item in user.of(contract.SPLIT_TRAIN):
            counts[index[item]] += 1
    return (counts / counts.sum()).astype(np.float32)


def retrieval_dataset(
    catalogue: readers.Catalogue,
    user_ids: np.ndarray,
    histories: np.ndarray,
    targets: np.ndarray,
    probabilities: np.ndarray,
    batch_size: int,
    shuffle_seed: int | None,
    negatives: int = 0,
    features: dict[str, np.ndarray] | None = None,
    alignment_items: int = 0,
    sample_rows: np.ndarray | None = None,
    profiles: dict[str, np.ndarray] | None = None,
    alignment_negatives: bool = False,
) -> tf.data.Dataset:
    """Batches of (user, history, target features, sampling probability) for ``BraidModel``.

    ``targets`` is [N] (one per example: ``pairs``) or [N, L] (a window's
    targets per history position, ``''`` for none: ``sequence``); windowed
    batches hold about ``batch_size`` targets, flattened, with each target's
    row in the [windows * L] per-position user embeddings under ``query_position``.

    With ``negatives > 0`` each batch also carries that many items drawn
    uniformly without replacement from ``sample_rows`` (default: the whole
    catalogue; all of them when it is at least their number): mixed negative
    sampling, which shows the loss the unpopular items that in-batch negatives
    rarely include. The sampling probability of every candidate is then
    proportional to its expected count among the batch's candidates,
    ``share + negatives / (pool * batch)`` for pool items, so the logQ
    correction stays exact.
    ``features`` replaces the catalogue's feature arrays (e.g. pre-tokenised text).
    With ``alignment_items > 0`` each batch carries that many catalogue items
    drawn uniformly from ``sample_rows`` under ``alignment_<name>``, for the
    cross-modal alignment loss; with ``alignment_negatives`` they are uniform
    negatives too (``alignment_sampling_probability``, and every candidate's
    probability counts them as it counts the sampled negatives).
    ``profiles`` (:func:`user_profiles` of ``user_ids``) adds each example's user profile.

    Raises:
        KeyError: a target item is missing from the catalogue (features and splits disagree).
    """
    index = catalogue.index()
    missing = [t for t in targets.ravel().tolist() if t != contract.PAD and t not in index]
    if missing:
        raise KeyError(f"target items not in the catalogue, e.g. {missing[:3]}: re-run `braid extract`")
    rows = np.vectorize(lambda t: index.get(t, -1), otypes=[np.int64])(targets) if targets.size else targets.astype(np.int64)
    windowed = rows.ndim == 2
    if windowed:
        # Windows are only partly full: size batches by the targets they hold.
        per_window = max(1.0, float((rows >= 0).sum()) / max(1, len(rows)))
        batch_size = max(1, round(batch_size / per_window))
    table = {name: tf.constant(values) for name, values in (features or catalogue.features).items()}
    probs = tf.constant(probabilities)
    profiles = profiles or {}
    data = tf.data.Dataset.from_tensor_slices(
        {contract.USER_ID: user_ids.astype(str), "history": histories.astype(str), "row": rows, **profiles}
    )
    if shuffle_seed is not None:
        data = data.shuffle(len(rows), seed=shuffle_seed, reshuffle_each_iteration=True)

    pool_rows = np.arange(len(catalogue)) if sample_rows is None else np.asarray(sample_rows, np.int64)
    pool = tf.constant(pool_rows, tf.int64)
    in_pool = tf.constant(np.isin(np.arange(len(catalogue)), pool_rows))
    extra = min(negatives, len(pool_rows))
    aligned = min(alignment_items, len(pool_rows))

    def features_at(prefix: str, rows) -> dict:
        return {prefix + name: tf.gather(values, rows) for name, values in table.items()}

    def attach(batch):
        out = {contract.USER_ID: batch[contract.USER_ID], "history": batch["history"], **{k: batch[k] for k in profiles}}
        target_rows = batch["row"]
        if windowed:
            flat = tf.reshape(target_rows, [-1])
            out[QUERY_POSITION] = tf.where(flat >= 0)[:, 0]
            target_rows = tf.gather(flat, out[QUERY_POSITION])
        size = tf.cast(tf.shape(target_rows)[0], tf.float32)
        uniform = (extra + (aligned if alignment_negatives else 0)) / len(pool_rows)

        def probability(rows):
            # Expected count per candidate divided by the batch size: TFRS clips the
            # probability to [1e-6, 1], so an unscaled count would flatten the correction.
            drawn = tf.where(tf.gather(in_pool, rows), uniform / size, 0.0)
            return tf.gather(probs, rows) + drawn

        out.update(features_at(TARGET_PREFIX, target_rows))
        out[SAMPLING_PROBABILITY] = probability(target_rows)
        if extra:
            negative_rows = tf.random.shuffle(pool)[:extra]
            out.update(features_at(NEGATIVE_PREFIX, negative_rows))
            out[NEGATIVE_PROBABILITY] = probability(negative_rows)
        if aligned:
            aligned_rows = tf.random.shuffle(pool)[:aligned]
            out.update(features_at(ALIGNMENT_PREFIX, aligned_rows))
            if alignment_negatives:
                out[ALIGNMENT_PROBABILITY] = probability(aligned_rows)
        return out

    return data.batch(batch_size).map(attach, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
