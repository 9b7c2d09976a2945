"""The TFRS two-tower retrieval model: loss and metrics in TFRS tasks, ``compute_loss`` only."""

from __future__ import annotations

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tensorflow_recommenders as tfrs

from braidrec.config import ExtractConfig, ModelConfig, TrainConfig
from braidrec.features import contract
from braidrec.models.alignment import MASKED_SCORE, id_keys, paired_info_nce
from braidrec.models.fusion import balance_penalty
from braidrec.models.mixed_ranking import check_calibration
from braidrec.models.taste_profile import check_profile_weight
from braidrec.models.towers import ItemTower, split_rows
from braidrec.models.user_tower import UserTower

TARGET_PREFIX = "target_"
NEGATIVE_PREFIX = "negative_"
ALIGNMENT_PREFIX = "alignment_"
SAMPLING_PROBABILITY = "sampling_probability"
NEGATIVE_PROBABILITY = "negative_sampling_probability"
# The alignment items' sampling probability, given when they are also negatives (train.alignment_negatives).
ALIGNMENT_PROBABILITY = "alignment_sampling_probability"
QUERY_POSITION = "query_position"


def alignment_pairs(modalities: list[str], disabled: list[str] = ()) -> list[tuple[int, int]]:
    """Modality pairs the alignment loss pulls together (indices into ``modalities``).

    Image with each text modality, and every content modality with the id
    (behaviour) embedding, so content alone lands where behaviour would put an item.
    Pairs with a disabled modality are left out.
    """
    index = {name: i for i, name in enumerate(modalities) if name not in disabled}
    pairs = [(index[t], index["image"]) for t in ("text", "text_pretrained") if t in index and "image" in index]
    if "id" in index:
        pairs += [(i, index["id"]) for name, i in index.items() if name != "id"]
    return pairs


def check_behaviour_temperature(train: TrainConfig) -> float:
    """The behaviour (content~id) pairs' softmax temperature: its own, or the alignment loss's.

    Args:
        train: the training settings.

    Returns:
        ``train.behaviour_alignment_temperature``, or ``train.alignment_temperature`` when that is 0.

    Raises:
        ValueError: either temperature is negative, or the alignment temperature is 0.
    """
    if train.alignment_temperature <= 0:
        raise ValueError(f"train.alignment_temperature {train.alignment_temperature} must be > 0 (0.05 is the default)")
    if train.behaviour_alignment_temperature < 0:
        raise ValueError(f"train.behaviour_alignment_temperature {train.behaviour_alignment_temperature} must be >= 0 "
                         "(0: the same as train.alignment_temperature)")
    return train.behaviour_alignment_temperature or train.alignment_temperature


class BraidModel(tfrs.Model):
    """User tower x item tower, trained with in-batch softmax plus cross-modal alignment.

    Batches are dicts: ``user_id`` [B], ``history`` [B, L], the target item's
    features under ``target_<name>``, ``sampling_probability`` [B] (for the
    sampling-bias (logQ) correction) and, with ``train.sampled_negatives``,
    extra candidates under ``negative_<name>`` with ``negative_sampling_probability``,
    and with ``train.alignment_items`` the items the alignment loss uses under
    ``alignment_<name>`` (else it aligns the targets); with ``train.alignment_negatives``
    those items are also the in-batch softmax's candidates (of the content loss with
    ``model.scoring=dot``), with ``alignment_sampling_probability``.
    Windowed batches (``train.examples=sequence``) hold histories [W, L] and the
    flattened targets of every position, with ``query_position`` [N] picking
    each target's query from the [W * L] per-position user embeddings.
    """

    def __init__(self, vocab: contract.Vocabularies, model: ModelConfig, extract: ExtractConfig, train: TrainConfig):
        super().__init__()
        self.item_tower = ItemTower(vocab, model, extract, train.temperature, name="item_tower")
        self.user_tower = UserTower(vocab, model, extract.max_history, self.item_tower.id_encoder, name="user_tower")
        check_profile_weight(model.cold_profile_weight)
        check_calibration(model.cold_calibration)
        # Scoring only (models/taste_profile.py): training never sees items without an id as candidates.
        # The dot head's user vector is unnormalised, so a unit-norm profile has no fixed share of it:
        # that head scores every item with the tower's vector.
        self.cold_profile_weight = 0.0 if model.scoring == "dot" else model.cold_profile_weight
        self.logq = train.logq_correction
        self.remove_hits = train.remove_accidental_hits
        pairs = alignment_pairs(self.item_tower.modalities, model.disabled_modalities)
        id_index = self.item_tower.modalities.index("id")
        # Cross-modal pairs (image~text) and behaviour pairs (content~id) are weighted apart:
        # a strong pull towards the id helps cold items but costs warm accuracy. Their temperatures
        # can differ too: a soft image~text pull teaches shared attributes, a sharp content~id pull
        # item identity.
        behaviour_temperature = check_behaviour_temperature(train)
        self.weighted_pairs = [
            (weight, chosen, temperature) for weight, chosen, temperature in (
                (train.alignment_weight, [p for p in pairs if id_index not in p], train.alignment_temperature),
                (train.behaviour_alignment_weight, [p for p in pairs if id_index in p], behaviour_temperature),
            ) if weight > 0 and chosen
        ]
        self.dot = model.scoring == "dot"
        if self.dot and train.sampled_negatives:
            raise ValueError(f"train.sampled_negatives is {train.sampled_negatives}, but model.scoring=dot already "
                             "scores every warm item (full softmax): pass --train.sampled_negatives 0")
        self.alignment_negatives = train.alignment_negatives
        if self.alignment_negatives and train.alignment_items < 1:
            raise ValueError(f"train.alignment_negatives needs items to draw, but train.alignment_items is "
                             f"{train.alignment_items}: pass --train.alignment_items 512, or --train.alignment_negatives false")
        self.temperature = train.temperature
        if train.content_loss_weight < 0:
            raise ValueError(f"train.content_loss_weight {train.content_loss_weight} must be >= 0 (0 turns it off)")
        self.content_weight = train.content_loss_weight
        self.content_trains_users = train.content_loss_trains_users
        self.task = tfrs.tasks.Retrieval(temperature=train.temperature, remove_accidental_hits=train.remove_accidental_hits)
        if train.fusion_balance_weight < 0:
            raise ValueError(f"train.fusion_balance_weight {train.fusion_balance_weight} must be >= 0 (0 turns it off)")
        # sum and concat weigh the present modalities equally, so the term is zero for them.
        self.balance_weight = train.fusion_balance_weight if model.fusion == "attention" else 0.0

    @property
    def reads_alignment_items(self) -> bool:
        """Whether a loss reads the batches' alignment items: the alignment loss, or ``train.alignment_negatives``."""
        return bool(self.weighted_pairs) or self.alignment_negatives

    @staticmethod
    def prefixed(batch: dict, prefix: str) -> dict:
        """The features stored under ``prefix``, with the prefix removed."""
        return {k[len(prefix):]: v for k, v in batch.items()
                if k.startswith(prefix) and k not in (NEGATIVE_PROBABILITY, ALIGNMENT_PROBABILITY)}

    @staticmethod
    def same_window_mask(windows: tf.Tensor, num_candidates: tf.Tensor) -> tf.Tensor:
        """[queries, candidates] score mask hiding a query's other targets of the same window.

        They are items that user chose, so they must not count as negatives;
        extra (sampled) candidates after the in-batch ones are all kept.
        """
        queries = tf.shape(windows)[0]
        other_user = (windows[:, None] != windows[None, :]) | tf.eye(queries, dtype=tf.bool)
        return tf.pad(other_user, [[0, 0], [0, num_candidates - queries]], constant_values=True)

    def compute_loss(self, inputs, training: bool = False) -> tf.Tensor:
        targets = self.prefixed(inputs, TARGET_PREFIX)
        windows = None
        if QUERY_POSITION in inputs:
            per_position = self.user_tower.sequence_embeddings(inputs, training=training)
            flat = tf.reshape(per_position, [-1, tf.shape(per_position)[-1]])
            users = tf.gather(flat, inputs[QUERY_POSITION])
            windows = inputs[QUERY_POSITION] // tf.cast(tf.shape(per_position)[1], tf.int64)
        else:
            users = self.user_tower(inputs, training=training)
        aligned = self.prefixed(inputs, ALIGNMENT_PREFIX) if self.reads_alignment_items else {}
        if aligned:
            # One item-tower pass over the targets and the alignment items: half the ops of two.
            count = tf.shape(targets[contract.ITEM_ID])[0]
            # Fusion and projection only where a loss reads them: the balance term reads the alignment items'
            # weights, and the retrieval loss their embeddings when they are negatives.
            fuse_all = self.balance_weight > 0 or self.alignment_negatives
            both = self.item_tower.encode_all({k: tf.concat([v, aligned[k]], 0) for k, v in targets.items()}, training=training,
                                              fused_rows=None if fuse_all else count)
            halves = {k: split_rows(v, count) for k, v in both.items()}
            encoded = {k: head for k, (head, _) in halves.items()}
            encoded_aligned, aligned_ids = {k: tail for k, (_, tail) in halves.items()}, aligned[contract.ITEM_ID]
        else:
            encoded = self.item_tower.encode_all(targets, training=training)
            encoded_aligned, aligned_ids = encoded, targets[contract.ITEM_ID]
        # The in-batch softmax's candidates: the embeddings it scores ("content" for the dot head).
        scored = "content" if self.dot else "embedding"
        extra = None
        if self.alignment_negatives and aligned:
            if ALIGNMENT_PROBABILITY not in inputs:
                raise ValueError("train.alignment_negatives needs the alignment items' sampling probability: "
                                 "build the data with datasets.retrieval_dataset(..., alignment_negatives=True)")
            extra = (encoded_aligned[scored], aligned_ids, inputs[ALIGNMENT_PROBABILITY])
        if self.dot:
            loss = self.full_softmax_loss(users, encoded["embedding"], targets[contract.ITEM_ID])
            if self.content_weight > 0:
                # Content embeddings are never the full softmax's negatives: without this they only learn
                # to please users, not to tell items apart, which is all a cold item has.
                queries = users if self.content_trains_users else tf.stop_gradient(users)
                loss += self.content_weight * self.in_batch_loss(queries, encoded["content"], inputs, windows, training, extra)
        else:
            loss = self.in_batch_loss(users, encoded["embedding"], inputs, windows, training, extra)
        for weight, pairs, temperature in self.weighted_pairs:
            loss += weight * paired_info_nce(
                encoded_aligned["modalities"], encoded_aligned["mask"], aligned_ids, pairs, temperature
            )
        if self.balance_weight > 0:
            # On the alignment items (uniform over warm items, not popularity-skewed) when there
            # are, and content modalities only (the id is column 0): the id's share stays free.
            loss += self.balance_weight * balance_penalty(encoded_aligned["weights"][:, 1:], encoded_aligned["mask"][:, 1:])
        return loss

    def in_batch_loss(self, users: tf.Tensor, candidates: tf.Tensor, inputs: dict, windows, training: bool,
                      extra: tuple[tf.Tensor, tf.Tensor, tf.Tensor] | None = None) -> tf.Tensor:
        """The TFRS retrieval task over the batch's targets (plus sampled negatives), with logQ and hit removal.

        ``extra`` is (embeddings, ids, sampling probabilities) of more candidates already encoded:
        the alignment items with ``train.alignment_negatives``.
        """
        ids, probability = inputs[TARGET_PREFIX + contract.ITEM_ID], inputs[SAMPLING_PROBABILITY]
        extras = [] if extra is None else [extra]
        negatives = self.prefixed(inputs, NEGATIVE_PREFIX)
        if negatives:
            encoded = self.item_tower.encode_all(negatives, training=training)["embedding"]
            extras.append((encoded, negatives[contract.ITEM_ID], inputs[NEGATIVE_PROBABILITY]))
        for embeddings, extra_ids, extra_probability in extras:
            candidates = tf.concat([candidates, embeddings], axis=0)
            ids = tf.concat([ids, extra_ids], axis=0)
            probability = tf.concat([probability, extra_probability], axis=0)
        return self.task(
            users,
            candidates,
            candidate_sampling_probability=probability if self.logq else None,
            candidate_ids=id_keys(ids) if self.remove_hits else None,
            compute_metrics=False,
            score_mask=None if windows is None else self.same_window_mask(windows, tf.shape(candidates)[0]),
        )

    def full_softmax_loss(self, users: tf.Tensor, targets: tf.Tensor, target_ids: tf.Tensor) -> tf.Tensor:
        """``model.scoring=dot``: softmax cross-entropy over every warm item, summed over the queries.

        The candidates are the id embedding's rows (every item with a trained id;
        row 0, the out-of-vocabulary one, is masked), as SASRec trains. A
        target's own logit is scored against its tower embedding, which is its
        id row unless id dropout replaced it by its content: content then has to
        win against every warm item's id, as a cold item must when served. No
        sampling-bias correction is needed, nothing being sampled.

        Args:
            users: float [N, dim], each target's query.
            targets: float [N, dim], the targets' item-tower embeddings.
            target_ids: string [N], the targets' ids (all with a trained id).

        Returns:
            Scalar loss.
        """
        id_encoder = self.item_tower.id_encoder
        table = id_encoder.embedding.embeddings
        logits = tf.matmul(users, table, transpose_b=True)
        labels = id_encoder.lookup(target_ids)
        own = tf.one_hot(labels, tf.shape(table)[0], on_value=True, off_value=False)
        logits = tf.where(own, tf.reduce_sum(users * targets, axis=-1, keepdims=True), logits)
        logits = tf.concat([tf.fill([tf.shape(logits)[0], 1], MASKED_SCORE), logits[:, 1:]], axis=1)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits / self.temperature)
        return tf.reduce_sum(losses)
