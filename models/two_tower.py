"""The TFRS two-tower retrieval model: loss and metrics in a TFRS task, ``compute_loss`` only."""

from __future__ import annotations

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tensorflow_recommenders as tfrs

from braidrec.config import ExtractConfig, ModelConfig, TrainConfig
from braidrec.features import contract
from braidrec.models.towers import ItemTower, UserTower

TARGET_PREFIX = "target_"
SAMPLING_PROBABILITY = "sampling_probability"


class BraidModel(tfrs.Model):
    """User tower x item tower, trained with in-batch softmax.

    Batches are dicts: ``user_id`` [B], ``history`` [B, L], the target item's
    features under ``target_<name>`` and, for the sampling-bias (logQ)
    correction, ``sampling_probability`` [B] (the target's share of training
    interactions).
    """

    def __init__(self, vocab: contract.Vocabularies, model: ModelConfig, extract: ExtractConfig, train: TrainConfig):
        super().__init__()
        self.item_tower = ItemTower(vocab, model, extract, name="item_tower")
        self.user_tower = UserTower(vocab, model, extract.max_history, self.item_tower.id_encoder, name="user_tower")
        self.logq = train.logq_correction
        self.remove_hits = train.remove_accidental_hits
        self.task = tfrs.tasks.Retrieval(
            temperature=train.temperature,
            remove_accidental_hits=train.remove_accidental_hits,
        )

    @staticmethod
    def target_features(batch: dict) -> dict:
        """The target item's features, without the ``target_`` prefix."""
        return {k[len(TARGET_PREFIX):]: v for k, v in batch.items() if k.startswith(TARGET_PREFIX)}

    def compute_loss(self, inputs, training: bool = False) -> tf.Tensor:
        targets = self.target_features(inputs)
        users = self.user_tower(inputs, training=training)
        items = self.item_tower(targets, training=training)
        return self.task(
            users,
            items,
            candidate_sampling_probability=inputs[SAMPLING_PROBABILITY] if self.logq else None,
            candidate_ids=targets[contract.ITEM_ID] if self.remove_hits else None,
            compute_metrics=False,
        )
