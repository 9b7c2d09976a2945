"""The default evaluation split, as pure functions the Beam job applies per user.

Rules (README, "Evaluation split"):
- every interaction is implicit feedback; a repeated (user, item) keeps its earliest;
- a seeded share of items is cold: all their interactions go to ``cold_test`` only;
- among warm interactions, a user with at least 3 gets the last one (by
  timestamp, then item id) in ``test``, the second-to-last in ``val``, the rest
  in ``train``; a user with fewer keeps them all in ``train``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable

from braidrec.features import contract

MIN_WARM_FOR_HOLDOUT = 3


def _rank_key(seed: int, item_id: str) -> str:
    return hashlib.sha1(f"{seed}:{item_id}".encode()).hexdigest()


def choose_cold_items(item_ids: Iterable[str], fraction: float, seed: int) -> set[str]:
    """A seeded, runner-independent choice of ``round(fraction * n)`` cold items.

    Items are ordered by a hash of (seed, id), so the choice depends on neither
    the input order nor the runner's partitioning.
    """
    ordered = sorted(set(item_ids), key=lambda item: _rank_key(seed, item))
    return set(ordered[: int(round(fraction * len(ordered)))])


@dataclasses.dataclass
class UserSplit:
    """One user's interactions after the split rules.

    Attributes:
        user_id: the user.
        warm: (item, timestamp, split) in time order, split in train/val/test.
        cold: (item, timestamp) of cold items, in time order.
        duplicates: how many repeated (user, item) interactions were dropped.
        profile: the user's ``contract.USER_*`` features from the users table, None without a row there.
    """

    user_id: str
    warm: list[tuple[str, int, int]]
    cold: list[tuple[str, int]]
    duplicates: int
    profile: dict | None = None


def split_user(user_id: str, interactions: Iterable[tuple[str, int]], cold_items: set[str],
               profile: dict | None = None) -> UserSplit:
    """Applies the split rules to one user's (item, timestamp) interactions; ``profile`` is carried along.

    Returns:
        The user's :class:`UserSplit`.
    """
    earliest: dict[str, int] = {}
    total = 0
    for item, timestamp in interactions:
        total += 1
        if item not in earliest or timestamp < earliest[item]:
            earliest[item] = timestamp
    ordered = sorted(earliest.items(), key=lambda pair: (pair[1], pair[0]))
    cold = [(item, ts) for item, ts in ordered if item in cold_items]
    warm_pairs = [(item, ts) for item, ts in ordered if item not in cold_items]
    splits = [contract.SPLIT_TRAIN] * len(warm_pairs)
    if len(warm_pairs) >= MIN_WARM_FOR_HOLDOUT:
        splits[-1] = contract.SPLIT_TEST
        splits[-2] = contract.SPLIT_VAL
    warm = [(item, ts, split) for (item, ts), split in zip(warm_pairs, splits)]
    return UserSplit(user_id=user_id, warm=warm, cold=cold, duplicates=total - len(ordered), profile=profile)


def split_rows(user: UserSplit) -> list[tuple[str, dict]]:
    """(split name, row) pairs for ``splits/<name>.parquet``."""
    rows = [
        (contract.SPLIT_NAMES[split], {"user_id": user.user_id, "item_id": item, "timestamp": ts})
        for item, ts, split in user.warm
    ]
    rows += [("cold_test", {"user_id": user.user_id, "item_id": item, "timestamp": ts}) for item, ts in user.cold]
    return rows
