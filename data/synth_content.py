"""What a synthetic item says and shows: topic words and pictures drawn with PIL.

Each topic owns disjoint made-up words, a colour and a shape. An item's text
mixes its topics' words with filler; its picture shows the shapes of its main
topics, more and larger for heavier topics, over a noisy background, so text and
image encoders can both recover the topic mixture that drives interactions.
Each item also has a look of its own, a named backdrop tint and frame colour,
drawn in its picture and named in its description (as a shop's copy describes
its photo): the item-level correspondence that cross-modal retrieval
(a text finds its own item's image) is measured on.
"""

from __future__ import annotations

import colorsys
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from braidrec.config import SynthConfig

SHAPES = ("circle", "square", "triangle", "stripes", "dots", "ring", "cross")
GARBAGE_PREFIX = b"\x89PNG\r\n\x1a\n"  # a PNG signature, so the file looks like an image until decoded
WORDS_PER_TOPIC = 25
# Light backdrops and dark frames: named so descriptions can say what the picture shows.
TINTS = {
    "ivory": (250, 246, 230), "cream": (245, 235, 200), "blush": (250, 215, 215), "peach": (250, 220, 190),
    "mint": (210, 245, 220), "sky": (205, 230, 250), "lavender": (225, 215, 245), "lemon": (250, 248, 190),
    "pearl": (235, 235, 235), "sand": (230, 215, 180), "seafoam": (200, 240, 235), "lilac": (240, 210, 240),
    "apricot": (250, 205, 170), "powder": (215, 225, 245), "sage": (215, 230, 200), "rose": (245, 200, 210),
}
FRAMES = {
    "black": (20, 20, 20), "navy": (20, 30, 110), "maroon": (110, 20, 30), "forest": (20, 90, 40),
    "charcoal": (70, 70, 70), "plum": (90, 30, 90), "teal": (0, 110, 110), "brown": (100, 60, 20),
    "olive": (100, 100, 20), "indigo": (60, 20, 130), "crimson": (180, 20, 40), "slate": (60, 80, 110),
}
FILLER = (
    "the", "a", "and", "with", "for", "of", "to", "in", "on", "is", "this", "that", "it", "by", "from", "very",
    "new", "great", "one", "some", "more", "all", "your", "our", "classic", "simple", "made", "good", "best",
    "nice", "item", "set", "style", "use", "daily", "perfect", "quality", "design", "feature", "easy",
)
_ONSETS = ("b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "j", "k", "l", "m", "n", "p", "pl", "r", "s",
           "sh", "st", "t", "tr", "v", "w", "z")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "oo", "ou")
_CODAS = ("", "", "n", "r", "l", "s", "m", "x", "k", "th")


def topic_words(rng: np.random.Generator, topics: int) -> list[list[str]]:
    """``WORDS_PER_TOPIC`` made-up words per topic, disjoint across topics and from :data:`FILLER`."""
    taken = set(FILLER) | set(TINTS) | set(FRAMES) | {"backdrop", "frame"}
    vocab = []
    for _ in range(topics):
        words: list[str] = []
        while len(words) < WORDS_PER_TOPIC:
            syllables = int(rng.integers(2, 4))
            word = "".join(_ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
                           for _ in range(syllables)) + _CODAS[rng.integers(len(_CODAS))]
            if word not in taken:  # disjoint vocabularies keep topics identifiable from text
                taken.add(word)
                words.append(word)
        vocab.append(words)
    return vocab


def sample_words(rng: np.random.Generator, theta: np.ndarray, vocab: list[list[str]], count: int,
                 topical: float) -> list[str]:
    """``count`` words: with probability ``topical`` from a topic drawn by ``theta``, else filler."""
    topics = rng.choice(len(vocab), size=count, p=theta)
    from_topic = rng.random(count) < topical
    return [vocab[t][rng.integers(WORDS_PER_TOPIC)] if use else FILLER[rng.integers(len(FILLER))]
            for t, use in zip(topics, from_topic)]


def topic_looks(rng: np.random.Generator, topics: int) -> tuple[np.ndarray, list[str]]:
    """A colour and a shape per topic.

    Args:
        rng: random stream.
        topics: number of topics.

    Returns:
        ``(colours [topics, 3] float RGB in 0..255, shape names)``; hues are spread
        evenly so topics differ in colour even when shapes repeat.
    """
    hues = (np.arange(topics) / topics + rng.uniform(0, 0.5 / topics)) % 1.0
    colours = np.array([colorsys.hsv_to_rgb(h, rng.uniform(0.6, 1.0), rng.uniform(0.55, 0.9)) for h in hues]) * 255
    order = rng.permutation(len(SHAPES))
    return colours, [SHAPES[order[k % len(SHAPES)]] for k in range(topics)]


def item_looks(rng: np.random.Generator, items: int) -> tuple[np.ndarray, np.ndarray]:
    """Each item's backdrop tint and frame colour: indices into :data:`TINTS` and :data:`FRAMES`."""
    return rng.integers(len(TINTS), size=items), rng.integers(len(FRAMES), size=items)


def describe_look(tint: int, frame: int) -> str:
    """The words a description uses for a look, e.g. ``'mint backdrop navy frame'``."""
    return f"{list(TINTS)[tint]} backdrop {list(FRAMES)[frame]} frame"


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, x: float, y: float, r: float, colour: tuple) -> None:
    box = (x - r, y - r, x + r, y + r)
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=colour)
    elif shape == "stripes":
        for offset in np.arange(-r, r + 1, max(2.0, r / 2)):
            draw.line((x - r, y + offset, x + r, y + offset), fill=colour, width=max(1, int(r / 4)))
    elif shape == "dots":
        step = max(2.0, r / 1.5)
        for dx in np.arange(-r, r + 1, step):
            for dy in np.arange(-r, r + 1, step):
                draw.ellipse((x + dx - 1.5, y + dy - 1.5, x + dx + 1.5, y + dy + 1.5), fill=colour)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=max(2, int(r / 3)))
    else:
        width = max(1.0, r / 3)
        draw.rectangle((x - r, y - width, x + r, y + width), fill=colour)
        draw.rectangle((x - width, y - r, x + width, y + r), fill=colour)


def render_image(rng: np.random.Generator, theta: np.ndarray, colours: np.ndarray, shapes: list[str],
                 size: int, look: tuple[int, int] = (0, 0)) -> Image.Image:
    """Draws one item's picture.

    Args:
        rng: random stream (positions, colour jitter, noise).
        theta: the item's topic mixture ``[topics]``.
        colours, shapes: from :func:`topic_looks`.
        size: width and height in pixels.
        look: the item's (tint, frame) from :func:`item_looks`.

    Returns:
        An RGB image: the shapes of every topic with weight >= 0.05 (always the
        dominant one), more and larger for heavier topics, over a noisy backdrop
        of the item's tint, inside a frame of its frame colour.
    """
    tint = np.array(list(TINTS.values())[look[0]], np.float64)
    background = tint + rng.normal(0, 6, 3) + rng.normal(0, 10, (size, size, 3))
    image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for rank, k in enumerate(np.argsort(-theta)):
        if rank > 0 and theta[k] < 0.05:
            break
        radius = size * (0.06 + 0.16 * np.sqrt(theta[k]))
        colour = tuple(int(c) for c in np.clip(colours[k] + rng.normal(0, 15, 3), 0, 255))
        for _ in range(1 + int(theta[k] * 4)):
            x, y = rng.uniform(radius, size - radius, 2)
            _draw_shape(draw, shapes[k], x, y, radius, colour)
    width = max(2, size // 16)
    draw.rectangle((0, 0, size - 1, size - 1), outline=list(FRAMES.values())[look[1]], width=width)
    pixels = np.asarray(image, dtype=np.float64) + rng.normal(0, 6, (size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def write_images(root: Path, rng: np.random.Generator, config: SynthConfig, items: pd.DataFrame,
                 theta: np.ndarray, colours: np.ndarray, shapes: list[str],
                 looks: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """Writes ``root/images/<item_id>.png`` and fills ``items['image_path']`` in place.

    Disjoint sets of exactly ``round(rate * items)`` items get each knob:
    ``missing_image`` (empty cell, no file), ``corrupt`` (garbage bytes behind a
    PNG signature) and ``mismatch`` (a copy of another item's picture, of another
    topic when possible).

    Args:
        root: dataset directory being built.
        rng: random stream.
        config: sizes and knob rates.
        items: the items table, row i matching ``theta[i]``.
        theta: ``[items, topics]`` topic mixtures.
        colours, shapes: from :func:`topic_looks`.
        looks: (tints, frames) per item from :func:`item_looks`.

    Returns:
        Boolean masks ``missing_image``, ``corrupt_image``, ``mismatched`` and the int
        array ``mismatch_source`` (row of the item whose picture was used, else -1).
    """
    n = config.items
    order = rng.permutation(n)
    counts = np.cumsum([round(config.missing_image * n), round(config.corrupt * n), round(config.mismatch * n)])
    masks = {name: np.zeros(n, bool) for name in ("missing_image", "corrupt_image", "mismatched")}
    masks["missing_image"][order[: counts[0]]] = True
    masks["corrupt_image"][order[counts[0]: counts[1]]] = True
    masks["mismatched"][order[counts[1]: counts[2]]] = True
    source = np.full(n, -1, np.int64)
    (root / "images").mkdir()
    paths = [f"images/{item_id}.png" for item_id in items["item_id"]]
    for i in np.flatnonzero(~masks["missing_image"]):
        items.at[i, "image_path"] = paths[i]
        if masks["corrupt_image"][i]:
            (root / paths[i]).write_bytes(GARBAGE_PREFIX + rng.bytes(int(rng.integers(16, 256))))
        elif not masks["mismatched"][i]:
            render_image(rng, theta[i], colours, shapes, config.image_size, (looks[0][i], looks[1][i])).save(
                root / paths[i], format="PNG", compress_level=1)
    clean = np.flatnonzero(~(masks["missing_image"] | masks["corrupt_image"] | masks["mismatched"]))
    dominant = theta.argmax(axis=1)
    for i in np.flatnonzero(masks["mismatched"]):
        others = clean[dominant[clean] != dominant[i]]
        others = others if len(others) else clean
        if len(others):
            source[i] = rng.choice(others)
            shutil.copyfile(root / paths[source[i]], root / paths[i])
        else:
            # Every other picture is missing or corrupt: draw one from a random other mixture instead.
            other = (i + 1) % n
            render_image(rng, theta[other], colours, shapes, config.image_size, (looks[0][other], looks[1][other])).save(
                root / paths[i], format="PNG")
    return {**masks, "mismatch_source": source}
