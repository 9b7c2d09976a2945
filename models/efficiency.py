"""``metrics.json``'s ``efficiency``: what the aligned model costs to hold and to run.

Alignment is judged by accuracy and consistency (``alignment``), robustness
(``robustness``) and efficiency, this report: the weights each modality's
encoder holds, the bytes each item takes in the export, how long training took
to its best epoch, and the throughput of the passes ``braid evaluate`` makes
anyway (the catalogue through the item tower, text queries through
``search_text``'s path, users ranked over the whole catalogue), timed as they
run, so the report costs no extra pass. Throughput depends on the machine, so
the report names its cores; ``make bench-train`` and ``make bench-serve``
compare costs as ratios within one process.
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np

FLOAT32_BYTES = 4


class StageTimer:
    """Wall seconds of named stages and the rows each handled (``time.perf_counter``)."""

    def __init__(self):
        self.stages: dict[str, dict] = {}

    @contextlib.contextmanager
    def __call__(self, name: str, rows: int):
        """Times the ``with`` block as stage ``name``, which handles ``rows`` rows."""
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.stages[name] = {"rows": int(rows), "seconds": seconds, "per_s": rows / seconds if seconds > 0 else None}


def _count(layers, seen: set[int]) -> int:
    """Weights of ``layers`` not already in ``seen`` (a weight shared between towers counts once)."""
    total = 0
    for layer in layers:
        for weight in layer.weights if layer is not None else []:
            if id(weight) not in seen:
                seen.add(id(weight))
                total += int(np.prod(weight.shape))
    return total


def parameter_counts(model) -> dict:
    """Weights per modality encoder of the item tower, the rest of the item tower, and the user tower's own.

    Args:
        model: a ``BraidModel`` whose towers have run (Keras creates some weights on the first call).

    Returns:
        ``{"item_tower": {modality: n, ..., "fusion_and_output": n, "content_prior": n}, "user_tower": n,
        "total": n}``; the user tower reads history through the item tower's id table, counted there.
    """
    tower = model.item_tower
    encoders = {"id": tower.id_encoder, "text": tower.text_encoder, "image": tower.image_encoder,
                "text_pretrained": tower.pretrained_text_encoder, "categorical": tower.categorical_encoder,
                "numeric": tower.numeric_encoder}
    seen: set[int] = set()
    item = {m: _count([encoders[m]], seen) for m in tower.modalities}
    item["content_prior"] = _count([tower.content_prior], seen)
    item["fusion_and_output"] = _count([tower], seen)
    user = _count([model.user_tower], seen)
    return {"item_tower": item, "user_tower": user, "total": sum(item.values()) + user}


def efficiency_report(model, timer: StageTimer, history: dict | None = None) -> dict:
    """The ``efficiency`` section of ``metrics.json``.

    Args:
        model: the trained ``BraidModel``.
        timer: the stages ``braid evaluate`` timed (:class:`StageTimer`).
        history: the model's ``history.json`` (training time), if any.

    Returns:
        ``{"cores", "parameters", "bytes_per_item", "throughput", "training"}``; ``bytes_per_item``
        holds the served embedding and the explain signature's parts in float32 and float16
        (``export.explain_precision``).
    """
    dim = model.item_tower.output_projection.units
    modalities = len(model.item_tower.modalities)
    report = {
        "cores": os.cpu_count(),
        "parameters": parameter_counts(model),
        "bytes_per_item": {"embedding": dim * FLOAT32_BYTES, "explain_parts": modalities * dim * FLOAT32_BYTES,
                           "explain_parts_float16": modalities * dim * FLOAT32_BYTES // 2},
        "throughput": dict(timer.stages),
    }
    if history:
        report["training"] = {key: history[key] for key in ("seconds", "seconds_to_best_epoch", "best_epoch", "train_examples")
                              if key in history}
    return report
