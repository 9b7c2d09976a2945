"""The item tower: multimodal features -> per-modality encoders -> masked fusion."""

from __future__ import annotations

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
import tf_keras as keras

from braidrec.config import ExtractConfig, ModelConfig
from braidrec.features import contract
from braidrec.models import encoders
from braidrec.models.content_prior import NUMERIC_BUCKETS, ContentPrior, PriorFit, fit_content_prior, numeric_buckets, token_bags
from braidrec.models.fusion import ModalityFusion


TEXT_TOKENS = "text_tokens"
SCORINGS = ("cosine", "dot")
# The score offset of an item with neither a trained id nor any enabled content: nothing places it (its
# embedding is the output projection's bias, the same for every such item), so it ranks below every item
# that something places, and above the -1e30 of an empty slot.
UNPLACED_OFFSET = -1e4


def split_rows(values: tf.Tensor, count: int | tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(the first ``count`` rows of ``values``, the rest).

    ``tf.split``, not two slices: a slice's gradient is a StridedSliceGrad, which on CPU took 7 of a
    111-ms ml-100k training step (2026-12-02) for the [items, modalities, dim] stack; a split's is a concat.
    """
    return tuple(tf.split(values, tf.stack([count, tf.shape(values)[0] - count]), num=2))


def check_scoring(scoring: str) -> None:
    """Raises ValueError naming ``model.scoring`` unless it is one of :data:`SCORINGS` (both towers check it)."""
    if scoring not in SCORINGS:
        raise ValueError(f"model.scoring '{scoring}' is not one of {SCORINGS}")


class ItemTower(keras.layers.Layer):
    """Item features -> L2-normalised embedding, and per-modality fusion weights.

    With ``model.scoring=dot`` the embedding is not normalised: an item with a
    trained id is its id row, any other its fused content (:meth:`_dot_embedding`).

    Modalities (in this order, see :attr:`modalities`): ``id``, ``text``, ``image``,
    then ``text_pretrained`` (a sentence-encoder vector from extraction),
    ``categorical`` and ``numeric`` when the features have them. A missing
    modality is masked out of the fusion; during training the id is also masked
    at random (``model.id_dropout``) so that the content modalities alone carry
    the signal that cold items (whose id is unknown) need. Those items' content
    is augmented (``model.text_token_dropout``, ``model.image_noise``), so that
    content placing an item alone cannot do it by memorising the item; items
    that keep their id train on clean content. Modalities named in
    ``model.disabled_modalities`` are always masked (ablations). With
    ``model.cold_prior_weight > 0`` a :class:`ContentPrior` scores how popular an
    item without a trained id will be (``prior`` in :meth:`encode_all`). At inference,
    ``model.cold_fusion_temperature`` above 1 softens the attention fusion of such items.

    Args:
        vocab: the extraction job's vocabularies.
        config: the ``model`` section.
        extract: the ``extract`` section.
        temperature: the retrieval temperature, which puts the prior in the towers' score units.

    Raises:
        ValueError: unknown disabled modalities or ``model.scoring``, or augmentation without id dropout.
    """

    def __init__(self, vocab: contract.Vocabularies, config: ModelConfig, extract: ExtractConfig,
                 temperature: float, **kwargs):
        super().__init__(**kwargs)
        check_scoring(config.scoring)
        dim = config.embedding_dim
        self.id_dropout = config.id_dropout
        self.modality_dropout = config.modality_dropout
        self.augments = config.text_token_dropout > 0 or config.image_noise > 0
        if self.augments and self.id_dropout <= 0:
            raise ValueError(
                f"model.id_dropout is {self.id_dropout}, so no item would get the content augmentation "
                f"(model.text_token_dropout {config.text_token_dropout}, model.image_noise {config.image_noise}), "
                "which applies to the items whose id is dropped: set model.id_dropout > 0, or also pass "
                "--model.text_token_dropout 0 --model.image_noise 0")
        self.image_dim = getattr(vocab, "image_dim", contract.IMAGE_DESCRIPTOR_DIM)
        self.text_embedding_dim = getattr(vocab, "text_embedding_dim", 0)
        self.thumbnail_bytes = extract.image_size * extract.image_size * 3
        self.num_numeric = len(vocab.numeric_names)
        self.id_encoder = encoders.IdEncoder(vocab.items, dim, name="id")
        self.text_encoder = encoders.TextEncoder(vocab.text, config.text_embedding_dim, dim, config.text_token_dropout, name="text")
        self.image_encoder = encoders.ImageEncoder(config.image_encoder, dim, extract.image_size, config.image_noise,
                                                   config.image_normalization, self.image_dim, config.image_clip,
                                                   name="image")
        self.modalities = ["id", "text", "image"]
        self.pretrained_text_encoder = self.categorical_encoder = self.numeric_encoder = None
        if self.text_embedding_dim:
            self.pretrained_text_encoder = encoders.VectorEncoder(dim, name="text_pretrained")
            self.modalities.append("text_pretrained")
        if vocab.categorical:
            self.categorical_encoder = encoders.CategoricalEncoder(vocab.categorical, dim, name="categorical")
            self.modalities.append("categorical")
        if vocab.numeric_names:
            self.numeric_encoder = encoders.NumericEncoder(vocab.numeric_mean, vocab.numeric_std, dim, name="numeric")
            self.modalities.append("numeric")
        unknown = set(config.disabled_modalities) - set(self.modalities)
        if unknown:
            raise ValueError(f"model.disabled_modalities names {sorted(unknown)}; this model has {list(self.modalities)}")
        self.enabled = tf.constant([m not in config.disabled_modalities for m in self.modalities])
        self.content_prior = None
        if config.cold_prior_weight != 0:
            sizes = [self.text_encoder.vectorize.vocabulary_size()]
            if self.categorical_encoder is not None:
                sizes.append(self.categorical_encoder.lookup.vocabulary_size())
            if self.numeric_encoder is not None:
                sizes.append(self.num_numeric * NUMERIC_BUCKETS)
            self.content_prior = ContentPrior(sizes, config.cold_prior_weight, temperature, name="prior")
        # Added to the score of every item without a trained id, set after training so that such items
        # take their share of a mixed ranking (models/mixed_ranking.py); 0 until then.
        self.cold_shift = self.add_weight("cold_shift", [], initializer="zeros", trainable=False)
        # The prior reads the same modalities as the fusion: an ablated one says nothing there either.
        self.prior_reads = {m: m not in config.disabled_modalities for m in ("text", "categorical", "numeric")}
        self.dot = config.scoring == "dot"
        if config.cold_fusion_temperature <= 0:
            raise ValueError(f"model.cold_fusion_temperature {config.cold_fusion_temperature} must be > 0 "
                             "(1: cold items fused with the weights as trained)")
        self.cold_fusion_temperature = config.cold_fusion_temperature
        self.fusion = ModalityFusion(config.fusion, name="fusion")
        self.output_projection = keras.layers.Dense(dim, name="output")

    def encode_all(self, features: dict, training: bool = False, fused_rows: int | tf.Tensor | None = None) -> dict:
        """Every intermediate of the item tower.

        Args:
            features: the items' features, [batch, ...] each.
            training: train-time id dropout and augmentation.
            fused_rows: when given, only the first ``fused_rows`` items are fused and projected
                (``embedding``, ``weights``, ``prior``, ``content`` have that many rows); the rest
                get ``modalities`` and ``mask`` only, all the alignment loss reads. The random
                draws still cover every row, so the first rows come out as without it.

        Returns:
            ``embedding`` [batch, dim] (normalised with ``scoring=cosine``), ``weights`` [batch, M] (fusion),
            ``modalities`` [batch, M, dim] (each encoder's output, before fusion),
            ``mask`` [batch, M] (present and enabled; id dropout applied in training),
            ``prior`` [batch] (the score offset of items without a trained id: :class:`ContentPrior`'s
            prior plus ``cold_shift``, and :data:`UNPLACED_OFFSET` for items not ``placed``; 0 for items with a
            trained id, or in training), ``placed`` [batch] (some modality is present: a trained id or
            enabled content), ``has_id`` [batch]
            (the id is in the trained vocabulary; items without one are scored with
            :func:`~braidrec.models.taste_profile.cold_item_queries`), and with ``scoring=dot``
            ``content`` [batch, dim] (the fused content alone, what an item without an id is).
        """
        id_emb, id_present = self.id_encoder(features[contract.ITEM_ID])
        drop = None
        if training and self.augments:  # __init__ refuses augmentation without id_dropout
            # Drawn before the encoders, which augment the items whose id is dropped. Only then:
            # without augmentation the draw stays after them, so configurations without it keep the
            # random stream they had before augmentation existed, and their deterministic bench rows
            # (no_augment_patience4, lr0.002, user_features...) still reproduce.
            drop = tf.random.uniform(tf.shape(id_present)) < self.id_dropout
        tokens = self.text_tokens(features)
        text_emb, text_present = self.text_encoder(tokens, training=training, rows=drop)
        has_text = features[contract.HAS_TEXT] > 0
        image_emb, image_present = self.image_encoder(features, training=training, rows=drop)
        embeddings, masks = [id_emb, text_emb, image_emb], [id_present, text_present & has_text, image_present]
        if self.pretrained_text_encoder is not None:
            vectors = features[contract.TEXT_EMBEDDING]
            embeddings.append(self.pretrained_text_encoder(vectors))
            # An all-zero vector means "not computed" (e.g. a raw query at serving time).
            masks.append(has_text & (tf.reduce_max(tf.abs(vectors), axis=-1) > 0))
        if self.categorical_encoder is not None:
            emb, present = self.categorical_encoder(features[contract.CATEGORICAL])
            embeddings.append(emb)
            masks.append(present)
        if self.numeric_encoder is not None:
            emb, present = self.numeric_encoder(features[contract.NUMERIC], features[contract.NUMERIC_MASK])
            embeddings.append(emb)
            masks.append(present)
        mask = tf.stack(masks, axis=1) & self.enabled[None]
        if training and self.modality_dropout > 0:
            # Each content modality is dropped at random, so no single one (e.g. text that
            # memorises items) carries the embedding alone; at least one stays present.
            kept = mask[:, 1:] & (tf.random.uniform(tf.shape(mask[:, 1:])) >= self.modality_dropout)
            kept = tf.where(tf.reduce_any(kept, axis=1, keepdims=True), kept, mask[:, 1:])
            mask = tf.concat([mask[:, :1], kept], axis=1)
        if training and self.id_dropout > 0:
            has_content = tf.reduce_any(mask[:, 1:], axis=1)
            if drop is None:
                drop = tf.random.uniform(tf.shape(id_present)) < self.id_dropout
            mask = tf.concat([(mask[:, :1] & ~(drop & has_content)[:, None]), mask[:, 1:]], axis=1)
        stacked = tf.stack(embeddings, axis=1)
        fuse_stacked, fuse_mask, fuse_present = stacked, mask, id_present
        if fused_rows is not None:
            fuse_stacked, fuse_mask, fuse_present = split_rows(stacked, fused_rows)[0], mask[:fused_rows], id_present[:fused_rows]
        extra = {}
        placed = tf.reduce_any(fuse_mask, axis=1)
        # Items fused without their id, at inference only (model.cold_fusion_temperature).
        temperature = None
        if not training and self.cold_fusion_temperature != 1.0:
            temperature = tf.where(fuse_mask[:, 0], 1.0, self.cold_fusion_temperature)
        if self.dot:
            embedding, weights, extra["content"] = self._dot_embedding(fuse_stacked, fuse_mask, temperature)
        else:
            fused, weights = self.fusion(fuse_stacked, fuse_mask, temperature=temperature)
            embedding = tf.math.l2_normalize(self.output_projection(fused), axis=-1)
        # The prior is fitted after training and is no part of the loss: training skips it.
        groups = None
        if not training:
            if fused_rows is not None:
                features, tokens = {k: v[:fused_rows] for k, v in features.items()}, tokens[:fused_rows]
            groups = self.prior_inputs(features, tokens)
        prior = tf.zeros(tf.shape(fuse_present), tf.float32) if groups is None else self.content_prior(groups, fuse_present)
        if not training:
            prior += tf.where(fuse_present, 0.0, self.cold_shift)
            prior += tf.where(placed, 0.0, UNPLACED_OFFSET)
        # Keras marks a layer built only in __call__, and this is the tower's entry point: unbuilt,
        # tf.saved_model.save logs that it skips the tower ("not built") on every export.
        self.built = True
        return {"embedding": embedding, "weights": weights, "modalities": stacked, "mask": mask, "prior": prior,
                "has_id": fuse_present, "placed": placed, **extra}

    def _dot_embedding(self, stacked: tf.Tensor, mask: tf.Tensor, temperature: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """``model.scoring=dot``: (embedding, weights, content embedding) of each item.

        An item whose id is used (trained, enabled, not dropped) is its id row,
        the very row the user tower's history reads, so warm items score as in
        SASRec; any other item is its content modalities, fused and projected
        into the same space. The weights say which: one-hot on the id, or the
        content fusion's weights.
        """
        id_used = mask[:, :1]
        content_mask = tf.concat([tf.zeros_like(id_used), mask[:, 1:]], axis=1)
        fused, content_weights = self.fusion(stacked, content_mask, temperature=temperature)
        content = self.output_projection(fused)
        embedding = tf.where(id_used, stacked[:, 0], content)
        only_id = tf.one_hot(tf.zeros(tf.shape(mask)[:1], tf.int32), tf.shape(mask)[1], dtype=content_weights.dtype)
        return embedding, tf.where(id_used, only_id, content_weights), content

    def text_tokens(self, features: dict) -> tf.Tensor:
        """The text's token ids: ``text_tokens`` from :meth:`pretokenize` when given, else tokenised here."""
        tokens = features.get(TEXT_TOKENS)
        return self.text_encoder.tokenize(features[contract.TEXT]) if tokens is None else tokens

    def prior_inputs(self, features: dict, tokens: tf.Tensor | None = None) -> list | None:
        """(ids, valid) groups for :class:`ContentPrior`: text tokens, then categorical tokens and
        numeric buckets when the features have them; None without a prior."""
        if self.content_prior is None:
            return None
        if tokens is None:
            tokens = self.text_tokens(features)
        # 0 is padding and 1 the unknown token, as in the encoders.
        groups = [(tokens, (tokens > 1) & (features[contract.HAS_TEXT] > 0)[:, None] & self.prior_reads["text"])]
        if self.categorical_encoder is not None:
            categorical = self.categorical_encoder.lookup(features[contract.CATEGORICAL])
            groups.append((categorical, (categorical > 1) & self.prior_reads["categorical"]))
        if self.numeric_encoder is not None:
            ids, valid = numeric_buckets(features[contract.NUMERIC], features[contract.NUMERIC_MASK],
                                         self.numeric_encoder.mean, self.numeric_encoder.std)
            groups.append((ids, valid & self.prior_reads["numeric"]))
        return groups

    def fit_prior(self, features: dict[str, np.ndarray], counts: np.ndarray, seed: int = 0) -> PriorFit | None:
        """Fits the content prior to the train counts (see :func:`fit_content_prior`).

        Args:
            features: catalogue features (with ``text_tokens`` from :meth:`pretokenize`, or raw text).
            counts: train interactions per catalogue row; rows with none are left out of the fit.
            seed: the cross-fitting folds' seed.

        Returns:
            What the fit chose, or None when the tower has no prior.
        """
        if self.content_prior is None:
            return None
        warm = np.flatnonzero(counts > 0)
        keys = [k for k in (TEXT_TOKENS, contract.TEXT, contract.HAS_TEXT, contract.CATEGORICAL, contract.NUMERIC,
                            contract.NUMERIC_MASK) if k in features]
        groups = self.prior_inputs({k: tf.constant(features[k][warm]) for k in keys})
        bags = token_bags(self.content_prior, [(ids.numpy(), valid.numpy()) for ids, valid in groups])
        return fit_content_prior(self.content_prior, bags, counts[warm], seed)

    def pretokenize(self, features: dict[str, np.ndarray], batch_size: int = 4096) -> dict[str, np.ndarray]:
        """``features`` plus ``text_tokens``: the tower's own tokenisation, done once.

        Training gathers catalogue rows every step; tokenising the strings each
        time costs more than the rest of the item tower. The tokens come from the
        same in-graph layer that serves raw text, so there is no skew.
        """
        texts = features[contract.TEXT]
        tokens = [self.text_encoder.tokenize(tf.constant(texts[i:i + batch_size])).numpy() for i in range(0, len(texts), batch_size)]
        return {**features, TEXT_TOKENS: np.concatenate(tokens).astype(np.int64)}

    def encode(self, features: dict, training: bool = False):
        """Returns (normalised embedding [batch, dim], fusion weights [batch, M], id embedding [batch, dim])."""
        out = self.encode_all(features, training=training)
        return out["embedding"], out["weights"], out["modalities"][:, 0]

    def text_only_features(self, text: tf.Tensor) -> dict:
        """Item features made of ``text`` alone (:func:`~braidrec.features.contract.text_only_item_features`).

        Used for cross-modal search: a text query becomes a point in the same
        space as the catalogue's fused item embeddings.
        """
        return contract.text_only_item_features(text, self.num_numeric, self.image_dim, self.thumbnail_bytes,
                                                self.text_embedding_dim)

    def encode_text(self, text: tf.Tensor) -> tf.Tensor:
        """Normalised embedding [batch, dim] of raw text queries (see :meth:`text_only_features`)."""
        return self.encode(self.text_only_features(text), training=False)[0]

    def call(self, features, training=False):
        return self.encode(features, training=training)[0]
