"""The issue's acceptance floors, checked on the aggregated rows (means over seeds)."""

from __future__ import annotations

PRODUCT = "braidrec attention"
# Sequential peers: "SASRec", and "SASRec (val Recall@K)" for another early-stopping rule.
SEQUENTIAL = "SASRec"
CONTENT_PEER = "LightFM WARP + features"
# LightFM set up as its docs do (lightfm.data.Dataset over the whole catalogue): the setup whose
# cold figure reproduces the reference (0.157); the bench's own CONTENT_PEER is stronger.
CONTENT_PEER_OUT_OF_THE_BOX = "LightFM WARP + features, out of the box"
# The floors as the issue states them, from its reference peers (SASRec 0.199 / 0.106; LightFM
# with features 0.157 cold, x1.5). Our own SASRec and LightFM score higher on this split, so the
# relative floors above are checked against them as well.
STATED_FLOORS = (("warm recall@10", "warm R@10", 0.199), ("warm ndcg@10", "warm N@10", 0.106),
                 ("cold recall@10", "cold R@10", 0.235))
# Training on ml-100k to its best validation epoch: at most 5 minutes on 2 cores, for every seed.
SECONDS_TO_BEST = 300.0


def _sequential(method: str) -> bool:
    return method.split(" (")[0] == SEQUENTIAL


def _peer_means(rows: list[dict], key: str, sequential: bool) -> list[float]:
    """The ml100k means of ``key`` of the sequential peers (SASRec rows), or of all the others."""
    return [r[key]["mean"] for r in rows if r["dataset"] == "ml100k" and r["kind"] == "peer"
            and _sequential(r["method"]) is sequential and key in r]


def _stat(rows: list[dict], dataset: str, method: str, key: str, stat: str = "mean") -> float | None:
    for row in rows:
        if row["dataset"] == dataset and row["method"] == method and key in row:
            return row[key][stat]
    return None


def check(rows: list[dict]) -> list[str]:
    """One line per floor that can be checked with the rows present: value, floor, PASS/FAIL.

    ml100k: warm R@10 and N@10 >= 1.25x the best non-sequential peer's and >= SASRec's;
    cold R@10 >= 1.5x LightFM-with-features' (the bench's setup, and out of the box); and the issue's stated numbers (``STATED_FLOORS``);
    the slowest seed's seconds to its best epoch <= ``SECONDS_TO_BEST`` (meaningful only when the
    bench ran alone on the machine).
    synthetic: warm R@10 >= 0.8x the oracle's,
    text-to-image R@10 >= 0.8 over every item with both (and, reported beside it, over cold
    items the alignment loss never saw).
    """
    lines = []

    def floor(label: str, value: float | None, needed: float | None) -> None:
        if value is not None and needed is not None:
            lines.append(f"{label}: {value:.3f} vs floor {needed:.3f}: {'PASS' if value >= needed else 'FAIL'}")

    for key, short in (("warm recall@10", "warm R@10"), ("warm ndcg@10", "warm N@10")):
        ours = _stat(rows, "ml100k", PRODUCT, key)
        peers = _peer_means(rows, key, sequential=False)
        floor(f"ml100k {short} >= 1.25x best non-sequential peer", ours, 1.25 * max(peers) if peers else None)
        # Against the better of SASRec's early-stopping rules present, as a user would tune it.
        sasrec = _peer_means(rows, key, sequential=True)
        floor(f"ml100k {short} >= SASRec", ours, max(sasrec) if sasrec else None)
    for peer, label in ((CONTENT_PEER, "LightFM + features (the bench's setup)"),
                        (CONTENT_PEER_OUT_OF_THE_BOX, "LightFM + features out of the box (the issue's reference setup)")):
        content = _stat(rows, "ml100k", peer, "cold recall@10")
        floor(f"ml100k cold R@10 >= 1.5x {label}", _stat(rows, "ml100k", PRODUCT, "cold recall@10"),
              1.5 * content if content is not None else None)
    for key, short, needed in STATED_FLOORS:
        floor(f"ml100k {short} >= the issue's stated floor", _stat(rows, "ml100k", PRODUCT, key), needed)
    slowest = _stat(rows, "ml100k", PRODUCT, "seconds to best epoch", "max")
    if slowest is not None:
        verdict = "PASS" if slowest <= SECONDS_TO_BEST else "FAIL"
        lines.append(f"ml100k seconds to best epoch, slowest seed <= {SECONDS_TO_BEST:.0f}: {slowest:.0f}: {verdict}")
    oracle = _stat(rows, "synthetic", "oracle", "warm recall@10")
    floor("synthetic warm R@10 >= 0.8x oracle", _stat(rows, "synthetic", PRODUCT, "warm recall@10"),
          0.8 * oracle if oracle is not None else None)
    floor("synthetic text->image R@10 >= 0.8 (all items)", _stat(rows, "synthetic", PRODUCT, "text_to_image recall@10"), 0.8)
    floor("synthetic text->image R@10 >= 0.8 (cold items, unseen by the alignment loss)",
          _stat(rows, "synthetic", PRODUCT, "unseen text_to_image recall@10"), 0.8)
    return lines
