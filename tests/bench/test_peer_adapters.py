"""The benchmark's peer adapters on the tiny synthetic run (needs the bench extra)."""

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("implicit", reason="bench extra not installed: pip install -e '.[bench]'")
pytest.importorskip("lightfm", reason="bench extra not installed: pip install -e '.[bench]'")

from bench.peers.base import Scorer, TrainMatrix, evaluate_scorer, mixed_ranking  # noqa: E402
from bench.peers.lightfm_warp import LightFMConfig, dataset_item_features, fit_lightfm, item_feature_matrix  # noqa: E402
from bench.peers.popularity import fit_popularity  # noqa: E402
from bench.peers.sasrec import SASRecConfig, fit_sasrec, training_windows  # noqa: E402
from braidrec.features import contract, readers  # noqa: E402
from braidrec.models.evaluate import baseline_metrics  # noqa: E402
from braidrec.models.mixed_ranking import mixed_task  # noqa: E402


def test_train_matrix_counts_match_eval_data(data):
    train = TrainMatrix.build(data)
    assert train.matrix.shape[1] == len(data.catalogue)
    np.testing.assert_array_equal(np.asarray(train.matrix.sum(axis=0)).ravel(), data.train_counts)
    assert train.rows_of(np.array(["no-such-user"])).tolist() == [-1]


def test_popularity_matches_braidrec_baseline(data):
    ours = evaluate_scorer(fit_popularity(data, 0), data, [10])["warm"]
    assert ours == baseline_metrics(data, [10])["popularity"]["warm"]


def test_perfect_scorer_and_random_cold(data):
    ids, _, relevant, _ = data.warm_task(contract.SPLIT_TEST)
    wanted = {u: next(iter(r)) for u, r in zip(ids.tolist(), relevant)}

    def score(user_ids, histories):
        out = np.zeros((len(user_ids), len(data.catalogue)))
        out[np.arange(len(user_ids)), [wanted.get(u, 0) for u in user_ids.tolist()]] = 1.0
        return out

    metrics = evaluate_scorer(Scorer("perfect", score), data, [10])
    assert metrics["warm"]["recall@10"] == pytest.approx(1.0)
    assert metrics["cold"]["random"] is True
    assert 0 < metrics["cold"]["recall@10"] < 1


@pytest.mark.parametrize("scores_cold", [False, True], ids=["warm-only peer", "cold-capable peer"])
def test_mixed_ranking_of_a_peer_by_hand(data, scores_cold):
    ids, _, relevant, _ = data.warm_task(contract.SPLIT_TEST)
    wanted = {u: next(iter(r)) for u, r in zip(ids.tolist(), relevant)}
    cold = data.cold_mask

    def score(user_ids, histories):
        # Every cold item above the held-out warm item, which is above the rest.
        out = np.where(cold, 10.0, 0.0)[None].repeat(len(user_ids), axis=0)
        out[np.arange(len(user_ids)), [wanted[u] for u in user_ids.tolist()]] = 1.0
        return out

    mixed = mixed_ranking(Scorer("p", score, scores_cold=scores_cold), data)
    task = mixed_task(data, contract.SPLIT_TEST)
    if scores_cold:
        # Cold items fill the top-10 unless a user has fewer than 10 left to meet; then the warm item is next.
        open_cold = np.array([len(set(data.cold_items) - set(known.tolist())) for known in task.known])
        assert mixed["cold_share@10"] == pytest.approx(np.mean(np.minimum(open_cold, 10) / 10))
        assert mixed["warm_hits@10"] == pytest.approx(np.mean(open_cold < 10))
    else:
        # Never recommended: only the held-out warm item is hit, always.
        assert mixed["cold_share@10"] == 0.0 and mixed["warm_hits@10"] == 1.0
        assert mixed["recall@10"] == pytest.approx(np.mean([1 / min(len(r), 10) for r in task.relevant]))


def test_item_features_normalised_and_cold_rows_have_no_identity(data):
    warm = data.train_counts > 0
    matrix, names = item_feature_matrix(data.catalogue, identity_weight=0.4, warm_rows=warm)
    n = len(data.catalogue)
    assert matrix.shape == (n, len(names))
    identity = matrix[:, :n].diagonal()
    np.testing.assert_allclose(identity, np.where(warm, 0.4, 0.0))
    has_content = np.asarray(matrix[:, n:].sum(axis=1)).ravel() > 0
    np.testing.assert_allclose(np.asarray(matrix.sum(axis=1)).ravel()[has_content], 1.0, rtol=1e-5)


def test_dataset_item_features_give_every_item_its_identity_in_catalogue_order(data):
    content, _ = item_feature_matrix(data.catalogue, identity=False)
    matrix = dataset_item_features(data.catalogue)
    n = len(data.catalogue)
    tokens = np.diff(content.indptr)
    # LightFM's Dataset: identity first, then the same tokens, every row summing to 1.
    np.testing.assert_allclose(matrix[:, :n].diagonal(), 1.0 / (1.0 + tokens), rtol=1e-6)
    assert matrix[:, :n].nnz == n
    np.testing.assert_array_equal((matrix[:, n:] > 0).toarray(), (content > 0).toarray())
    np.testing.assert_allclose(np.asarray(matrix.sum(axis=1)).ravel(), 1.0, rtol=1e-5)


def test_out_of_the_box_needs_features(data):
    with pytest.raises(ValueError, match="features=True"):
        fit_lightfm(data, 0, False, out_of_the_box=True)


def test_sasrec_windows_by_hand():
    users = [readers.UserHistory("u", ["a", "b", "c", "d", "e"], [1, 2, 3, 4, 5], [0, 0, 0, 0, 1])]
    fake = SimpleNamespace(histories=users, index={k: i for i, k in enumerate("abcde")})
    inputs, targets = training_windows(fake, length=2)
    # Train items a b c d -> indices 1..4; windows from the recent end, left-padded with 0.
    assert inputs.tolist() == [[2, 3], [0, 1]]
    assert targets.tolist() == [[3, 4], [0, 2]]


@pytest.mark.parametrize(
    "fit, cold",
    [
        (lambda d: __import__("bench.peers.implicit_mf", fromlist=["x"]).fit_als(d, 0), False),
        (lambda d: fit_lightfm(d, 0, False, LightFMConfig(components=8, max_epochs=2)), False),
        (lambda d: fit_lightfm(d, 0, True, LightFMConfig(components=8, max_epochs=2)), True),
        (lambda d: fit_lightfm(d, 0, True, LightFMConfig(components=8, max_epochs=2), out_of_the_box=True), True),
        (lambda d: fit_sasrec(d, 0, SASRecConfig(dim=16, max_epochs=2, batch_size=64)), False),
        (lambda d: __import__("bench.peers.tfrs_basic", fromlist=["x"]).fit_tfrs_basic(d, 0, epochs=2), False),
        (lambda d: __import__("bench.peers.tfrs_basic", fromlist=["x"]).fit_tfrs_basic(d, 0, epochs=2, logq=True, batch_size=64), False),
    ],
    ids=["als", "lightfm", "lightfm_features", "lightfm_features_dataset", "sasrec", "tfrs_basic", "tfrs_basic_logq"],
)
def test_peer_scores_every_catalogue_item(data, fit, cold):
    scorer = fit(data)
    ids, hist, _, _ = data.warm_task(contract.SPLIT_TEST)
    scores = scorer.score(ids[:5], hist[:5])
    assert scores.shape == (5, len(data.catalogue)) and np.isfinite(scores).all()
    metrics = evaluate_scorer(scorer, data, [10])
    assert 0.0 <= metrics["warm"]["recall@10"] <= 1.0
    assert scorer.scores_cold is cold and metrics["cold"].get("random", False) is not cold


def test_the_tutorial_model_at_a_temperature_scores_by_cosine(data):
    from bench.peers.tfrs_basic import fit_tfrs_basic

    ids, hist, _, _ = data.warm_task(contract.SPLIT_TEST)
    cosine = fit_tfrs_basic(data, 0, epochs=1, logq=True, temperature=0.1, batch_size=64).score(ids[:5], hist[:5])
    dot = fit_tfrs_basic(data, 0, epochs=1, batch_size=64).score(ids[:5], hist[:5])
    assert np.abs(cosine).max() <= 1.0 + 1e-5
    # Unnormalised 32-d embeddings trained at rate 0.1 score far outside [-1, 1].
    assert np.abs(dot).max() > 1.0
