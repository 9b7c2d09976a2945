"""Ranking warm and cold items together, as serving does, and calibrating one against the other.

The warm task ranks items with a trained id and the cold task only items
without one, so neither sees whether a cold item's score is on the scale of a
warm item's. Serving ranks the whole catalogue at once. On ml-100k the content
prior, tuned on the cold task, lifted cold items into 34-44% of the top-10 slots
(they are 10% of the catalogue and 12% of what users went on to watch), and the
held-out warm item fell out of the top-10 for about a quarter of the users who
had it there (models/README.md, "Cold items in a mixed ranking").

:func:`mixed_task` is that whole-catalogue ranking on a split: the relevant items
are the user's held-out warm item and every cold item they met from its time on
(before the next split's time, for validation). :func:`fit_cold_shift` finds the
one constant that, added to every cold item's score, gives cold items a target
share of the validation users' top-k; a constant changes neither the warm task
nor the cold task, which each rank one kind of item only.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from braidrec.models import ranking


CALIBRATIONS = ("catalogue", "none")
# Bisection bounds and steps for the shift, in score units (cosine scores lie in [-1, 1]; offsets add a few).
SHIFT_BOUND = 20.0
SHIFT_STEPS = 40


@dataclasses.dataclass
class MixedTask:
    """A whole-catalogue ranking task: per user the rows to rank against and the relevant rows.

    Attributes:
        split: the warm split whose users and held-out items it uses.
        known: per user, catalogue rows to exclude (their earlier warm items and the cold items met before).
        relevant: per user, the held-out warm item(s) and the cold items met in the window.
        candidates: bool [items], the rows any user may get (warm items in train and the cold items).
    """

    split: int
    known: list[np.ndarray]
    relevant: list[set[int]]
    candidates: np.ndarray

    @property
    def user_rows(self) -> np.ndarray:
        """Positions of the task's users in ``EvalData.task_users(split)``."""
        return np.arange(len(self.relevant))

    def candidate_mask(self, rows: np.ndarray) -> np.ndarray:
        """bool [len(rows), items]: the candidates of the users at ``rows``, their known rows excluded."""
        mask = np.repeat(self.candidates[None], len(rows), axis=0)
        for out_row, row in enumerate(rows):
            mask[out_row, self.known[row]] = False
        return mask


def mixed_task(data, split: int) -> MixedTask:
    """The mixed task of ``data`` (an ``EvalData``) on ``split`` (val or test).

    A user's window starts at the time of their ``split`` item and, for validation, ends
    before their test item's time, so validation and test never share a relevant cold item.
    """
    users = data.task_users(split)
    known, relevant = [], []
    for user in users:
        start = min(t for t, s in zip(user.timestamps, user.splits) if s == split)
        later = [t for t, s in zip(user.timestamps, user.splits) if s > split]
        end = min(later) if later else np.inf
        events = data.cold_events.get(user.user_id, [])
        known.append(np.array([data.index[i] for i in user.before(split)] + [r for r, t in events if t < start], np.int64))
        relevant.append({data.index[i] for i in user.of(split)} | {r for r, t in events if start <= t < end})
    return MixedTask(split, known, relevant, (data.train_counts > 0) | data.cold_mask)


def cold_slots(top: np.ndarray, cold: np.ndarray) -> np.ndarray:
    """bool [users, k]: which slots of ``ranking.top_k``'s lists (-1 padded) hold a cold item."""
    return cold[top] & (top >= 0)


def mixed_top_k(score: Callable[[np.ndarray], np.ndarray], task: MixedTask, k: int = 10, batch_size: int = 1024) -> np.ndarray:
    """int [users, k]: each of the task's users' top-``k`` candidate rows (``ranking.top_k``, -1 padded).

    Args:
        score: user positions [n] -> scores [n, items].
        task: :func:`mixed_task`.
    """
    tops = []
    for start in range(0, len(task.relevant), batch_size):
        rows = task.user_rows[start:start + batch_size]
        tops.append(ranking.top_k(score(rows), task.candidate_mask(rows), k))
    return np.concatenate(tops) if tops else np.zeros((0, k), np.int64)


def ranking_metrics(tops: np.ndarray, task: MixedTask, cold: np.ndarray, k: int = 10) -> dict:
    """Recall@k over each user's relevant rows (capped at k), the share of users whose held-out warm
    item is in their top-k, and the share of top-k slots that go to cold items.

    Args:
        tops: :func:`mixed_top_k` of the task.
        task: :func:`mixed_task`.
        cold: bool [items], the items counted as cold (the split's cold items).
        k: the cut-off.
    """
    recall, warm_hits = [], []
    for top, relevant in zip(tops, task.relevant):
        hits = set(top.tolist()) & relevant
        recall.append(len(hits) / min(len(relevant), k))
        warm_hits.append(any(not cold[r] for r in hits))
    relevant_cold = [np.mean([cold[r] for r in rel]) for rel in task.relevant]
    return {f"recall@{k}": float(np.mean(recall)), f"warm_hits@{k}": float(np.mean(warm_hits)),
            f"cold_share@{k}": float(cold_slots(tops, cold).mean()), "relevant_cold_share": float(np.mean(relevant_cold)),
            "users": len(recall)}


def mixed_metrics(score: Callable[[np.ndarray], np.ndarray], task: MixedTask, cold: np.ndarray, k: int = 10,
                  batch_size: int = 1024) -> dict:
    """:func:`ranking_metrics` of the ranking ``score`` (user positions [n] -> scores [n, items]) gives."""
    return ranking_metrics(mixed_top_k(score, task, k, batch_size), task, cold, k)


def fit_cold_shift(scores: np.ndarray, candidates: np.ndarray, cold: np.ndarray, target: float, k: int = 10) -> float:
    """The constant that, added to the cold items' ``scores`` [users, items], gives cold items
    ``target`` of the users' top-``k`` slots on average (bisection; the share falls as the shift does).

    ``candidates`` is the users' bool [users, items] mask (:meth:`MixedTask.candidate_mask`).

    Raises:
        ValueError: ``target`` outside [0, 1].
    """
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"the cold items' target share of the top-{k} must be in [0, 1], got {target}")
    low, high = -SHIFT_BOUND, SHIFT_BOUND
    for _ in range(SHIFT_STEPS):
        middle = (low + high) / 2
        share = cold_slots(ranking.top_k(scores + middle * cold[None], candidates, k), cold).mean()
        low, high = (low, middle) if share > target else (middle, high)
    return (low + high) / 2


def check_calibration(name: str) -> None:
    """Raises ValueError unless ``name`` is one of :data:`CALIBRATIONS` (``model.cold_calibration``)."""
    if name not in CALIBRATIONS:
        raise ValueError(f"model.cold_calibration '{name}' is not one of {CALIBRATIONS}")

