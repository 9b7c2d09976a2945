"""Install braidrec: ``pip install -e .[dev]``.

The repository keeps the design's top-level folders (data/, pipeline/, ...);
they install as subpackages of ``braidrec`` so nothing generic like ``data``
or ``models`` lands at the top of site-packages.
"""

from setuptools import find_packages, setup

SUBPACKAGES = ["data", "pipeline", "features", "models", "serving"]


def _packages() -> list[str]:
    found = ["braidrec"]
    for sub in SUBPACKAGES:
        found.append(f"braidrec.{sub}")
        found += [f"braidrec.{sub}.{p}" for p in find_packages(sub)]
    return found


setup(
    name="braidrec",
    version="0.1.0",
    description="Multimodal two-tower recommender: Beam features, TFRS model, TF Serving export",
    python_requires=">=3.11,<3.12",
    packages=_packages(),
    package_dir={"braidrec": "braidrec", **{f"braidrec.{s}": s for s in SUBPACKAGES}},
    install_requires=[
        "tensorflow==2.21.0",
        "tf-keras==2.21.0",
        "tensorflow-recommenders==0.7.7",
        "tensorflow-datasets==4.9.10",
        "tensorflow-serving-api==2.21.0",
        "apache-beam==2.77.0",
        "pandas==3.1.1",
        "pyarrow==25.0.1",
        "numpy==2.4.6",
        "pillow==12.3.0",
        "pyyaml==6.0.4",
        "tqdm==4.70.1",
        # Beam's TFRecord sink needs a CRC32C implementation (apache-beam[tfrecord]).
        "google-crc32c==1.9.0",
        # The torch-free pretrained text encoder (pipeline/text_encoder.py); scipy for its exact GELU.
        "tokenizers==0.23.3",
        "safetensors==0.8.0",
        "scipy==1.17.1",
    ],
    extras_require={
        "dev": ["pytest==9.2.0", "threadpoolctl==3.8.0"],
        # Peers of `make bench-quality` (lightfm-next: the maintained LightFM fork, import name lightfm).
        "bench": ["implicit==0.7.3", "lightfm-next==1.19.0", "matplotlib==3.11.2"],
    },
    entry_points={"console_scripts": ["braid=braidrec.pipeline.cli:main"]},
)
