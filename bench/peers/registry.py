"""Peer names (the ``--peers`` flag of the harness) -> fit functions ``(EvalData, seed) -> Scorer``."""

from __future__ import annotations

import functools
import importlib

# name -> (module, function, keyword arguments); modules are imported only when the
# peer runs, so a missing optional package fails just the peer that needs it.
_PEERS = {
    "popularity": ("bench.peers.popularity", "fit_popularity", {}),
    "als": ("bench.peers.implicit_mf", "fit_als", {}),
    "bpr": ("bench.peers.implicit_mf", "fit_bpr", {}),
    "lightfm": ("bench.peers.lightfm_warp", "fit_lightfm", {"features": False}),
    "lightfm_features": ("bench.peers.lightfm_warp", "fit_lightfm", {"features": True}),
    # LightFM as its docs set it up (lightfm.data.Dataset over the whole catalogue): the setup
    # that reproduces the reference cold figure.
    "lightfm_features_dataset": ("bench.peers.lightfm_warp", "fit_lightfm", {"features": True, "out_of_the_box": True}),
    "tfrs_basic": ("bench.peers.tfrs_basic", "fit_tfrs_basic", {}),
    # The tutorial model with the usual cures of an in-batch softmax that favours popular items, one at a
    # time (bench/peers/tfrs_basic.py): the logQ correction with accidental-hit removal; then batches of 512
    # at rate 0.01 for up to 30 epochs; and those batches without the correction, as the control.
    "tfrs_basic_logq": ("bench.peers.tfrs_basic", "fit_tfrs_basic",
                        {"logq": True, "name": "TFRS id-only two-tower + logQ"}),
    "tfrs_basic_logq_batch512": ("bench.peers.tfrs_basic", "fit_tfrs_basic",
                                 {"logq": True, "batch_size": 512, "learning_rate": 0.01, "epochs": 30,
                                  "name": "TFRS id-only two-tower + logQ, batch 512"}),
    "tfrs_basic_batch512": ("bench.peers.tfrs_basic", "fit_tfrs_basic",
                            {"batch_size": 512, "learning_rate": 0.01, "epochs": 30,
                             "name": "TFRS id-only two-tower, batch 512"}),
    "sasrec": ("bench.peers.sasrec", "fit_sasrec", {}),
    # The same, early-stopped on val Recall@50 as braidrec's default is (train.selection_metric).
    "sasrec_recall50": ("bench.peers.sasrec", "fit_sasrec", {"selection_cutoff": 50}),
}
PEERS = tuple(_PEERS)
QUICK_PEERS = ("popularity", "als", "lightfm_features", "sasrec")


def fit_function(name: str):
    """The fit function of peer ``name``.

    Raises:
        KeyError: an unknown name (the message lists the known ones).
    """
    if name not in _PEERS:
        raise KeyError(f"unknown peer '{name}' (known: {', '.join(PEERS)})")
    module, function, kwargs = _PEERS[name]
    return functools.partial(getattr(importlib.import_module(module), function), **kwargs)
