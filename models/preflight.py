"""Refusing bad settings of every stage before any stage runs (``braid run``, ``bench.quality``).

Each setting is checked where it acts: in the layer that reads it (an encoder
refuses its own options), or at the start of its stage (export, recommend,
evaluate). ``braid run`` would otherwise reach a bad one only after generating
data, extracting features or training, minutes into a run. The pre-flight
resolves the extraction's encoders (as extraction does first), builds the model
once over a stand-in vocabulary that has every modality, and runs the later
stages' own checks, so the same checks run at the start and none is written twice.
"""

from __future__ import annotations

from braidrec.config import RunConfig
from braidrec.features import contract


def stand_in_vocabulary(image_dim: int, text_embedding_dim: int) -> contract.Vocabularies:
    """A tiny vocabulary with every item modality and user profile feature a dataset can have.

    Args:
        image_dim: the image vector's length (the extraction's image encoder's).
        text_embedding_dim: the pretrained text vector's length; 0 without a text encoder,
            and then the stand-in has no pretrained text modality, as the features would not.

    Returns:
        Vocabularies of two items, one user, one token of each kind and one numeric column each.
    """
    return contract.Vocabularies(
        items=["item_a", "item_b"], users=["user_a"], text=["word"], categorical=["category=a"],
        numeric_names=["number"], numeric_mean=[0.0], numeric_std=[1.0], image_dim=image_dim,
        text_embedding_dim=text_embedding_dim, user_categorical=["group=a"], user_numeric_names=["age"],
        user_numeric_mean=[0.0], user_numeric_std=[1.0],
    )


def check_settings(config: RunConfig) -> dict:
    """Raises what the stages would raise for their settings, without any data.

    Checked: ``extract.image_encoder`` and ``extract.text_encoder`` (resolved as extraction does),
    the ``model`` and ``train`` sections (the model built over :func:`stand_in_vocabulary`), and
    the ``eval``, ``export`` and ``recommend`` sections (their stages' own checks).

    Sets TensorFlow's threads per op to ``train.op_threads`` first: building the model runs
    TensorFlow ops, and TensorFlow fixes the count at its first op (see
    :func:`braidrec.runtime.set_op_threads`). Settings that depend on the dataset, such as a
    disabled modality that this dataset lacks, are still refused when training builds the real
    model; names that no dataset has are refused here.

    Args:
        config: the run's configuration.

    Returns:
        The encoders as :func:`braidrec.pipeline.encoders.describe_encoders` resolved them, for extraction to
        reuse: resolving an encoder given by a model path loads the model.

    Raises:
        ValueError: naming the setting and what to pass instead (``EncoderConfigError``, a ValueError,
            for an encoder path that does not exist or cannot be used).
    """
    from braidrec.data.bad_records import check_bad_records
    from braidrec.models.evaluate_run import check_eval_settings
    from braidrec.models.train import check_train_settings, optimizer
    from braidrec.models.two_tower import BraidModel
    from braidrec.pipeline.encoders import describe_encoders
    from braidrec.pipeline.recommend import check_recommend_settings
    from braidrec.runtime import set_op_threads
    from braidrec.serving.export import check_export_settings

    set_op_threads(config.train.op_threads)
    check_train_settings(config.train, config.model)
    optimizer(config.train, steps_per_epoch=1)
    check_bad_records(config.extract.bad_records)
    encoders = describe_encoders(config.extract)
    vocab = stand_in_vocabulary(encoders["image"]["dim"], encoders["text"]["dim"] if encoders["text"] else 0)
    BraidModel(vocab, config.model, config.extract, config.train)
    check_eval_settings(config.eval.ks, config.eval.batch_size)
    check_export_settings(config.export.name, config.export.k, config.export)
    check_recommend_settings(config.recommend.k, config.recommend.batch_size)
    return encoders
