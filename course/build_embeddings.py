"""Write ``assets/embeddings.tsv`` from the hand-made tags in ``assets/word_features.tsv``.

Run ``python -m course.build_embeddings``. Each word's vector is the sum of its tags
(``fire`` = weight 1 on the fire column, ``object:0.5`` = 0.5 on the object column),
plus small Gaussian noise so no two words are exactly equal (real embeddings never
are), rounded to 3 decimals so the table prints well. ``<pad>`` is the zero vector:
padding must add nothing when it leaks into a sum.
"""
from __future__ import annotations

import zlib

import numpy as np

from course.data import EMBEDDINGS_PATH, FEATURE_NAMES, FEATURES_PATH, PAD, load_vocab

SEED = 2017  # the year of "Attention Is All You Need"
NOISE_STD = 0.05
DECIMALS = 3


def parse_tags(tags: str) -> np.ndarray:
    """Turn ``"fire sport object:0.5"`` into an 8-vector over FEATURE_NAMES."""
    vector = np.zeros(len(FEATURE_NAMES))
    for tag in tags.split():
        name, _, weight = tag.partition(":")
        if name not in FEATURE_NAMES:
            raise ValueError(f"unknown tag {name!r}; the tags are {FEATURE_NAMES}")
        vector[FEATURE_NAMES.index(name)] += float(weight) if weight else 1.0
    return vector


def read_features() -> dict[str, np.ndarray]:
    """Return ``{word: tag vector}`` from word_features.tsv (header: word, tags)."""
    lines = FEATURES_PATH.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines[1:]]
    return {word: parse_tags(tags) for word, tags in rows}


def word_noise(word: str) -> np.ndarray:
    """Noise seeded by the word itself, so adding a word leaves every other vector unchanged."""
    rng = np.random.default_rng([SEED, zlib.crc32(word.encode("utf-8"))])
    return rng.normal(0.0, NOISE_STD, size=len(FEATURE_NAMES))


def build_table() -> tuple[list[str], np.ndarray]:
    """Return the vocabulary words in id order and their (V, 8) float64 embedding table."""
    words = list(load_vocab())
    features = read_features()
    if set(words) != set(features):
        raise ValueError(f"vocab.txt and word_features.tsv disagree on "
                         f"{sorted(set(words) ^ set(features))}")
    table = np.stack([features[w] + word_noise(w) for w in words])  # (V, 8)
    table[words.index(PAD)] = 0.0
    return words, np.round(table, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def render_tsv(words: list[str], table: np.ndarray) -> str:
    """The text of embeddings.tsv: a header, then one row per word in id order."""
    lines = ["\t".join(["word", *FEATURE_NAMES])]
    lines += ["\t".join([w, *(f"{x:.{DECIMALS}f}" for x in row)]) for w, row in zip(words, table)]
    return "\n".join(lines) + "\n"


def main() -> None:
    words, table = build_table()
    EMBEDDINGS_PATH.write_text(render_tsv(words, table), encoding="utf-8")
    print(f"wrote {EMBEDDINGS_PATH} ({len(words)} words x {len(FEATURE_NAMES)} dims)")


if __name__ == "__main__":
    main()
