"""The default split rules, on hand-made interactions."""

import pytest

from braidrec.features import contract
from braidrec.pipeline.splits import choose_cold_items, split_rows, split_user

TRAIN, VAL, TEST = contract.SPLIT_TRAIN, contract.SPLIT_VAL, contract.SPLIT_TEST


@pytest.mark.parametrize(
    "interactions, cold, expected_warm, expected_cold, duplicates",
    [
        # Fewer than 3 warm interactions: everything stays in train.
        ([("a", 1)], set(), [("a", 1, TRAIN)], [], 0),
        ([("b", 2), ("a", 1)], set(), [("a", 1, TRAIN), ("b", 2, TRAIN)], [], 0),
        # Three or more: last -> test, second-to-last -> val.
        ([("c", 3), ("a", 1), ("b", 2)], set(), [("a", 1, TRAIN), ("b", 2, VAL), ("c", 3, TEST)], [], 0),
        # Ties on timestamp are broken by item id.
        ([("z", 5), ("y", 5), ("x", 1)], set(), [("x", 1, TRAIN), ("y", 5, VAL), ("z", 5, TEST)], [], 0),
        # A repeated (user, item) keeps its earliest timestamp.
        ([("a", 9), ("a", 1), ("b", 2), ("c", 3)], set(), [("a", 1, TRAIN), ("b", 2, VAL), ("c", 3, TEST)], [], 1),
        # Cold items go to cold_test only and do not count towards the 3.
        ([("a", 1), ("k", 2), ("b", 3)], {"k"}, [("a", 1, TRAIN), ("b", 3, TRAIN)], [("k", 2)], 0),
        ([("k", 1), ("a", 2), ("b", 3), ("c", 4)], {"k"}, [("a", 2, TRAIN), ("b", 3, VAL), ("c", 4, TEST)], [("k", 1)], 0),
    ],
)
def test_split_user(interactions, cold, expected_warm, expected_cold, duplicates):
    split = split_user("u", interactions, cold)
    assert split.warm == expected_warm
    assert split.cold == expected_cold
    assert split.duplicates == duplicates
    assert len(split_rows(split)) + split.duplicates == len(interactions)


def test_cold_items_are_seeded_and_order_free():
    items = [f"i{n}" for n in range(200)]
    chosen = choose_cold_items(items, 0.1, seed=3)
    assert len(chosen) == 20
    assert chosen == choose_cold_items(list(reversed(items)), 0.1, seed=3)
    assert chosen != choose_cold_items(items, 0.1, seed=4)
