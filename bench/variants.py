"""braidrec's ablation variants: one trained and evaluated model per (variant, seed).

Each variant is a set of ``section.field`` overrides of the default
:class:`~braidrec.config.RunConfig`, the same names as the ``braid`` flags.
A variant whose field does not exist in this checkout is reported as skipped.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from braidrec.config_loader import config_with, unknown_fields

# The default before session 42 (2026-12-04): each epoch judged by its own validation metric. Every row
# measured before keeps this override, so that it still reproduces.
_WINDOW1: dict[str, object] = {"train.selection_window": 1}
# The default before session 30 (2026-12-03): 256 alignment items, not negatives. Every row measured
# before keeps these overrides, so that it still reproduces.
_ALIGNMENT_ONLY: dict[str, object] = {**_WINDOW1, "train.alignment_negatives": False, "train.alignment_items": 256}
# The default before session 24 (2026-12-02): items without a trained id scored with the user tower's
# vector alone. Every row measured before the taste profile keeps this override, so that it still reproduces.
_TOWER_QUERY: dict[str, object] = {**_ALIGNMENT_ONLY, "model.cold_profile_weight": 0.0}
# The default before 2026-12-02 (session 23): the in-batch softmax at temperature 0.05, learning rate
# 0.001, 64-d embeddings. Every row measured on it keeps these overrides, so that it still reproduces.
_DIM64: dict[str, object] = {
    **_TOWER_QUERY, "train.temperature": 0.05, "train.learning_rate": 0.001, "model.embedding_dim": 64}
# The default before 9f50ec7 (2026-12-01): besides, the best epoch chosen by validation Recall@10, 512
# alignment items, and any rise of it counting as a gain (train.min_delta 0, the default before 78dfb9f).
_RECALL10_512: dict[str, object] = {
    **_DIM64, "train.selection_metric": "recall@10", "train.alignment_items": 512, "train.min_delta": 0.0}
# The default before 12201b9: besides, no content augmentation and patience 4.
_NO_AUGMENT_PATIENCE4: dict[str, object] = {
    **_RECALL10_512, "model.text_token_dropout": 0.0, "model.image_noise": 0.0, "train.patience": 4}

# The ablations of the default: fusion, the alignment loss, each content modality, the cold prior,
# the taste profile.
_ABLATIONS: dict[str, dict[str, object]] = {
    "sum": {"model.fusion": "sum"},
    "concat": {"model.fusion": "concat"},
    "no_alignment": {"train.alignment_weight": 0.0, "train.behaviour_alignment_weight": 0.0},
    "no_image": {"model.disabled_modalities": ["image"]},
    "no_text": {"model.disabled_modalities": ["text"]},
    # Without the content popularity prior of items without a trained id (models/content_prior.py).
    "no_cold_prior": {"model.cold_prior_weight": 0.0},
    # Items without a trained id scored with the user tower's vector alone (models/taste_profile.py).
    "no_taste_profile": {"model.cold_profile_weight": 0.0},
}

# The image descriptor standardised per feature with the training items' statistics, clipped at 5 spreads.
_IMAGE_CATALOGUE_CLIP5: dict[str, object] = {**_WINDOW1, "model.image_normalization": "catalogue", "model.image_clip": 5.0}
# configs/colour_images.yaml (tests/test_config_loader.py keeps the file equal to the variant), at the
# default's selection window since session 42; before, at window 1 (_COLOUR_IMAGES_WINDOW1).
_COLOUR_IMAGES: dict[str, object] = {**_IMAGE_CATALOGUE_CLIP5, "extract.image_encoder": "descriptor_quantiles",
                                     "train.alignment_temperature": 0.2, "model.image_noise": 1.0,
                                     "train.selection_window": 3}
_COLOUR_IMAGES_WINDOW1: dict[str, object] = {**_COLOUR_IMAGES, **_WINDOW1}

# name -> overrides; "attention" is the default configuration (the product).
VARIANTS: dict[str, dict[str, object]] = {
    "attention": {"model.fusion": "attention"},
    **_ABLATIONS,
    # The default before session 42 (each epoch judged alone) and its ablations (<name>_window1); their rows
    # were named attention, sum, ... until then, and the default's were named selection_window3, sum_window3, ...
    "window1": dict(_WINDOW1),
    **{f"{name}_window1": {**_WINDOW1, **overrides} for name, overrides in _ABLATIONS.items()},
    # Ids alone (no content modality): the TFRS tutorial's id-only two-tower with braidrec's order-aware
    # history tower and losses, the last of the cures bench/peers/tfrs_basic.py lists (ml100k; session 34).
    "id_only": {**_WINDOW1, "model.disabled_modalities": ["text", "image", "categorical", "numeric"]},
    # The default before session 30 (in-batch negatives only, 256 alignment items) and its ablations
    # (<name>_inbatch); their rows were named attention, sum, ... until then.
    "inbatch": dict(_ALIGNMENT_ONLY),
    **{f"{name}_inbatch": {**_ALIGNMENT_ONLY, **overrides} for name, overrides in _ABLATIONS.items()},
    # The default before session 23 (temperature 0.05, rate 0.001, 64-d) and its ablations (<name>_dim64).
    "dim64": dict(_DIM64),
    **{f"{name}_dim64": {**_DIM64, **overrides} for name, overrides in _ABLATIONS.items() if name != "no_taste_profile"},
    # Options measured on that default.
    # Any rise of the selection metric counts as a gain (its default before 78dfb9f).
    "min_delta0": {**_DIM64, "train.min_delta": 0.0},
    # The in-batch softmax at temperature 0.1 alone, at rate 0.001 and 64-d.
    "temperature0.1": {**_DIM64, "train.temperature": 0.1},
    # The default before that: the best epoch by validation Recall@10, 512 alignment items,
    # and its ablations (<name>_recall10).
    "select_recall10": dict(_RECALL10_512),
    **{f"{name}_recall10": {**_RECALL10_512, **overrides} for name, overrides in _ABLATIONS.items() if name != "no_taste_profile"},
    # Recall@10 selection with 256 alignment items: what the alignment items alone change.
    "alignment256": {**_RECALL10_512, "train.alignment_items": 256},
    # Recall@50 selection with 512 alignment items: what the selection alone changes.
    "select_recall50_512": {**_RECALL10_512, "train.selection_metric": "recall@50"},
    # Options measured on that default (Recall@10 selection, 512 alignment items).
    # Without the content augmentation of id-dropped items (text tokens dropped, image noise).
    "no_augment": {**_RECALL10_512, "model.text_token_dropout": 0.0, "model.image_noise": 0.0},
    # Attention fusion kept from ignoring a modality (train.fusion_balance_weight; off by default).
    "fusion_balance": {**_RECALL10_512, "train.fusion_balance_weight": 0.1},
    # The default before 12201b9, and the options measured against it.
    "no_augment_patience4": dict(_NO_AUGMENT_PATIENCE4),
    "augment_patience4": {**_RECALL10_512, "train.patience": 4},
    # Learning rate 0.002 without the weight average (the default before 2026-11-30), and with it.
    "lr0.002": {**_NO_AUGMENT_PATIENCE4, "train.learning_rate": 0.002, "train.weight_ema_epochs": 0.0},
    "weight_ema": {**_NO_AUGMENT_PATIENCE4, "train.learning_rate": 0.002, "train.weight_ema_epochs": 1.2},
    # The user tower with the users table's profile (off by default).
    "user_features": {**_NO_AUGMENT_PATIENCE4, "model.user_features": True},
    # SASRec's head (model.scoring=dot) with SASRec's settings: 2 pre-norm blocks, 1 head, dropout 0.2,
    # last position, full softmax at temperature 1, Adam beta2 0.98, no weight average, patience 10.
    "sasrec_head": {
        **_RECALL10_512,
        "model.scoring": "dot", "model.history_norm": "pre", "model.history_blocks": 2, "model.history_heads": 1,
        "model.dropout": 0.2, "model.history_pooling": "last", "train.temperature": 1.0, "train.adam_beta2": 0.98,
        "train.weight_ema_epochs": 0.0, "train.epochs": 80, "train.patience": 10,
    },
    # Softer cross-modal alignment (the default 0.05): does it generalise to items the loss never saw?
    "alignment_temperature0.1": {**_ALIGNMENT_ONLY, "train.alignment_temperature": 0.1},
    "alignment_temperature0.2": {**_ALIGNMENT_ONLY, "train.alignment_temperature": 0.2},
    # The built-in descriptor with colour quantiles (extract.image_encoder descriptor_quantiles).
    "descriptor_quantiles": {**_ALIGNMENT_ONLY, "extract.image_encoder": "descriptor_quantiles"},
    "descriptor_quantiles_alignment_temperature0.2": {**_ALIGNMENT_ONLY, "extract.image_encoder": "descriptor_quantiles",
                                                       "train.alignment_temperature": 0.2},
    # Two causal self-attention blocks in the user tower, as SASRec has (the default has one).
    "history_blocks2": {**_ALIGNMENT_ONLY, "model.history_blocks": 2},
    # The weight average kept aside (Polyak averaging, 3-epoch time constant) instead of replacing the
    # weights at each epoch's end (1.2 epochs).
    "weight_average_aside3": {**_ALIGNMENT_ONLY, "train.weight_ema_overwrite": False, "train.weight_ema_epochs": 3.0},
    # Twice the batch (1024 targets): twice the in-batch negatives, half the steps and alignment batches per epoch.
    "batch1024": {**_ALIGNMENT_ONLY, "train.batch_size": 1024},
    # Mixed negative sampling: 512 warm items drawn uniformly per batch beside the in-batch negatives.
    "negatives512": {**_ALIGNMENT_ONLY, "train.sampled_negatives": 512},
    # The alignment items (uniform over warm items) as negatives too: 256 of them, and 512 (the default from
    # session 30, so on the same VM its rows equal window1's to every digit).
    "alignment_negatives": {**_WINDOW1, "train.alignment_negatives": True, "train.alignment_items": 256},
    "alignment_negatives512": {**_WINDOW1, "train.alignment_negatives": True, "train.alignment_items": 512},
    # Items without a trained id fused at attention temperature 2 at inference (model.cold_fusion_temperature):
    # closer to an even mix of their content modalities than training's weights.
    "cold_fusion_temperature2": {**_WINDOW1, "model.cold_fusion_temperature": 2.0},
    # The image descriptor standardised per feature with the training items' statistics
    # (model.image_normalization catalogue) instead of per item.
    "image_catalogue": {**_WINDOW1, "model.image_normalization": "catalogue"},
    # The same with the standardised values clipped to [-5, 5] (model.image_clip), and the default's
    # ablations on it (<name>_image_catalogue_clip5; session 33).
    "image_catalogue_clip5": dict(_IMAGE_CATALOGUE_CLIP5),
    **{f"{name}_image_catalogue_clip5": {**_IMAGE_CATALOGUE_CLIP5, **overrides} for name, overrides in _ABLATIONS.items()},
    "cold_fusion_temperature2_image_catalogue_clip5": {**_IMAGE_CATALOGUE_CLIP5, "model.cold_fusion_temperature": 2.0},
    # The same over the descriptor with colour quantiles (extract.image_encoder descriptor_quantiles).
    "image_catalogue_quantiles": {**_WINDOW1, "model.image_normalization": "catalogue",
                                  "extract.image_encoder": "descriptor_quantiles"},
    # configs/colour_images.yaml (session 39): for catalogues whose pictures' colours carry meaning, the
    # colour quantiles, catalogue standardisation clipped at 5, a softer alignment and more image noise.
    # Its rows made at window 1 (sessions 39-40) are colour_images_window1's; those at window 3 (session 42)
    # were named colour_images_window3.
    "colour_images": dict(_COLOUR_IMAGES),
    "colour_images_window1": dict(_COLOUR_IMAGES_WINDOW1),
    # The window-1 preset with the behaviour (content~id) pairs kept at the default's sharp 0.05 (session 40).
    "colour_images_behaviour0.05": {**_COLOUR_IMAGES_WINDOW1, "train.behaviour_alignment_temperature": 0.05},
    # The pretrained sentence encoder (MiniLM, shipped as a package) as an extra text modality.
    "pretrained_text": {**_NO_AUGMENT_PATIENCE4, "extract.text_encoder": "minilm"},
}
QUICK_VARIANTS = ("attention", "sum", "no_alignment")


def extract_overrides(name: str) -> dict[str, object]:
    """The ``extract.*`` fields of variant ``name`` (without the prefix): they need their own features."""
    return {k.split(".", 1)[1]: v for k, v in VARIANTS[name].items() if k.startswith("extract.")}


def variant_config(name: str, seed: int = 0, op_threads: int | None = None):
    """The :class:`~braidrec.config.RunConfig` of variant ``name`` at ``train.seed = seed``, or None when a
    field of it does not exist in this checkout (the variant is then skipped).

    Args:
        name: a key of :data:`VARIANTS`.
        seed: training seed.
        op_threads: ``train.op_threads`` (the process's count, which a variant cannot change); None: the default's.
    """
    overrides = VARIANTS[name]
    if unknown_fields(overrides):
        return None
    config = config_with(overrides)
    config.train.seed = seed
    config.train.verbose = 0
    if op_threads is not None:
        config.train.op_threads = op_threads
    return config


def refit_base(config, features: Path, bases: list[Path]) -> Path | None:
    """The first of ``bases`` (model directories) whose towers ``config`` would train again.

    That is one trained on the same features with the same ``extract`` and ``train`` sections
    (seed included; ``extract.max_history``, which training takes from the features, and
    ``train.verbose`` aside) and a ``model`` section that differs at most in the post-training
    fields (``models/refit.py``). None when there is none: the variant must train.
    """
    from braidrec.config import ModelConfig
    from braidrec.config_loader import from_dict
    from braidrec.models.checkpoint import MODEL_JSON
    from braidrec.models.refit import towers_differ

    def without(section: dict, *keys: str) -> dict:
        return {k: v for k, v in section.items() if k not in keys}

    extract = without(dataclasses.asdict(config.extract), "max_history")
    train = without(dataclasses.asdict(config.train), "verbose")
    for base in bases:
        meta = json.loads((base / MODEL_JSON).read_text())
        if (Path(meta["features_dir"]) == Path(features).resolve() and without(meta["extract"], "max_history") == extract
                and without(meta["train"], "verbose") == train
                and not towers_differ(from_dict(ModelConfig, meta["model"], str(base / MODEL_JSON)), config.model)):
            return base
    return None


def run_variant(features: Path, out_dir: Path, name: str, seed: int, ks: list[int], op_threads: int | None = None,
                bases: list[Path] = ()) -> dict:
    """Trains and evaluates braidrec variant ``name`` with ``train.seed = seed``.

    A variant that changes only post-training settings of a model in ``bases``
    (:func:`refit_base`) is not trained again: its towers are that model's and only
    the steps after training run (``models/refit.py``), which gives the model training would.

    Args:
        features: the features directory.
        out_dir: where the model directory goes (replaced if present).
        name: a key of :data:`VARIANTS`.
        seed: training seed.
        ks: cut-offs for the evaluation.
        op_threads: ``train.op_threads`` (the process's count, which a variant cannot change); None: the default's.
        bases: model directories trained earlier in this process, which a refit may start from.

    Returns:
        ``{"metrics": evaluate_model_dir(...), "seconds": training seconds (the base's when
        refit), "history": ..., "refit_from": the base or None}``, or ``{"skipped": reason}``
        when a field of the variant is missing.
    """
    from braidrec.models.evaluate_run import evaluate_model_dir
    from braidrec.models.refit import refit
    from braidrec.models.train import train

    config = variant_config(name, seed, op_threads)
    if config is None:
        return {"skipped": f"config field(s) {', '.join(unknown_fields(VARIANTS[name]))} not in this checkout"}
    base = refit_base(config, features, list(bases))
    started = time.time()
    history = refit(base, out_dir, config.model) if base else train(features, out_dir, config)
    # A refit model's towers took the base's training time.
    seconds = history["seconds"] if base else round(time.time() - started, 1)
    metrics = evaluate_model_dir(out_dir, None, ks)
    return {"metrics": metrics, "seconds": seconds, "history": history, "refit_from": base}
