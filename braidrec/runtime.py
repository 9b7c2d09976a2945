"""Process-wide TensorFlow runtime settings that must be chosen before TensorFlow first runs an op."""

from __future__ import annotations

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf


def set_op_threads(threads: int) -> None:
    """Sets how many threads one TensorFlow op may use (intra-op parallelism) in this process.

    TensorFlow fixes the count when it first runs an op, so call this at the start
    of a process (the ``braid train`` and ``braid run`` commands do). Calling it
    again with the count already in force does nothing. Deterministic kernels
    give the same result for the same count, but another count sums in another
    order: the round-off differs, training amplifies it, and a seed's model
    differs between counts as between machines.

    Args:
        threads: threads per op; 0 leaves TensorFlow's choice (one per core).

    Raises:
        ValueError: ``threads`` is negative, or TensorFlow already runs with another count.
    """
    if threads < 0:
        raise ValueError(f"train.op_threads {threads} must be >= 0 (0: TensorFlow's choice, one per core)")
    current = tf.config.threading.get_intra_op_parallelism_threads()
    if threads == current:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError as err:
        raise ValueError(
            f"train.op_threads is {threads}, but TensorFlow already runs ops with {current or 'its default'} "
            "threads in this process (the count is fixed when the first op runs): pass "
            f"--train.op_threads {current}, or call braidrec.runtime.set_op_threads({threads}) "
            "before any TensorFlow work"
        ) from err


def prepare_training(op_threads: int, deterministic: bool) -> None:
    """Threads per op and kernel choice for training, or for redoing its last steps (``models/refit.py``).

    Args:
        op_threads: ``train.op_threads`` (see :func:`set_op_threads`).
        deterministic: ``train.deterministic``: TensorFlow's deterministic kernels. Without them,
            multi-threaded kernels sum in a load-dependent order: on ml-100k two runs of one seed
            differed by up to 0.02 in test Recall@10.

    Raises:
        ValueError: as :func:`set_op_threads`.
    """
    set_op_threads(op_threads)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
