"""Refusing bad model and training settings before any stage runs (``braid run``).

The model's settings are checked where they act, in the layers that read them
(an encoder refuses its own options). ``braid run`` would otherwise reach them
only after generating data and extracting features, minutes into a run. The
pre-flight builds the model once over a stand-in vocabulary that has every
modality, so the same checks run at the start and none is written twice.
"""

from __future__ import annotations

from braidrec.config import ExtractConfig, RunConfig
from braidrec.features import contract

# The pretrained text vector's length in the stand-in: any positive length builds the same layers.
STAND_IN_TEXT_EMBEDDING_DIM = 8


def stand_in_vocabulary(extract: ExtractConfig) -> contract.Vocabularies:
    """A tiny vocabulary with every item modality and user profile feature a dataset can have.

    Args:
        extract: the ``extract`` section: the pretrained text modality exists only when
            ``extract.text_encoder`` is not ``none``, and the image vector's length follows
            ``extract.image_encoder``.

    Returns:
        Vocabularies of two items, one user, one token of each kind and one numeric column each.
    """
    image_dim = contract.IMAGE_QUANTILES_DIM if extract.image_encoder == "descriptor_quantiles" else contract.IMAGE_DESCRIPTOR_DIM
    return contract.Vocabularies(
        items=["item_a", "item_b"], users=["user_a"], text=["word"], categorical=["category=a"],
        numeric_names=["number"], numeric_mean=[0.0], numeric_std=[1.0], image_dim=image_dim,
        text_embedding_dim=0 if extract.text_encoder == "none" else STAND_IN_TEXT_EMBEDDING_DIM,
        user_categorical=["group=a"], user_numeric_names=["age"], user_numeric_mean=[0.0], user_numeric_std=[1.0],
    )


def check_settings(config: RunConfig) -> None:
    """Raises what training would raise for the ``model`` and ``train`` settings, without any data.

    Sets TensorFlow's threads per op to ``train.op_threads`` first: building the model runs
    TensorFlow ops, and TensorFlow fixes the count at its first op (see
    :func:`braidrec.runtime.set_op_threads`). Settings that depend on the dataset, such as a
    disabled modality that this dataset lacks, are still refused when training builds the real
    model; names that no dataset has are refused here.

    Args:
        config: the run's configuration.

    Raises:
        ValueError: naming the setting and what to pass instead.
    """
    from braidrec.models.train import check_train_settings, optimizer
    from braidrec.models.two_tower import BraidModel
    from braidrec.runtime import set_op_threads

    set_op_threads(config.train.op_threads)
    check_train_settings(config.train, config.model)
    optimizer(config.train, steps_per_epoch=1)
    BraidModel(stand_in_vocabulary(config.extract), config.model, config.extract, config.train)
