"""Aggregates per-seed results into mean ± std and writes quality.md, quality.json and quality.png."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench import acceptance
from braidrec.pipeline.fileutil import write_text_atomic

METRICS = (("warm", "recall@10"), ("warm", "ndcg@10"), ("cold", "recall@10"))
# braidrec diagnostics kept per run under ``info``: row key -> path into it.
DIAGNOSTICS = {
    "text_to_image recall@10": ("alignment", "text_to_image", "recall@10"),
    "unseen text_to_image recall@10": ("alignment", "unseen_text_to_image", "recall@10"),
    "text_search recall@10": ("alignment", "text_search", "recall@10"),
    "seconds to best epoch": ("seconds_to_best_epoch",),
    "mixed recall@10": ("mixed", "recall@10"),
    "mixed cold_share@10": ("mixed", "cold_share@10"),
}


def _lookup(info: dict, path: tuple[str, ...]):
    for part in path:
        if not isinstance(info, dict) or part not in info:
            return None
        info = info[part]
    return info


def aggregate(records: list[dict]) -> list[dict]:
    """One row per (dataset, method): mean and std over seeds of each metric and of seconds.

    Args:
        records: per-run dicts with ``dataset``, ``method``, ``kind``, ``seed``,
            ``warm``, ``cold`` (``cold.random`` when analytic), ``seconds``.

    Returns:
        Rows in first-seen order; a metric missing from every run is absent.
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        groups.setdefault((record["dataset"], record["method"]), []).append(record)
    rows = []
    for (dataset, method), runs in groups.items():
        row = {"dataset": dataset, "method": method, "kind": runs[0]["kind"], "seeds": len(runs)}
        for part, metric in METRICS:
            values = [r[part][metric] for r in runs if metric in r.get(part, {})]
            if values:
                row[f"{part} {metric}"] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
        for key, path in DIAGNOSTICS.items():
            values = [v for v in (_lookup(r.get("info", {}), path) for r in runs) if v is not None]
            if values:
                row[key] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "max": float(np.max(values))}
        row["cold random"] = any(r.get("cold", {}).get("random", False) for r in runs)
        row["seconds"] = float(np.mean([r.get("seconds", 0.0) for r in runs]))
        rows.append(row)
    return rows


def _cell(row: dict, key: str, random: bool = False) -> str:
    if key not in row:
        return "-"
    text = f"{row[key]['mean']:.3f} ± {row[key]['std']:.3f}"
    return f"{text} (random)" if random else text


def _mixed(row: dict) -> str:
    """Warm and cold items ranked together (``metrics.json`` ``mixed``): Recall@10 and the share of
    top-10 slots cold items took; '-' for runs made before it was measured."""
    if "mixed recall@10" not in row:
        return "-"
    return f"{_cell(row, 'mixed recall@10')} ({row['mixed cold_share@10']['mean']:.2f})"


def markdown(rows: list[dict], notes: list[str]) -> str:
    """The results table, one section per dataset, then the notes."""
    lines = ["# braidrec quality benchmark", ""]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        lines += [
            f"## {dataset}", "",
            "| method | kind | seeds | warm R@10 | warm N@10 | cold R@10 | mixed R@10 (cold share) "
            "| text→image R@10 (all / cold items) | text search R@10 | train s | s to best epoch |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in (r for r in rows if r["dataset"] == dataset):
            to_best = f"{row['seconds to best epoch']['mean']:.0f}" if "seconds to best epoch" in row else "-"
            lines.append(
                f"| {row['method']} | {row['kind']} | {row['seeds']} | {_cell(row, 'warm recall@10')} | "
                f"{_cell(row, 'warm ndcg@10')} | {_cell(row, 'cold recall@10', row['cold random'])} | {_mixed(row)} | "
                f"{_cell(row, 'text_to_image recall@10')} / {_cell(row, 'unseen text_to_image recall@10')} | "
                f"{_cell(row, 'text_search recall@10')} | {row['seconds']:.0f} | {to_best} |"
            )
        lines.append("")
    checks = acceptance.check(rows)
    if checks:
        lines += ["## Acceptance floors (issue 4)", ""] + [f"- {c}" for c in checks] + [""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def chart(rows: list[dict], path: Path) -> None:
    """Grouped bar chart (methods x the three metrics), one panel per dataset, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(len(datasets), 1, figsize=(12, 4.5 * len(datasets)), squeeze=False)
    for ax, dataset in zip(axes[:, 0], datasets):
        subset = [r for r in rows if r["dataset"] == dataset]
        x = np.arange(len(subset))
        for i, (part, metric) in enumerate(METRICS):
            key = f"{part} {metric}"
            means = [r[key]["mean"] if key in r else 0.0 for r in subset]
            stds = [r[key]["std"] if key in r else 0.0 for r in subset]
            bars = ax.bar(x + (i - 1) * 0.27, means, 0.27, yerr=stds, label=key, capsize=2)
            if part == "cold":
                # Hatched: the analytic random ranking of a peer that cannot score cold items.
                for bar, row in zip(bars, subset):
                    bar.set_hatch("//" if row["cold random"] else "")
        ax.set_xticks(x, [r["method"] for r in subset], rotation=30, ha="right", fontsize=8)
        ax.set_title(dataset)
        ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.parent / f".{path.stem}.tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def write_results(records: list[dict], notes: list[str], out_dir: Path, chart_png: bool = True) -> list[dict]:
    """Writes ``quality.md``, ``quality.json`` (rows and every run) and ``quality.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = aggregate(records)
    write_text_atomic(out_dir / "quality.md", markdown(rows, notes))
    write_text_atomic(out_dir / "quality.json", json.dumps({"rows": rows, "runs": records, "notes": notes}, indent=2, default=float))
    if chart_png:
        chart(rows, out_dir / "quality.png")
    return rows
