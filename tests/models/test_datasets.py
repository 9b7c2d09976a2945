"""Training inputs: next-item pairs and the sampling probabilities the logQ correction reads."""

import numpy as np
import pytest

from braidrec.features import contract, readers
from braidrec.models import datasets
from braidrec.models.two_tower import (
    ALIGNMENT_PREFIX, ALIGNMENT_PROBABILITY, NEGATIVE_PREFIX, NEGATIVE_PROBABILITY, QUERY_POSITION, SAMPLING_PROBABILITY, TARGET_PREFIX,
)


def test_pad_histories_keeps_most_recent_on_the_right():
    out = datasets.pad_histories([["a", "b", "c"], [], ["x"]], 2)
    assert out.tolist() == [["b", "c"], ["", ""], ["", "x"]]


def test_next_item_pairs_use_only_earlier_train_items():
    user = readers.UserHistory("u", ["a", "b", "c", "d"], [1, 2, 3, 4], [0, 0, 1, 2])
    users, histories, targets = datasets.next_item_pairs([user], contract.SPLIT_TRAIN, 3)
    assert targets.tolist() == ["a", "b"]
    assert histories.tolist() == [["", "", ""], ["", "", "a"]]
    _, histories, targets = datasets.next_item_pairs([user], contract.SPLIT_TEST, 3)
    assert targets.tolist() == ["d"] and histories.tolist() == [["a", "b", "c"]]


def test_sequence_windows_make_every_train_item_but_the_first_a_target_once():
    train = list("abcdefg")
    user = readers.UserHistory("u", train + ["v", "t"], list(range(9)), [0] * 7 + [1, 2])
    users, histories, targets = datasets.sequence_windows([user], 3)
    # Most recent window first; position k's target is the item after history position k.
    assert users.tolist() == ["u", "u"]
    assert histories.tolist() == [["d", "e", "f"], ["a", "b", "c"]]
    assert targets.tolist() == [["e", "f", "g"], ["b", "c", "d"]]
    _, histories, targets = datasets.sequence_windows([user], 4)
    assert histories.tolist() == [["c", "d", "e", "f"], ["", "", "a", "b"]]
    assert targets.tolist() == [["d", "e", "f", "g"], ["", "", "b", "c"]]
    assert sorted(t for t in targets.ravel() if t) == train[1:]


def test_windowed_batches_flatten_targets_with_their_query_positions(tiny_run):
    catalogue = readers.load_catalogue(tiny_run["features"])
    histories = readers.load_histories(tiny_run["features"])
    share = datasets.sampling_probabilities(catalogue, histories)
    users, hist, targets = datasets.sequence_windows(histories, 4)
    profiles = datasets.user_profiles(histories, users)
    batch = next(iter(datasets.retrieval_dataset(catalogue, users, hist, targets, share, 40, None, profiles=profiles)))
    windows = len(batch[contract.USER_ID])
    # Each window carries its own user's profile.
    assert batch[contract.USER_CATEGORICAL].numpy().astype(str).tolist() == profiles[contract.USER_CATEGORICAL][:windows].tolist()
    np.testing.assert_array_equal(batch[contract.USER_NUMERIC].numpy(), profiles[contract.USER_NUMERIC][:windows])
    expected = targets[:windows].ravel()
    positions = batch[QUERY_POSITION].numpy()
    assert positions.tolist() == np.flatnonzero(expected != "").tolist()
    assert [i.decode() for i in batch[TARGET_PREFIX + contract.ITEM_ID].numpy()] == expected[positions].tolist()
    # About batch_size targets per batch, whatever the windows' fill.
    assert 40 - 4 <= len(positions) <= 40 + 4


@pytest.mark.parametrize("negatives", [0, 16])
def test_sampling_probabilities_stay_proportional_and_below_one(tiny_run, negatives):
    """TFRS clips the probability to [1e-6, 1]: values above 1 would silently flatten logQ."""
    catalogue = readers.load_catalogue(tiny_run["features"])
    histories = readers.load_histories(tiny_run["features"])
    share = datasets.sampling_probabilities(catalogue, histories)
    users, hist, targets = datasets.next_item_pairs(histories, contract.SPLIT_TRAIN, 5)
    batch = next(iter(datasets.retrieval_dataset(catalogue, users, hist, targets, share, 256, None, negatives)))
    probability = batch[SAMPLING_PROBABILITY].numpy()
    assert ((probability > 0) & (probability <= 1)).all()
    rows = [catalogue.index()[i.decode()] for i in batch[TARGET_PREFIX + contract.ITEM_ID].numpy()]
    size = len(rows)
    np.testing.assert_allclose(probability, share[rows] + negatives / len(catalogue) / size, rtol=1e-5)
    if negatives:
        assert batch[NEGATIVE_PROBABILITY].shape == (negatives,)


@pytest.mark.parametrize("alignment_negatives", [False, True])
def test_negatives_and_alignment_items_come_only_from_the_sample_pool(tiny_run, alignment_negatives):
    """Cold items must stay out of training: sampled negatives and aligned items are drawn from ``sample_rows``.

    Every candidate's probability counts each uniform draw: the sampled negatives, and the alignment
    items when they are negatives too.
    """
    catalogue = readers.load_catalogue(tiny_run["features"])
    histories = readers.load_histories(tiny_run["features"])
    share = datasets.sampling_probabilities(catalogue, histories)
    users, hist, targets = datasets.sequence_windows(histories, 4)
    index = catalogue.index()
    pool = np.unique([index[t] for t in targets.ravel() if t != contract.PAD])
    assert len(pool) < len(catalogue)
    data = datasets.retrieval_dataset(
        catalogue, users, hist, targets, share, 40, None, negatives=8, alignment_items=6, sample_rows=pool,
        alignment_negatives=alignment_negatives,
    )
    drawn = 8 + (6 if alignment_negatives else 0)
    allowed = set(catalogue.item_ids[pool].tolist())
    for batch in data.take(3):
        for prefix in (NEGATIVE_PREFIX, ALIGNMENT_PREFIX):
            assert {i.decode() for i in batch[prefix + contract.ITEM_ID].numpy()} <= allowed
        size = len(batch[SAMPLING_PROBABILITY])
        given = {TARGET_PREFIX: SAMPLING_PROBABILITY, NEGATIVE_PREFIX: NEGATIVE_PROBABILITY}
        if alignment_negatives:
            given[ALIGNMENT_PREFIX] = ALIGNMENT_PROBABILITY
        else:
            assert ALIGNMENT_PROBABILITY not in batch
        for prefix, key in given.items():
            rows = [index[i.decode()] for i in batch[prefix + contract.ITEM_ID].numpy()]
            np.testing.assert_allclose(batch[key].numpy(), share[rows] + drawn / len(pool) / size, rtol=1e-5)


def test_alignment_items_are_distinct_catalogue_rows_drawn_per_batch(tiny_run):
    catalogue = readers.load_catalogue(tiny_run["features"])
    histories = readers.load_histories(tiny_run["features"])
    share = datasets.sampling_probabilities(catalogue, histories)
    users, hist, targets = datasets.sequence_windows(histories, 4)
    data = datasets.retrieval_dataset(catalogue, users, hist, targets, share, 40, None, alignment_items=16)
    first, second = [[i.decode() for i in b[ALIGNMENT_PREFIX + contract.ITEM_ID].numpy()] for b in data.take(2)]
    assert len(first) == len(set(first)) == 16 and set(first) <= set(catalogue.item_ids.tolist())
    assert first != second
    plain = next(iter(datasets.retrieval_dataset(catalogue, users, hist, targets, share, 40, None)))
    assert not any(key.startswith(ALIGNMENT_PREFIX) for key in plain)


def test_user_profiles_align_with_the_examples_and_pad_unknown_users():
    users = [
        readers.UserHistory("a", ["x"], [1], [0], ["g=F", "job=n"], [31.0, 0.0], [1.0, 0.0]),
        readers.UserHistory("b", ["y"], [1], [0], ["g=M"], [40.0, 2.0], [1.0, 1.0]),
    ]
    out = datasets.user_profiles(users, np.array(["b", "nobody", "a", "b"], dtype=object))
    assert out[contract.USER_CATEGORICAL].tolist() == [["g=M", ""], ["", ""], ["g=F", "job=n"], ["g=M", ""]]
    np.testing.assert_array_equal(out[contract.USER_NUMERIC], [[40, 2], [0, 0], [31, 0], [40, 2]])
    np.testing.assert_array_equal(out[contract.USER_NUMERIC_MASK], [[1, 1], [0, 0], [1, 0], [1, 1]])


def test_no_users_table_gives_an_empty_profile_per_example():
    out = datasets.user_profiles([readers.UserHistory("a", ["x"], [1], [0])], np.array(["a"], dtype=object))
    assert out[contract.USER_CATEGORICAL].tolist() == [[""]]
    assert out[contract.USER_NUMERIC].shape == out[contract.USER_NUMERIC_MASK].shape == (1, 0)


def test_each_pass_of_the_repeated_data_holds_every_example_once_in_a_new_order(tiny_run):
    """``train`` fits on one iterator of ``retrieval_dataset(...).repeat()`` with ``cardinality()`` steps per
    epoch: each epoch must still be exactly one reshuffled pass over the examples."""
    catalogue = readers.load_catalogue(tiny_run["features"])
    histories = readers.load_histories(tiny_run["features"])
    share = datasets.sampling_probabilities(catalogue, histories)
    users, hist, targets = datasets.next_item_pairs(histories, contract.SPLIT_TRAIN, 4)
    data = datasets.retrieval_dataset(catalogue, users, hist, targets, share, 32, 7)
    steps = int(data.cardinality())
    assert steps == -(-len(targets) // 32)
    batches = list(data.repeat().take(2 * steps))
    expected = sorted(zip(users.astype(str), targets.astype(str)))
    passes = []
    for start in (0, steps):
        pairs = [(u.decode(), t.decode()) for b in batches[start:start + steps]
                 for u, t in zip(b[contract.USER_ID].numpy(), b[TARGET_PREFIX + contract.ITEM_ID].numpy())]
        assert sorted(pairs) == expected
        passes.append(pairs)
    assert passes[0] != passes[1]
