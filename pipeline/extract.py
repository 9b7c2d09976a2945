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
    OneRowPerId,
    ParseInteraction,
    ParseUser,
    ReadTable,
    first_of_repeats,
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


def _numeric_stats(values, names: list[str], label: str):
    """JSON ``{"names", "mean", "std"}`` of ``(column index, value)`` pairs (mean 0, std 1 for an empty column)."""
    return (
        values
        | f"{label}MeanStd" >> beam.CombinePerKey(MeanStd())
        | f"{label}StatsList" >> beam.combiners.ToList()
        | f"{label}StatsJson" >> beam.Map(
            lambda pairs: json.dumps({
                "names": names,
                "mean": [dict(pairs).get(k, (0.0, 1.0))[0] for k in range(len(names))],
                "std": [dict(pairs).get(k, (0.0, 1.0))[1] for k in range(len(names))],
            })
        )
    )


def _present_values(values: list[float], mask: list[float]) -> list[tuple[int, float]]:
    return [(k, v) for k, (v, m) in enumerate(zip(values, mask)) if m]


def _join_profile(kv, cold):
    """(user, {"pairs": [...], "profile": [...]}) -> the user's split with its profile.

    A user id repeated in the users table keeps one row (the first in sorted order, so every
    runner picks the same) and sends a dead letter per extra row. Users without interactions
    yield nothing (``users_without_interactions`` counts them).
    """
    user_id, groups = kv
    pairs = list(groups["pairs"])
    profile, repeats = first_of_repeats(groups["profile"], "users", user_id, "user", "user_duplicate_id")
    yield from repeats
    if pairs:
        yield splits.split_user(user_id, pairs, cold, profile)


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

    item_rows = p | ReadTable(spec, spec.items)
    repeated_items = p | "NoRepeatedItems" >> beam.Create([])
    if config.bad_records == "dead_letter":
        # Validation let repeated ids through: one row per item, or the cache join and the catalogue would
        # hold an item twice. Under "refuse" validation has ruled them out, and the shuffle is skipped.
        one_per_id = item_rows | "OneRowPerItem" >> OneRowPerId(spec.items, "item", "item_duplicate_id")
        item_rows, repeated_items = one_per_id["rows"], one_per_id[DEAD_LETTER]
    item_results = item_rows | "ExtractItems" >> ExtractItems(spec, config.image_size, encoder_info,
                                                              config.inference_batch_size, cache_in)
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
    if spec.users is not None:
        parsed_users = p | ReadTable(spec, spec.users) | "ParseUsers" >> beam.ParDo(ParseUser(spec.users)).with_outputs(
            DEAD_LETTER, main="profiles"
        )
        profiles, user_dead = parsed_users.profiles, parsed_users[DEAD_LETTER]
    else:
        profiles = p | "NoUsersTable" >> beam.Create([])
        user_dead = p | "NoUserDeadLetters" >> beam.Create([])
    # A CoGroupByKey rather than a side input: the users table may be too large for one worker's memory.
    joined = {"pairs": parsed.pairs, "profile": profiles} | "JoinUsers" >> beam.CoGroupByKey()
    split_users = joined | "SplitUser" >> beam.FlatMap(_join_profile, beam.pvalue.AsSingleton(cold_items)).with_outputs(
        DEAD_LETTER, main="users"
    )
    users = split_users.users

    _ = (
        users
        | "HasWarm" >> beam.Filter(lambda u: u.warm)
        | "SerializeHistory" >> beam.Map(
            lambda u: contract.history_example(
                u.user_id, [w[0] for w in u.warm], [w[1] for w in u.warm], [w[2] for w in u.warm], u.profile
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
    counts.append(_count(users | "WithProfile" >> beam.Filter(lambda u: u.profile is not None), "users_with_profile"))
    counts.append(_count(
        joined | "ProfileOnly" >> beam.Filter(lambda kv: not any(True for _ in kv[1]["pairs"])), "users_without_interactions"
    ))
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
    item_values = items | "NumericValues" >> beam.FlatMap(lambda i: _present_values(i[contract.NUMERIC], i[contract.NUMERIC_MASK]))
    _write_single(_numeric_stats(item_values, list(spec.items.numeric), "Items"), vocab_dir / contract.NUMERIC_STATS, "WriteNumericStats")
    # User vocabularies come from the users who have interactions: the others never reach the model.
    user_profiles = users | "Profiles" >> beam.FlatMap(lambda u: [u.profile] if u.profile else [])
    _write_vocab(
        user_profiles | "UserTokens" >> beam.FlatMap(lambda prof: sorted(set(prof[contract.USER_CATEGORICAL])))
        | "CountUserTokens" >> beam.combiners.Count.PerElement(),
        vocab_dir / contract.USER_CATEGORICAL_VOCAB, "UserCategoricalVocab",
    )
    user_values = user_profiles | "UserNumericValues" >> beam.FlatMap(
        lambda prof: _present_values(prof[contract.USER_NUMERIC], prof[contract.USER_NUMERIC_MASK])
    )
    user_names = list(spec.users.numeric) if spec.users is not None else []
    _write_single(_numeric_stats(user_values, user_names, "Users"), vocab_dir / contract.USER_NUMERIC_STATS, "WriteUserNumericStats")

    dead = ((repeated_items, item_results["dead_letter"], parsed[DEAD_LETTER], user_dead, split_users[DEAD_LETTER])
            | "AllDeadLetters" >> beam.Flatten())
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
