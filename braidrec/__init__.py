"""braidrec: multimodal two-tower recommendations, from raw data to TF Serving.

This module is the single place that selects Keras 2 (``tf-keras``): TFRS 0.7.7
does not work with Keras 3, and the choice must be made before TensorFlow is
first imported. Every braidrec module lives under this package, so importing
any of them runs this line first.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) drowns the CLI output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
