"""Item features in Beam: prepare rows, reuse cached encodings, encode the rest in batches.

::

    rows -> PrepareItem -> (content key, item) --CoGroupByKey with the cache--> hit  -> reuse entry
                                                                            \\-> miss -> DecodeForEncoders
        -> RunInference(image encoder), RunInference(text encoder) -> CoGroupByKey -> new entry
    (item, entry) -> MakeItem -> item dicts (features.contract), dead letters, reuse counts

A missing, refused or undecodable image sends a dead-letter record and the item
keeps its other modalities with ``has_image = 0``; a cached entry remembers an
undecodable image so a re-run reports it again without decoding it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import unicodedata

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from braidrec.data import cells, layout
from braidrec.features import contract, text_normalization
from braidrec.pipeline import encoders, extract_cache, image_features
from braidrec.pipeline.extract_transforms import DEAD_LETTER, categorical_and_numeric, dead_letter

STATS = "stats"


@dataclasses.dataclass
class PreparedItem:
    """An item row parsed into the cheap features, plus what the encoders will read."""

    base: dict
    image_path: str | None
    text: str


class PrepareItem(beam.DoFn):
    """Item row -> (content key, PreparedItem); refused or missing image paths go to the dead letter."""

    def __init__(self, spec: layout.DatasetSpec, signature: str):
        self._root = spec.root
        self._table = spec.items
        self._signature = signature

    def _image(self, item_id: str, cell):
        if self._table.image is None or cells.is_missing(cell):
            return None, None, None
        column = self._table.image
        try:
            path = layout.resolve_image_path(self._root, str(cell))
            with FileSystems.open(str(path)) as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
        except layout.DatasetError as err:
            return None, None, dead_letter("items", item_id, f"column {column}: {err}", "image_path_refused")
        except FileNotFoundError as err:
            return None, None, dead_letter("items", item_id, f"column {column}: image file not found: {err}", "image_missing")
        return str(path), digest, None

    def process(self, row: dict):
        table = self._table
        if cells.is_missing(row.get(table.id)):
            yield dead_letter("items", None, f"column {table.id} is empty in row {json.dumps(row, default=str)[:200]}", "item_missing_id")
            return
        item_id = cells.normalize_id(row[table.id])
        raw = " ".join(str(row[c]).strip() for c in table.text if cells.is_text(row.get(c)))
        text = text_normalization.normalize_text(raw)
        title_column = table.title or (table.text[0] if table.text else table.id)
        path, digest, problem = self._image(item_id, row.get(table.image) if table.image else None)
        if problem is not None:
            yield problem
        tokens, numeric, numeric_mask = categorical_and_numeric(row, table)
        base = {
            contract.ITEM_ID: item_id,
            contract.TITLE: str(row[title_column]) if cells.is_text(row.get(title_column)) else "",
            contract.TEXT: text,
            contract.HAS_TEXT: int(bool(text)),
            contract.CATEGORICAL: tokens,
            contract.NUMERIC: numeric,
            contract.NUMERIC_MASK: numeric_mask,
        }
        # The pretrained text encoder reads the original text (case and punctuation carry meaning for it).
        encoder_text = unicodedata.normalize("NFKC", raw) if text else ""
        key = extract_cache.content_key(self._signature, encoder_text, digest)
        yield key, PreparedItem(base=base, image_path=path, text=encoder_text)


def route_cached(element):
    """(key, {"item": [...], "cached": [...]}) -> hits on the main output, misses tagged ``miss``."""
    key, groups = element
    items, cached = list(groups["item"]), list(groups["cached"])
    # No items: the entry of an item that left the catalogue, not carried over.
    if items and cached:
        yield beam.pvalue.TaggedOutput("keep", (key, cached[0]))
        for item in items:
            yield item, cached[0], True
    elif items:
        yield beam.pvalue.TaggedOutput("miss", (key, items))


class DecodeForEncoders(beam.DoFn):
    """A missed key's image -> thumbnail + image-encoder input; its text -> text-encoder input."""

    def __init__(self, image_size: int, image_info: dict, with_text: bool):
        self._size = image_size
        self._info = image_info
        self._with_text = with_text

    def process(self, element):
        key, items = element
        first = items[0]
        if first.image_path:
            try:
                with FileSystems.open(first.image_path) as handle:
                    image = image_features.decode_image(handle.read())
            except FileNotFoundError as err:
                yield beam.pvalue.TaggedOutput("problem", (key, ("image_missing", f"image file not found: {err}")))
            except image_features.ImageDecodeError as err:
                yield beam.pvalue.TaggedOutput("problem", (key, ("image_corrupt", str(err))))
            else:
                pixels = image_features.thumbnail(image, self._size)
                yield beam.pvalue.TaggedOutput("thumb", (key, pixels.tobytes()))
                if self._info["name"] in encoders.BUILT_IN_IMAGE:
                    model_input = pixels
                else:
                    model_input = image_features.thumbnail(image, tuple(self._info["input_size"])).astype(np.float32)
                yield beam.pvalue.TaggedOutput("image_input", (key, model_input))
        if self._with_text and first.text:
            yield beam.pvalue.TaggedOutput("text_input", (key, first.text))


def build_entry(element, image_dim: int, text_dim: int, image_size: int):
    """Joined encoder outputs of one key -> (prepared, entry, False) per item, and the entry tagged ``new``."""
    key, groups = element
    image, thumb, text, problem = (list(groups[name]) for name in ("image", "thumb", "text", "problem"))
    entry = {
        extract_cache.KEY: key,
        contract.IMAGE: image[0] if image else np.zeros(image_dim, np.float32),
        contract.THUMBNAIL: thumb[0] if thumb else bytes(image_size * image_size * 3),
        contract.HAS_IMAGE: int(bool(image)),
        contract.TEXT_EMBEDDING: text[0] if text else (np.zeros(text_dim, np.float32) if text_dim else None),
        extract_cache.PROBLEM_KIND: problem[0][0] if problem else None,
        extract_cache.PROBLEM_REASON: problem[0][1] if problem else None,
    }
    yield beam.pvalue.TaggedOutput("new", (key, entry))
    for items in groups["items"]:
        for item in items:
            yield item, entry, False


class MakeItem(beam.DoFn):
    """(prepared, entry, reused) -> the item dict; re-emits a remembered image problem as a dead letter."""

    def __init__(self, image_column: str | None):
        self._column = image_column

    def process(self, element):
        prepared, entry, reused = element
        item = dict(prepared.base)
        item[contract.IMAGE] = np.asarray(entry[contract.IMAGE], np.float32).tolist()
        item[contract.THUMBNAIL] = entry[contract.THUMBNAIL]
        item[contract.HAS_IMAGE] = entry[contract.HAS_IMAGE]
        if entry.get(contract.TEXT_EMBEDDING) is not None:
            item[contract.TEXT_EMBEDDING] = np.asarray(entry[contract.TEXT_EMBEDDING], np.float32).tolist()
        if entry.get(extract_cache.PROBLEM_KIND):
            yield dead_letter("items", item[contract.ITEM_ID], f"column {self._column}: {prepared.image_path}: "
                              f"{entry[extract_cache.PROBLEM_REASON]}", entry[extract_cache.PROBLEM_KIND])
        yield beam.pvalue.TaggedOutput(STATS, ("items_reused" if reused else "items_encoded", 1))
        yield item


def _inference(pcoll, handler, label: str):
    return (
        pcoll
        | f"{label}Infer" >> RunInference(KeyedModelHandler(handler))
        | f"{label}Vectors" >> beam.MapTuple(lambda key, result: (key, np.asarray(result.inference, np.float32)))
    )


class ExtractItems(beam.PTransform):
    """Item rows -> item dicts, with the cache consulted and refreshed.

    Args:
        spec: the validated dataset.
        image_size: thumbnail side (``extract.image_size``).
        encoder_info: :func:`encoders.describe_encoders` of the run.
        batch_size: RunInference batch size.
        cache_in: cache directory to read (None: no cache).

    Returns (from ``expand``): a dict with ``items``, ``dead_letter``, ``stats``
    (``("items_reused" | "items_encoded", 1)`` per item) and ``cache`` ((key, entry)
    of every current item, to write as the next cache).
    """

    def __init__(self, spec: layout.DatasetSpec, image_size: int, encoder_info: dict, batch_size: int, cache_in=None):
        super().__init__()
        self._spec = spec
        self._size = image_size
        self._info = encoder_info
        self._batch = batch_size
        self._cache_in = cache_in

    def expand(self, rows):
        image, text = self._info["image"], self._info["text"]
        signature = image["signature"] + "|" + (text["signature"] if text else "no-text")
        prepared = rows | "PrepareItems" >> beam.ParDo(PrepareItem(self._spec, signature)).with_outputs(DEAD_LETTER, main="items")
        cached = rows.pipeline | "ReadCache" >> extract_cache.ReadCache(self._cache_in)
        routed = (
            {"item": prepared.items, "cached": cached}
            | "JoinCache" >> beam.CoGroupByKey()
            | "RouteCached" >> beam.FlatMap(route_cached).with_outputs("miss", "keep", main="hits")
        )
        decoded = routed.miss | "DecodeImages" >> beam.ParDo(
            DecodeForEncoders(self._size, image, text is not None)).with_outputs("problem", "thumb", "image_input", "text_input")
        joined = {
            "items": routed.miss,
            "thumb": decoded.thumb,
            "problem": decoded.problem,
            "image": _inference(decoded.image_input, encoders.image_handler(image, self._batch), "Image"),
            "text": (_inference(decoded.text_input, encoders.text_handler(text, self._batch), "Text") if text
                     else rows.pipeline | "NoText" >> beam.Create([])),
        }
        built = (
            joined
            | "JoinEncoded" >> beam.CoGroupByKey()
            | "BuildEntries" >> beam.FlatMap(build_entry, image["dim"], text["dim"] if text else 0, self._size)
            .with_outputs("new", main="encoded")
        )
        made = (
            (routed.hits, built.encoded)
            | "AllEncoded" >> beam.Flatten()
            | "MakeItems" >> beam.ParDo(MakeItem(self._spec.items.image)).with_outputs(DEAD_LETTER, STATS, main="items")
        )
        return {
            "items": made.items,
            "dead_letter": (prepared[DEAD_LETTER], made[DEAD_LETTER]) | "ItemDeadLetters" >> beam.Flatten(),
            "stats": made[STATS],
            "cache": (routed.keep, built.new) | "CacheEntries" >> beam.Flatten(),
        }
