"""Refusing bad extraction-encoder, model and training settings before any stage runs (``braid run``).

The model's settings are checked where they act, in the layers that read them
(an encoder refuses its own options). ``braid run`` would otherwise reach them
only after generating data and extracting features, minutes into a run. The
pre-flight resolves the extraction's encoders (as extraction does first) and
builds the model once over a stand-in vocabulary that has every modality, so
the same checks run at the start and none is written twice.
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


def check_settings(config: RunConfig) -> None:
    """Raises what extraction's encoders and training would raise for the ``extract.image_encoder``,
    ``extract.text_encoder``, ``model`` and ``train`` settings, without any data.

    Sets TensorFlow's threads per op to ``train.op_threads`` first: building the model runs
    TensorFlow ops, and TensorFlow fixes the count at its first op (see
    :func:`braidrec.runtime.set_op_threads`). Settings that depend on the dataset, such as a
    disabled modality that this dataset lacks, are still refused when training builds the real
    model; names that no dataset has are refused here.

    Args:
        config: the run's configuration.

    Raises:
        ValueError: naming the setting and what to pass instead (``EncoderConfigError``, a ValueError,
            for an encoder path that does not exist or cannot be used).
    """
    from braidrec.models.train import check_train_settings, optimizer
    from braidrec.models.two_tower import BraidModel
    from braidrec.pipeline.encoders import describe_encoders
    from braidrec.runtime import set_op_threads

    set_op_threads(config.train.op_threads)
    check_train_settings(config.train, config.model)
    optimizer(config.train, steps_per_epoch=1)
    encoders = describe_encoders(config.extract)
    vocab = stand_in_vocabulary(encoders["image"]["dim"], encoders["text"]["dim"] if encoders["text"] else 0)
    BraidModel(vocab, config.model, config.extract, config.train)
