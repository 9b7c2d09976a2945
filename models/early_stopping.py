"""Early stopping on a validation metric (``train.selection_metric``): which epoch's weights ``braid train`` keeps.

In-batch loss is a poor proxy for ranking, so after each epoch the model ranks the
whole catalogue for the validation users; training stops after ``patience`` epochs
without a gain and the best epoch's weights are restored.
"""

from __future__ import annotations

import time

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tf_keras as keras

from braidrec.config import TrainConfig
from braidrec.features import contract
from braidrec.models.evaluate import EvalData, model_metrics

VAL_METRIC = "val_recall@10"
# The logs key of an epoch's score, the selection metric averaged over train.selection_window epochs.
SELECTION_SCORE = "val_selection_score"
SELECTION_METRICS = ("recall", "ndcg")


def selection_cutoff(metric: str) -> int:
    """The cut-off K of ``train.selection_metric``.

    Args:
        metric: ``recall@K`` or ``ndcg@K``.

    Returns:
        K.

    Raises:
        ValueError: another metric name, or K not a positive integer.
    """
    name, _, cutoff = metric.partition("@")
    if name not in SELECTION_METRICS or not cutoff.isdigit() or int(cutoff) < 1:
        raise ValueError(f"train.selection_metric '{metric}' must be recall@K or ndcg@K with an integer K >= 1, "
                         "e.g. --train.selection_metric recall@20")
    return int(cutoff)


def check_min_delta(min_delta: float) -> float:
    """Returns ``train.min_delta``, the least rise of the selection metric that counts as a gain.

    Raises:
        ValueError: it is negative (a fall would count as a gain).
    """
    if min_delta < 0:
        raise ValueError(f"train.min_delta {min_delta} must be >= 0 (0: any rise of the selection metric counts as a gain)")
    return min_delta


def check_selection_window(window: int) -> int:
    """Returns ``train.selection_window``, the epochs whose mean selection metric judges an epoch.

    Raises:
        ValueError: it is below 1.
    """
    if window < 1:
        raise ValueError(f"train.selection_window {window} must be >= 1 (1: each epoch is judged by its own "
                         "validation metric)")
    return window


class EpochSelection:
    """The early-stopping rule alone: which epoch is the best so far, and when to stop.

    An epoch's score is the mean of the metric over it and up to ``window - 1``
    epochs before it; an epoch is the new best when its score beats the best
    score by more than ``min_delta``, and the run stops once ``patience`` epochs
    pass without one. :class:`BestValidationEpoch` decides with it while
    training; the benchmarks replay it on logged curves.

    Args:
        patience: epochs without a gain before stopping.
        min_delta: the least rise of the score that counts as a gain.
        window: how many epochs' metric, this one's and those before it, a score averages.

    Raises:
        ValueError: a negative ``min_delta`` or a ``window`` below 1.
    """

    def __init__(self, patience: int, min_delta: float = 0.0, window: int = 1):
        self.patience = patience
        self.min_delta = check_min_delta(min_delta)
        self.window = check_selection_window(window)
        self.values: list[float] = []
        self.best_epoch = -1
        self.best_score = float("-inf")

    @classmethod
    def replay(cls, values, patience: int, min_delta: float = 0.0, window: int = 1) -> EpochSelection:
        """The rule run over a logged curve ``values`` up to where it stops (or the curve's end)."""
        selection = cls(patience, min_delta, window)
        for value in values:
            if selection.update(value)[1]:
                break
        return selection

    @property
    def score(self) -> float:
        """The latest epoch's score: the mean metric of it and up to ``window - 1`` epochs before it."""
        recent = self.values[-self.window:]
        return sum(recent) / len(recent)

    def update(self, value: float) -> tuple[bool, bool]:
        """Takes the next epoch's metric; returns (it is the new best, stop now)."""
        self.values.append(float(value))
        epoch = len(self.values) - 1
        score = self.score
        if score > self.best_score + self.min_delta:
            self.best_epoch, self.best_score = epoch, score
            return True, False
        return False, epoch - self.best_epoch >= self.patience


def effective_patience(train_config: TrainConfig) -> int:
    """The early-stopping patience of a training: ``train.warm_start_patience`` when it starts from an
    earlier model and that is set (> 0), else ``train.patience``."""
    if train_config.warm_start and train_config.warm_start_patience > 0:
        return train_config.warm_start_patience
    return train_config.patience


class BestValidationEpoch(keras.callbacks.Callback):
    """Full-ranking validation after each epoch; keeps the weights of the best one.

    The epoch is chosen by ``metric`` (``train.selection_metric``); validation
    Recall@10 is logged beside it. An epoch improves on the best only when it
    beats it by more than ``min_delta``. Stops after ``patience`` epochs without
    improvement and restores the best epoch's weights at the end (in-batch
    loss is a poor proxy for ranking). With ``train.weight_ema_epochs`` the
    weights it sees are the moving average (see :func:`optimizer`); when the
    optimizer keeps the average aside, it swaps the average in to validate
    (and keep) and the training weights back after.

    With ``window`` > 1 an epoch is judged by the mean of the metric over it and
    the epochs before it (up to ``window``), and its own weights are kept: a
    single lucky epoch on a noisy validation set then counts for less than a
    run of good ones.

    Args:
        data: the evaluation data (its val split is used).
        metric: ``recall@K`` or ``ndcg@K``.
        patience: epochs without a gain before stopping.
        min_delta: the least rise of the metric that counts as a gain.
        window: how many epochs' metric, this one's and those before it, the comparison averages.

    Raises:
        ValueError: an unknown metric (see :func:`selection_cutoff`), a negative ``min_delta`` or a
            ``window`` below 1.
    """

    def __init__(self, data: EvalData, metric: str, patience: int, min_delta: float = 0.0, window: int = 1):
        super().__init__()
        self.data = data
        self.metric = metric
        self.ks = sorted({10, selection_cutoff(metric)})
        self.selection = EpochSelection(patience, min_delta, window)
        self.best_metrics: dict[str, float] = {}
        self.best_weights = None
        self.started = time.time()
        self.seconds_to_best = 0.0

    def on_train_begin(self, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        training_weights = None
        if average_kept_aside(self.model.optimizer):
            training_weights = self.model.get_weights()
            self.model.optimizer.finalize_variable_values(self.model.trainable_variables)
        try:
            self._validate(epoch, logs)
        finally:
            if training_weights is not None:
                self.model.set_weights(training_weights)

    def _validate(self, epoch, logs):
        metrics = model_metrics(self.model, self.data, self.ks, split=contract.SPLIT_VAL, cold=False)["warm"]
        value = metrics[self.metric]
        if logs is not None:
            logs[VAL_METRIC] = metrics["recall@10"]
            logs["val_" + self.metric] = value
        print(f"epoch {epoch + 1}: val_{self.metric} = {value:.4f}"
              + ("" if self.metric == "recall@10" else f", {VAL_METRIC} = {metrics['recall@10']:.4f}"), flush=True)
        is_best, stop = self.selection.update(value)
        if logs is not None:
            logs[SELECTION_SCORE] = self.selection.score
        if is_best:
            self.best_metrics = {k: float(v) for k, v in metrics.items() if k != "users"}
            self.seconds_to_best = time.time() - self.started
            self.best_weights = self.model.get_weights()
        elif stop:
            self.model.stop_training = True

    @property
    def best_epoch(self) -> int:
        """The best epoch so far, counted from 0 (-1 before the first)."""
        return self.selection.best_epoch

    @property
    def patience(self) -> int:
        """Epochs without a gain before stopping."""
        return self.selection.patience

    @property
    def window(self) -> int:
        """How many epochs' metric an epoch's score averages."""
        return self.selection.window

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def average_kept_aside(opt) -> bool:
    """Whether ``opt`` keeps a moving average of the weights that never replaces them while training."""
    return bool(getattr(opt, "use_ema", False)) and getattr(opt, "ema_overwrite_frequency", None) is None


def plateau_rate_drop(train_config: TrainConfig) -> keras.callbacks.ReduceLROnPlateau | None:
    """The learning-rate drop on a validation plateau that ``train.lr_plateau_patience`` asks for.

    It watches the score that :class:`BestValidationEpoch` judges epochs by and logs (so it must run
    after it): the selection metric averaged over ``train.selection_window`` epochs, with the same
    least gain, and multiplies the rate by ``train.lr_plateau_factor`` after that many epochs
    without a gain.

    Args:
        train_config: ``lr_plateau_patience``, ``lr_plateau_factor``, ``selection_metric``, ``min_delta``.

    Returns:
        The callback, or None when ``lr_plateau_patience`` is 0.

    Raises:
        ValueError: a negative patience, or a factor outside (0, 1).
    """
    if train_config.lr_plateau_patience < 0:
        raise ValueError(f"train.lr_plateau_patience {train_config.lr_plateau_patience} must be >= 0 "
                         "(epochs without a gain before the learning rate drops; 0: never)")
    if not 0.0 < train_config.lr_plateau_factor < 1.0:
        raise ValueError(f"train.lr_plateau_factor {train_config.lr_plateau_factor} must be in (0, 1): "
                         "the learning rate is multiplied by it on a plateau")
    if train_config.lr_plateau_patience == 0:
        return None
    return keras.callbacks.ReduceLROnPlateau(
        monitor=SELECTION_SCORE, mode="max", factor=train_config.lr_plateau_factor,
        patience=train_config.lr_plateau_patience, min_delta=check_min_delta(train_config.min_delta), verbose=1)
