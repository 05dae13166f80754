"""The course's shipped data: vocabulary, hand-designed word vectors and the "match" corpus."""
from course.data import (
    ASSETS, FEATURE_NAMES, FIRE, PAD, POS_TAGS, SENSES, SPORT, UNK, WORD_POS, MatchExample, batchify,
    corpus_capacity, encode, load_embeddings, load_vocab, match_corpus, pos_tags,
)

__all__ = [
    "ASSETS", "FEATURE_NAMES", "FIRE", "PAD", "POS_TAGS", "SENSES", "SPORT", "UNK", "WORD_POS", "MatchExample",
    "batchify", "corpus_capacity", "encode", "load_embeddings", "load_vocab", "match_corpus", "pos_tags",
]
