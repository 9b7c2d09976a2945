"""The id-only two-tower of the TFRS basic retrieval tutorial.

As in https://www.tensorflow.org/recommenders/examples/basic_retrieval: a user id
embedding and an item id embedding (32-d, ``StringLookup`` + ``Embedding``), the
``tfrs.tasks.Retrieval`` in-batch softmax, batches of 8192 train interactions;
with Adam for 10 epochs (the reference row), keeping the best epoch on val.
The tutorial's FactorizedTopK metric is left out: it does not change training
and costs a full ranking per batch.

The issue asks why this model barely beats popularity. The options are the usual
cures: the sampling-bias (logQ) correction with accidental-hit removal (a batch of
8192 holds a popular film dozens of times, and the in-batch softmax counts every
other copy as a negative), cosine scores at a temperature, and smaller batches at a
lower rate (the tutorial's batch makes 11 steps an epoch). The peers ``tfrs_basic_*``
in ``registry.py`` add the correction and the batches one at a time (a temperature
added nothing in a scratch run: models/README.md). What remains is the order-aware
history tower, which is braidrec's user tower (bench variant ``id_only``).
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

    def __init__(self, user_ids: list[str], item_ids: list[str], logq: bool = False, temperature: float | None = None):
        super().__init__()
        self.logq = logq
        # A temperature acts on cosine scores: unnormalised dot products have no fixed scale to divide.
        self.normalize = temperature is not None
        self.user_model = keras.Sequential(
            [keras.layers.StringLookup(vocabulary=user_ids, mask_token=None), keras.layers.Embedding(len(user_ids) + 1, EMBEDDING_DIM)]
        )
        self.item_model = keras.Sequential(
            [keras.layers.StringLookup(vocabulary=item_ids, mask_token=None), keras.layers.Embedding(len(item_ids) + 1, EMBEDDING_DIM)]
        )
        self.task = tfrs.tasks.Retrieval(temperature=temperature, remove_accidental_hits=logq)

    def embed(self, tower: keras.Model, ids: tf.Tensor) -> tf.Tensor:
        out = tower(ids)
        return tf.math.l2_normalize(out, axis=-1) if self.normalize else out

    def compute_loss(self, features, training=False):
        users, items = self.embed(self.user_model, features["user_id"]), self.embed(self.item_model, features["item_id"])
        if not self.logq:
            return self.task(users, items)
        # The item's share of the train interactions: its expected count in a batch over the batch size.
        # Hits are found by the item's row (an integer): comparing 8192 x 8192 strings would cost more than the step.
        return self.task(users, items, candidate_sampling_probability=features["share"], candidate_ids=features["item_row"])


def fit_tfrs_basic(data: EvalData, seed: int, epochs: int = EPOCHS, logq: bool = False, temperature: float | None = None,
                   batch_size: int = BATCH_SIZE, learning_rate: float = LEARNING_RATE, name: str = "TFRS id-only two-tower") -> Scorer:
    """Trains the tutorial model on the train interactions; best of ``epochs`` epochs on val.

    Args:
        data: evaluation data of the features directory.
        seed: seeds initialisation and shuffling.
        epochs: training epochs (the reference row: 10).
        logq: correct the in-batch softmax for sampling bias (logQ) and remove accidental hits.
        temperature: score by cosine divided by this (None: the tutorial's dot product).
        batch_size: train interactions per batch (the tutorial's 8192).
        learning_rate: Adam's rate.
        name: the row's label.

    Returns:
        A scorer of warm items (ids only: ``scores_cold`` is False).
    """
    keras.utils.set_random_seed(seed)
    pairs = [(u.user_id, item) for u in data.histories for item in u.of(contract.SPLIT_TRAIN)]
    users = np.array([p[0] for p in pairs])
    items = np.array([p[1] for p in pairs])
    _, inverse, counts = np.unique(items, return_inverse=True, return_counts=True)
    model = TutorialModel(sorted(set(users.tolist())), sorted(set(items.tolist())), logq, temperature)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    share = (counts[inverse] / len(items)).astype(np.float32)
    train = tf.data.Dataset.from_tensor_slices({"user_id": users, "item_id": items, "item_row": inverse, "share": share})
    train = train.shuffle(100_000, seed=seed).batch(batch_size).cache()
    catalogue_ids = tf.constant(data.catalogue.item_ids.astype(str))

    def score(user_ids: np.ndarray, histories: np.ndarray) -> np.ndarray:
        user_emb = model.embed(model.user_model, tf.constant(user_ids.astype(str))).numpy()
        return user_emb @ model.embed(model.item_model, catalogue_ids).numpy().T

    scorer = Scorer(name, score)
    best, best_epoch, best_weights = -1.0, 0, None
    for epoch in range(1, epochs + 1):
        model.fit(train, epochs=1, verbose=0)
        value = val_recall(scorer, data)
        if value > best:
            best, best_epoch, best_weights = value, epoch, model.get_weights()
    model.set_weights(best_weights)
    scorer.info = {"dim": EMBEDDING_DIM, "batch_size": batch_size, "learning_rate": learning_rate, "logq": logq,
                   "temperature": temperature, "best_epoch": best_epoch, "val_recall@10": best}
    return scorer
