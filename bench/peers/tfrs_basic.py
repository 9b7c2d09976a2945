"""The id-only two-tower of the TFRS basic retrieval tutorial.

As in https://www.tensorflow.org/recommenders/examples/basic_retrieval: a user id
embedding and an item id embedding (32-d, ``StringLookup`` + ``Embedding``), the
``tfrs.tasks.Retrieval`` in-batch softmax, batches of 8192 train interactions;
with Adam for 10 epochs (the reference row), keeping the best epoch on val.
The tutorial's FactorizedTopK metric is left out: it does not change training
and costs a full ranking per batch.
"""

from __future__ import annotations

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tensorflow_recommenders as tfrs
import tf_keras as keras

from bench.peers.base import Scorer, val_recall
from braidrec.features import contract
from braidrec.models.evaluate import EvalData

EMBEDDING_DIM = 32
BATCH_SIZE = 8192
EPOCHS = 10
LEARNING_RATE = 0.1


class TutorialModel(tfrs.Model):
    """``MovielensModel`` of the tutorial: two id towers and the retrieval task."""

    def __init__(self, user_ids: list[str], item_ids: list[str]):
        super().__init__()
        self.user_model = keras.Sequential(
            [keras.layers.StringLookup(vocabulary=user_ids, mask_token=None), keras.layers.Embedding(len(user_ids) + 1, EMBEDDING_DIM)]
        )
        self.item_model = keras.Sequential(
            [keras.layers.StringLookup(vocabulary=item_ids, mask_token=None), keras.layers.Embedding(len(item_ids) + 1, EMBEDDING_DIM)]
        )
        self.task = tfrs.tasks.Retrieval()

    def compute_loss(self, features, training=False):
        return self.task(self.user_model(features["user_id"]), self.item_model(features["item_id"]))


def fit_tfrs_basic(data: EvalData, seed: int, epochs: int = EPOCHS) -> Scorer:
    """Trains the tutorial model on the train interactions; best of ``epochs`` epochs on val.

    Args:
        data: evaluation data of the features directory.
        seed: seeds initialisation and shuffling.
        epochs: training epochs (the reference row: 10).

    Returns:
        A scorer of warm items (ids only: ``scores_cold`` is False).
    """
    keras.utils.set_random_seed(seed)
    pairs = [(u.user_id, item) for u in data.histories for item in u.of(contract.SPLIT_TRAIN)]
    users = np.array([p[0] for p in pairs])
    items = np.array([p[1] for p in pairs])
    model = TutorialModel(sorted(set(users.tolist())), sorted(set(items.tolist())))
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    train = tf.data.Dataset.from_tensor_slices({"user_id": users, "item_id": items})
    train = train.shuffle(100_000, seed=seed).batch(BATCH_SIZE).cache()
    catalogue_ids = tf.constant(data.catalogue.item_ids.astype(str))

    def score(user_ids: np.ndarray, histories: np.ndarray) -> np.ndarray:
        user_emb = model.user_model(tf.constant(user_ids.astype(str))).numpy()
        return user_emb @ model.item_model(catalogue_ids).numpy().T

    scorer = Scorer("TFRS id-only two-tower", score)
    best, best_epoch, best_weights = -1.0, 0, None
    for epoch in range(1, epochs + 1):
        model.fit(train, epochs=1, verbose=0)
        value = val_recall(scorer, data)
        if value > best:
            best, best_epoch, best_weights = value, epoch, model.get_weights()
    model.set_weights(best_weights)
    scorer.info = {"dim": EMBEDDING_DIM, "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE, "best_epoch": best_epoch, "val_recall@10": best}
    return scorer
