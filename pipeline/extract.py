"""The feature-extraction Beam pipeline, built by a pure function.

:func:`build_extract_pipeline` only adds transforms to a pipeline; the thin
runner in ``extract_runner`` owns validation, the temporary directory, the
run and the manifest. Any Beam runner works from standard pipeline options.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import apache_beam as beam
import pyarrow as pa

from braidrec.config import ExtractConfig
from braidrec.data import layout
from braidrec.features import contract
from braidrec.pipeline import encoders, extract_cache, splits
from braidrec.pipeline.extract_items import ExtractItems
from braidrec.pipeline.extract_transforms import (
    DEAD_LETTER,
    MeanStd,
    ParseInteraction,
    ReadTable,
    frequency_sorted,
)

COUNTS_FILE = "counts.json"
SPLIT_SCHEMA = pa.schema([("user_id", pa.string()), ("item_id", pa.string()), ("timestamp", pa.int64())])


def _write_single(pcoll, path: Path, label: str):
    """Writes a PCollection holding one string as exactly ``path`` (no shard suffix)."""
    return pcoll | label >> beam.io.WriteToText(str(path), shard_name_template="", num_shards=1)


def _write_vocab(tokens_and_counts, path: Path, label: str, min_count: int = 1, limit: int | None = None,
                 min_share: float = 0.0, documents=None):
    """Writes the tokens seen at least ``max(min_count, ceil(min_share * documents))`` times."""
    documents = beam.pvalue.AsSingleton(documents) if documents is not None else 0
    listed = (
        tokens_and_counts
        | f"{label}Collect" >> beam.combiners.ToList()
        | f"{label}Sort" >> beam.Map(
            lambda counts, n: "\n".join(frequency_sorted(counts, max(min_count, math.ceil(min_share * n)), limit)),
            n=documents,
        )
    )
    return _write_single(listed, path, f"{label}Write")


def _count(pcoll, name: str):
    return (
        pcoll
        | f"Count{name}" >> beam.combiners.Count.Globally()
        | f"Name{name}" >> beam.Map(lambda n, key=name: (key, n))
    )


def build_extract_pipeline(p: beam.Pipeline, spec: layout.DatasetSpec, config: ExtractConfig, out_dir: Path,
                           encoder_info: dict | None = None, cache_in: Path | None = None,
                           cache_out: Path | None = None) -> None:
    """Adds the extraction job to ``p``, writing into ``out_dir``.

    Args:
        p: the pipeline to extend.
        spec: the validated raw dataset.
        config: extraction settings (history length, split seed, vocabularies, shards, encoders).
        out_dir: the features directory (layout in ``features.contract``).
        encoder_info: :func:`encoders.describe_encoders` of ``config`` (computed when None).
        cache_in: a cache directory to reuse encoded items from (None: encode everything).
        cache_out: where to write the cache entries of this catalogue (None: no cache).
    """
    out_dir = Path(out_dir)
    vocab_dir = out_dir / contract.VOCAB_DIR
    encoder_info = encoder_info or encoders.describe_encoders(config)

    item_results = (
        p
        | ReadTable(spec, spec.items)
        | "ExtractItems" >> ExtractItems(spec, config.image_size, encoder_info, config.inference_batch_size, cache_in)
    )
    items = item_results["items"]
    if cache_out is not None:
        extract_cache.write_cache(item_results["cache"], cache_out, config.num_shards)
    _write_single(p | "EncodersInfo" >> beam.Create([json.dumps(encoder_info, indent=2)]),
                  vocab_dir / contract.ENCODERS, "WriteEncoders")
    item_ids = items | "ItemIds" >> beam.Map(lambda item: item[contract.ITEM_ID])
    _ = (
        items
        | "SerializeItems" >> beam.Map(contract.item_example)
        | "WriteItems" >> beam.io.WriteToTFRecord(
            str(out_dir / "items"), file_name_suffix=".tfrecord", num_shards=config.num_shards
        )
    )

    parsed = (
        p
        | ReadTable(spec, spec.interactions)
        | "ParseInteractions" >> beam.ParDo(
            ParseInteraction(spec.interactions), known_items=beam.pvalue.AsDict(item_ids | beam.Map(lambda i: (i, True)))
        ).with_outputs(DEAD_LETTER, main="pairs")
    )
    cold_items = (
        item_ids
        | "AllItemIds" >> beam.combiners.ToList()
        | "ChooseCold" >> beam.Map(splits.choose_cold_items, config.cold_fraction, config.split_seed)
    )
    users = (
        parsed.pairs
        | "GroupByUser" >> beam.GroupByKey()
        | "SplitUser" >> beam.Map(lambda kv, cold: splits.split_user(kv[0], kv[1], cold), beam.pvalue.AsSingleton(cold_items))
    )

    _ = (
        users
        | "HasWarm" >> beam.Filter(lambda u: u.warm)
        | "SerializeHistory" >> beam.Map(
            lambda u: contract.history_example(
                u.user_id, [w[0] for w in u.warm], [w[1] for w in u.warm], [w[2] for w in u.warm]
            )
        )
        | "WriteHistories" >> beam.io.WriteToTFRecord(
            str(out_dir / "histories"), file_name_suffix=".tfrecord", num_shards=config.num_shards
        )
    )

    rows = users | "SplitRows" >> beam.FlatMap(splits.split_rows)
    counts = [_count(parsed.pairs, "interactions_parsed"), _count(items, "items")]
    for name in contract.SPLIT_NAMES:
        chosen = rows | f"Only{name}" >> beam.Filter(lambda r, n=name: r[0] == n) | f"Row{name}" >> beam.Map(lambda r: r[1])
        _ = chosen | f"Write{name}" >> beam.io.WriteToParquet(
            str(out_dir / contract.SPLITS_DIR / f"{name}.parquet"), SPLIT_SCHEMA, num_shards=1, shard_name_template=""
        )
        counts.append(_count(chosen, name))
    counts.append(users | "Duplicates" >> beam.Map(lambda u: u.duplicates) | beam.CombineGlobally(sum) | beam.Map(lambda n: ("duplicates", n)))
    counts.append(_count(users, "users"))
    # Histories keep every warm interaction (evaluation excludes all known items); the model reads the
    # most recent extract.max_history. These counts show how many users that truncation touches.
    lengths = users | "WarmLengths" >> beam.Map(lambda u: len(u.warm))
    counts.append(lengths | "LongestHistory" >> beam.CombineGlobally(lambda ns: max(ns, default=0))
                  | beam.Map(lambda n: ("history_max_length", n)))
    counts.append(_count(lengths | "OverMaxHistory" >> beam.Filter(lambda n, cap: n > cap, config.max_history),
                         "users_over_max_history"))
    counts.append(_count(items | "WithImage" >> beam.Filter(lambda i: i[contract.HAS_IMAGE]), "items_with_image"))
    counts.append(_count(items | "WithoutImage" >> beam.Filter(lambda i: not i[contract.HAS_IMAGE]), "items_without_image"))
    counts.append(_count(items | "WithText" >> beam.Filter(lambda i: i[contract.HAS_TEXT]), "items_with_text"))
    counts.append(item_results["stats"] | "SumItemStats" >> beam.CombinePerKey(sum))

    train_pairs = rows | "TrainOnly" >> beam.Filter(lambda r: r[0] == "train")
    _write_vocab(train_pairs | "TrainItems" >> beam.Map(lambda r: r[1]["item_id"]) | "CountItems" >> beam.combiners.Count.PerElement(), vocab_dir / contract.ITEM_VOCAB, "ItemVocab")
    _write_vocab(train_pairs | "TrainUsers" >> beam.Map(lambda r: r[1]["user_id"]) | "CountUsers" >> beam.combiners.Count.PerElement(), vocab_dir / contract.USER_VOCAB, "UserVocab")
    _write_vocab(
        items | "Tokens" >> beam.FlatMap(lambda i: sorted(set(i[contract.TEXT].split()))) | "CountTokens" >> beam.combiners.Count.PerElement(),
        vocab_dir / contract.TEXT_VOCAB, "TextVocab", config.text_min_count, config.text_vocab_size,
        config.text_min_item_share, items | "CountAllItems" >> beam.combiners.Count.Globally(),
    )
    _write_vocab(
        items | "CatTokens" >> beam.FlatMap(lambda i: sorted(set(i[contract.CATEGORICAL]))) | "CountCat" >> beam.combiners.Count.PerElement(),
        vocab_dir / contract.CATEGORICAL_VOCAB, "CategoricalVocab",
    )
    names = list(spec.items.numeric)
    stats = (
        items
        | "NumericValues" >> beam.FlatMap(
            lambda i: [(k, v) for k, (v, m) in enumerate(zip(i[contract.NUMERIC], i[contract.NUMERIC_MASK])) if m]
        )
        | "MeanStd" >> beam.CombinePerKey(MeanStd())
        | "StatsList" >> beam.combiners.ToList()
        | "StatsJson" >> beam.Map(
            lambda pairs: json.dumps({
                "names": names,
                "mean": [dict(pairs).get(k, (0.0, 1.0))[0] for k in range(len(names))],
                "std": [dict(pairs).get(k, (0.0, 1.0))[1] for k in range(len(names))],
            })
        )
    )
    _write_single(stats, vocab_dir / contract.NUMERIC_STATS, "WriteNumericStats")

    dead = (item_results["dead_letter"], parsed[DEAD_LETTER]) | "AllDeadLetters" >> beam.Flatten()
    _ = dead | "DeadJson" >> beam.Map(lambda d: json.dumps(d, sort_keys=True)) | "WriteDead" >> beam.io.WriteToText(
        str(out_dir / contract.DEAD_LETTER_DIR / "records.jsonl"), shard_name_template="", num_shards=1
    )
    counts.append(
        dead
        | "DeadKind" >> beam.Map(lambda d: (f"dead_letter.{d['kind']}", 1))
        | "SumDeadKinds" >> beam.CombinePerKey(sum)
    )
    merged = (
        counts
        | "AllCounts" >> beam.Flatten()
        | "CountsList" >> beam.combiners.ToList()
        | "CountsJson" >> beam.Map(lambda pairs: json.dumps(dict(sorted(pairs))))
    )
    _write_single(merged, out_dir / COUNTS_FILE, "WriteCounts")
