"""The planted truth of a synthetic dataset (``ground_truth.npz``), read back for evaluation.

:mod:`braidrec.data.synth` writes it; the evaluator scores the oracle with it
and the tests check the generator against it.
"""

from __future__ import annotations

import os

import numpy as np

from braidrec.data.layout import DatasetError, DatasetSpec


class GroundTruth:
    """The planted truth of a synthetic dataset: true scores and data-quality masks.

    Attributes:
        item_ids, user_ids: id arrays giving the row order of the other arrays.
        item_topics: ``[items, topics]``; user_prefs: ``[users, topics]``;
        item_bias: ``[items]``; preference_weight: float; arrays: every array in the file.
    """

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self.item_ids = arrays["item_ids"]
        self.user_ids = arrays["user_ids"]
        self.item_topics = arrays["item_topics"]
        self.user_prefs = arrays["user_prefs"]
        self.item_bias = arrays["item_bias"]
        self.preference_weight = float(arrays["preference_weight"])
        self.mismatched = arrays["mismatched"]
        self._item_index = {str(v): i for i, v in enumerate(self.item_ids)}
        self._user_index = {str(v): i for i, v in enumerate(self.user_ids)}

    @classmethod
    def load(cls, dataset_dir: str | os.PathLike) -> GroundTruth | None:
        """Reads the ground truth named by ``dataset.yaml``.

        Returns:
            None when the dataset declares no ``ground_truth``.

        Raises:
            DatasetError: when dataset.yaml is invalid or the file is missing or lacks an array.
        """
        spec = DatasetSpec.load(dataset_dir)
        if spec.ground_truth is None:
            return None
        path = spec.root / spec.ground_truth
        if not path.is_file():
            raise DatasetError(spec.ground_truth, f"not found at {path} (regenerate with 'braid data synth')")
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError) as err:
            raise DatasetError(spec.ground_truth, f"cannot read: {err} (regenerate with 'braid data synth')") from err
        needed = ("item_ids", "user_ids", "item_topics", "user_prefs", "item_bias", "preference_weight", "mismatched")
        for name in needed:
            if name not in arrays:
                raise DatasetError(spec.ground_truth, f"array '{name}' is missing (regenerate with 'braid data synth')")
        return cls(arrays)

    def scores(self, user_ids, item_ids) -> np.ndarray:
        """True scores ``s(u, i)`` for every pair.

        Args:
            user_ids: sequence of user id strings.
            item_ids: sequence of item id strings.

        Returns:
            float64 array ``[len(user_ids), len(item_ids)]``.

        Raises:
            KeyError: naming the first unknown user or item id.
        """
        users = [self._index(self._user_index, u, "user") for u in user_ids]
        items = [self._index(self._item_index, i, "item") for i in item_ids]
        prefs = self.user_prefs[users].astype(np.float64)
        topics = self.item_topics[items].astype(np.float64)
        return self.preference_weight * prefs @ topics.T + self.item_bias[items].astype(np.float64)

    @staticmethod
    def _index(index: dict[str, int], key, what: str) -> int:
        try:
            return index[str(key)]
        except KeyError:
            raise KeyError(f"{what} id '{key}' is not in the ground truth") from None
