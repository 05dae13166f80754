"""The course's shipped data: vocabulary, hand-designed word vectors and the "match" corpus."""
from course.data import (
    ASSETS, FEATURE_NAMES, FIRE, PAD, SENSES, SPORT, UNK, MatchExample, batchify,
    corpus_capacity, encode, load_embeddings, load_vocab, match_corpus,
)

__all__ = [
    "ASSETS", "FEATURE_NAMES", "FIRE", "PAD", "SENSES", "SPORT", "UNK", "MatchExample",
    "batchify", "corpus_capacity", "encode", "load_embeddings", "load_vocab", "match_corpus",
]
