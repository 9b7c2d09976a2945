"""The servable: a ``tf.Module`` whose signatures TF Serving calls.

Item embeddings of the whole catalogue (cold items included) and each item's
modality fusion weights are precomputed and stored as variables; the user
tower (and, for ``search_text``, the item tower's text path) run in the graph,
so the export holds the same preprocessing as training. Items without a trained
id are scored against the user's query for them (the tower's vector blended
with the taste profile of every item the user has: :mod:`braidrec.models.taste_profile`),
as evaluation scores them. Only core TensorFlow
ops are used, so stock TF Serving can load it.

Unknown ids never fail a call: an unknown user is served from the tower's
default (history-free) vector, unknown history items are ignored by the user
tower, unknown ``embed_items`` ids return a zero vector with ``found`` false,
and unknown candidates are dropped.
"""

from __future__ import annotations

import dataclasses

import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from braidrec.features import contract
from braidrec.models.score_parts import ItemParts
from braidrec.models.taste_profile import check_profile_weight, cold_item_queries, score_moments, taste_profiles
from braidrec.serving.explain import PROFILE_INPUTS, ExplainSignatures
from braidrec.serving.index import NEG_INF, BruteForceIndex, item_flags, mask_known

USER_ID = "user_id"


@dataclasses.dataclass
class ServingData:
    """What the servable stores besides the towers.

    Attributes:
        item_ids: [items] catalogue ids, the row order of ``item_embeddings``.
        item_embeddings: float32 [items, dim], L2-normalised.
        item_weights: float32 [items, M] modality fusion weights.
        modalities: the M modality names, column order of ``item_weights``.
        user_ids: [users] users known at export.
        user_histories: [users, L] each known user's most recent items, left-padded with ''.
        known_items: int32 [users, K] catalogue rows each user already has, padded with -1.
        user_profiles: each known user's profile (``models.datasets.user_profiles``), empty
            when the user tower reads none.
        item_offsets: float32 [items] added to a user's dot product with each item (the content
            prior and the mixed-ranking calibration shift of items without a trained id); None: zeros.
        item_has_id: bool [items], the item has a trained id; None: all have.
        cold_profile_weight: ``model.cold_profile_weight`` (0: the tower's vector scores every item).
        item_parts: each item's embedding split by modality (:func:`braidrec.models.score_parts.modality_parts`);
            None: the export has no ``explain`` signature.
    """

    item_ids: np.ndarray
    item_embeddings: np.ndarray
    item_weights: np.ndarray
    modalities: list[str]
    user_ids: np.ndarray
    user_histories: np.ndarray
    known_items: np.ndarray
    user_profiles: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    item_offsets: np.ndarray | None = None
    item_has_id: np.ndarray | None = None
    cold_profile_weight: float = 0.0
    item_parts: ItemParts | None = None


def _strings(values) -> np.ndarray:
    return np.asarray(values, dtype=object).astype(str)


def _table(keys: np.ndarray) -> tf.lookup.StaticHashTable:
    init = tf.lookup.KeyValueTensorInitializer(tf.constant(_strings(keys)), tf.range(len(keys), dtype=tf.int32))
    return tf.lookup.StaticHashTable(init, default_value=-1)


class RetrievalModule(ExplainSignatures, tf.Module):
    """Top-k retrieval, text search and embeddings over a fixed catalogue.

    Args:
        user_tower: called on ``{"user_id": [B], "history": [B, L]}`` -> [B, dim].
        data: the catalogue and known users (:class:`ServingData`).
        k: items per answer of the fixed-k signatures (capped at the catalogue size).
        index: a :class:`BruteForceIndex` (default) or a ``PartitionedIndex`` over ``data.item_embeddings``.
        item_tower: the item tower, for its ``encode_text`` (raw text [B] -> [B, dim]
            in item space); without it the export has no ``search_text``.
    """

    def __init__(self, user_tower, data: ServingData, k: int, index=None, item_tower=None):
        super().__init__(name="braidrec")
        self.user_tower = user_tower
        # Tracked as an attribute so the text path's lookup tables and weights are saved with it.
        self.item_tower = item_tower
        # Only defined with a text path: saving traces every tf.function attribute of the module.
        self.search_text = self.recommend_profile = self.explain = self.explain_history = self.explain_profile = None
        if item_tower is not None:
            self.search_text = tf.function(self._search_text, input_signature=[tf.TensorSpec([None], tf.string, name="query")])
        self.profiles = {
            name: tf.Variable(_strings(values) if values.dtype.kind in "OU" else values.astype(np.float32), trainable=False, name=name)
            for name, values in data.user_profiles.items()
        }
        if self.profiles:
            self.recommend_profile = tf.function(self._recommend_profile, input_signature=PROFILE_INPUTS)
        self.modalities = list(data.modalities)
        self.k = min(int(k), len(data.item_ids))
        self.index = index if index is not None else BruteForceIndex(data.item_embeddings, data.item_offsets, data.item_has_id)
        check_profile_weight(data.cold_profile_weight)
        self.cold_profile_weight = float(data.cold_profile_weight)
        has_id = item_flags(data.item_has_id, len(data.item_ids))
        self.score_moments = score_moments(data.item_embeddings, has_id)
        # Without items lacking an id, or at weight 0, the cold query is the user's vector: skip the profile.
        self.uses_profile = self.cold_profile_weight > 0 and not has_id.all()
        self.item_ids = tf.Variable(_strings(data.item_ids), trainable=False, name="item_ids")
        self.item_weights = tf.Variable(np.asarray(data.item_weights, np.float32), trainable=False, name="item_weights")
        self.user_ids = tf.Variable(_strings(data.user_ids), trainable=False, name="user_ids")
        self.user_histories = tf.Variable(_strings(data.user_histories), trainable=False, name="user_histories")
        self.known_items = tf.Variable(np.asarray(data.known_items, np.int32), trainable=False, name="known_items")
        self.user_table = _table(data.user_ids)
        self.item_table = _table(data.item_ids)
        if data.item_parts is not None:
            self.init_explain(data.item_parts)

    def signatures(self) -> dict:
        """Signature name -> concrete function, as ``tf.saved_model.save`` takes them."""
        out = {
            "serving_default": self.serve,
            "recommend_history": self.recommend_history,
            "recommend_candidates": self.recommend_candidates,
            "embed_items": self.embed_items,
            "embed_users": self.embed_users,
        }
        if self.item_tower is not None:
            out["search_text"] = self.search_text
        if self.profiles:
            out["recommend_profile"] = self.recommend_profile
        if self.explain is not None:
            out.update(explain=self.explain, explain_history=self.explain_history)
        if self.explain_profile is not None:
            out["explain_profile"] = self.explain_profile
        return out

    def _cold_queries(self, users: tf.Tensor, known: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(queries [B, dim], bias [B]) for items without a trained id, from the users' vectors and known rows [B, K]."""
        if not self.uses_profile:
            return users, tf.zeros(tf.shape(users)[:1])
        profiles = taste_profiles(known, self.index.embeddings_of)
        return cold_item_queries(users, profiles, self.cold_profile_weight, self.score_moments)

    def _top_k(self, users: tf.Tensor, known: tf.Tensor) -> dict:
        """The answer of a recommending signature: top-k of ``users``, ``known`` rows excluded."""
        cold_queries, cold_bias = self._cold_queries(users, known) if self.uses_profile else (None, None)
        return self._answer(*self.index.top_k(users, known, self.k, cold_queries=cold_queries, cold_bias=cold_bias))

    def _users(self, user_id: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(embeddings [B, dim], known rows [B, K]) of user ids; unknown users get the default vector."""
        rows = self.user_table.lookup(user_id)
        known_user = rows >= 0
        safe = tf.maximum(rows, 0)
        history = tf.where(known_user[:, None], tf.gather(self.user_histories, safe), tf.constant(contract.PAD))
        inputs = {USER_ID: user_id, "history": history}
        for name, table in self.profiles.items():
            # An unknown user has no stored profile: '' tokens and zero masks read as absent.
            inputs[name] = tf.where(known_user[:, None], tf.gather(table, safe), tf.zeros_like(table[:1]))
        users = self.user_tower(inputs, training=False)
        known = tf.where(known_user[:, None], tf.gather(self.known_items, safe), -1)
        return users, known

    def _answer(self, rows: tf.Tensor, scores: tf.Tensor) -> dict:
        """Ids for rows; slots with no eligible item (all candidates known or probed cells
        exhausted) are '' with score ``NEG_INF`` rather than an excluded item."""
        valid = (rows >= 0) & (scores > NEG_INF / 2)
        ids = tf.where(valid, tf.gather(self.item_ids, tf.maximum(rows, 0)), tf.constant(contract.PAD))
        return {"item_ids": ids, "scores": scores}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=USER_ID)])
    def serve(self, user_id):
        """``serving_default``: user ids [B] -> top-k ``item_ids`` [B, k] and ``scores``, known items excluded."""
        users, known = self._users(user_id)
        return self._top_k(users, known)

    def _history_users(self, history: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(embeddings [B, dim], known rows [B, L + 1]) of users unseen in training, from histories [B, L]."""
        batch = tf.shape(history)[0]
        users = self.user_tower({USER_ID: tf.fill([batch], contract.PAD), "history": history}, training=False)
        # One -1 column keeps ``known`` non-empty when L is 0.
        return users, tf.concat([self.item_table.lookup(history), tf.fill([batch, 1], -1)], axis=1)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="history")])
    def recommend_history(self, history):
        """Users unseen in training: histories [B, L] (most recent last, '' padding) -> top-k, history excluded."""
        return self._top_k(*self._history_users(history))

    def _profile_users(self, history, user_categorical, user_numeric, user_numeric_mask) -> tuple[tf.Tensor, tf.Tensor]:
        """(embeddings [B, dim], known rows) of users unseen in training, from histories [B, L] and profiles."""
        batch = tf.shape(history)[0]
        users = self.user_tower({
            USER_ID: tf.fill([batch], contract.PAD), "history": history, contract.USER_CATEGORICAL: user_categorical,
            contract.USER_NUMERIC: user_numeric, contract.USER_NUMERIC_MASK: user_numeric_mask,
        }, training=False)
        return users, tf.concat([self.item_table.lookup(history), tf.fill([batch, 1], -1)], axis=1)

    def _recommend_profile(self, history, user_categorical, user_numeric, user_numeric_mask):
        """Users unseen in training with a profile: history [B, L], the users table's ``column=value``
        tokens [B, T] ('' padding) and numeric values and presence [B, K] -> top-k, history excluded."""
        return self._top_k(*self._profile_users(history, user_categorical, user_numeric, user_numeric_mask))

    def _search_text(self, query):
        """Cross-modal search: text queries [B] -> the ``item_ids`` whose fused embeddings best match."""
        queries = self.item_tower.encode_text(query)
        none_known = tf.fill([tf.shape(query)[0], 1], -1)
        # A text query matches content; the popularity prior has no say in it.
        return self._answer(*self.index.top_k(queries, none_known, self.k, with_offsets=False))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="item_id")])
    def embed_items(self, item_id):
        """Item ids [B] -> ``embeddings`` [B, dim], ``modality_weights`` [B, M], ``score_offsets`` [B],
        ``has_id`` [B] and ``found`` [B] (unknown: zeros). A user's score is ``embed_users``'
        ``embeddings @ embedding + score_offset`` where ``has_id``, else ``cold_item_queries @
        embedding + cold_item_bias + score_offset``."""
        rows = self.item_table.lookup(item_id)
        found = rows >= 0
        safe = tf.maximum(rows, 0)
        scale = tf.cast(found, tf.float32)[:, None]
        return {
            "embeddings": self.index.embeddings_of(safe) * scale,
            "modality_weights": tf.gather(self.item_weights, safe) * scale,
            "score_offsets": self.index.offsets_of(safe) * scale[:, 0],
            "has_id": self.index.has_id_of(safe) & found,
            "found": found,
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=USER_ID)])
    def embed_users(self, user_id):
        """User ids [B] -> ``embeddings`` [B, dim], the query and bias for items without a trained id
        (``cold_item_queries`` [B, dim], ``cold_item_bias`` [B]), and ``known`` [B] (unknown users: the
        default vector, no bias)."""
        users, known = self._users(user_id)
        cold_queries, cold_bias = self._cold_queries(users, known)
        return {"embeddings": users, "cold_item_queries": cold_queries, "cold_item_bias": cold_bias,
                "known": self.user_table.lookup(user_id) >= 0}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name=USER_ID),
            tf.TensorSpec([None], tf.string, name="candidates"),
            tf.TensorSpec([], tf.int32, name="k"),
        ]
    )
    def recommend_candidates(self, user_id, candidates, k):
        """Top-``k`` among ``candidates`` (ids not in the catalogue are ignored), known items excluded."""
        rows = self.item_table.lookup(candidates)
        rows, _ = tf.unique(tf.boolean_mask(rows, rows >= 0))
        users, known = self._users(user_id)
        embeddings = self.index.embeddings_of(rows)
        cold_queries, cold_bias = self._cold_queries(users, known)
        scores = tf.where(self.index.has_id_of(rows)[None], tf.matmul(users, embeddings, transpose_b=True),
                          tf.matmul(cold_queries, embeddings, transpose_b=True) + cold_bias[:, None])
        scores += self.index.offsets_of(rows)[None]
        scores = mask_known(tf.broadcast_to(rows[None], tf.shape(scores)), scores, known)
        top = tf.math.top_k(scores, k=tf.minimum(tf.maximum(k, 0), tf.shape(rows)[0]))
        return {"item_ids": tf.gather(self.item_ids, tf.gather(rows, top.indices)), "scores": top.values}

    @tf.function(input_signature=[])
    def all_user_ids(self):
        """Every user known at export time (for batch recommendation)."""
        return self.user_ids.read_value()

    @tf.function(input_signature=[])
    def modality_names(self):
        """The modalities, in the order of ``embed_items``' weights and ``explain``'s contributions."""
        return tf.constant(self.modalities)

    @tf.function(input_signature=[])
    def all_item_ids(self):
        """The catalogue's item ids, in row order."""
        return self.item_ids.read_value()
