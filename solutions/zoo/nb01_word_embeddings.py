"""Known mistakes for notebook 01: tokenize, embed, cosine_similarity."""
import re
import string

import numpy as np

from . import bug

_TOKENS = re.compile(r"\w+|[^\w\s]")


# ------------------------------------------------------------------------------ tokenize
# The float-ids bug comes first: its values equal the right ids, so it can never shadow
# a bug whose ids are wrong, and it is the only one the integer-ids check rejects.

@bug("tokenize", "float_ids", "the ids are floats (np.zeros makes float64), not integers",
     "Ids index the embedding table, so they must be integers: build the array with dtype=np.int64 "
     "(np.zeros(T) gives float64).")
def tokenize_float_ids(sentence, vocab):
    words = _TOKENS.findall(sentence.lower())
    ids = np.zeros(len(words))
    for t, word in enumerate(words):
        ids[t] = vocab.get(word, vocab["<unk>"])
    return ids


@bug("tokenize", "no_lowercase", "the sentence is not lower-cased, so capitalised words become <unk>",
     'The vocabulary is lower case: call sentence.lower() before splitting ("Strike" -> "strike").')
def tokenize_no_lowercase(sentence, vocab):
    words = _TOKENS.findall(sentence)
    return np.array([vocab.get(w, vocab["<unk>"]) for w in words], dtype=np.int64)


@bug("tokenize", "punctuation_attached", 'punctuation stays glued to its word ("match!" becomes <unk>)',
     'sentence.split() keeps "match!" in one piece: split punctuation off as its own token, '
     'e.g. re.findall(r"\\w+|[^\\w\\s]", sentence.lower()).')
def tokenize_punctuation_attached(sentence, vocab):
    words = sentence.lower().split()
    return np.array([vocab.get(w, vocab["<unk>"]) for w in words], dtype=np.int64)


@bug("tokenize", "punctuation_dropped", "punctuation is thrown away instead of kept as its own token",
     'Keep each punctuation mark as a token ("!" has an id in the vocabulary): '
     'r"\\w+|[^\\w\\s]" matches words and single punctuation marks.')
def tokenize_punctuation_dropped(sentence, vocab):
    words = re.findall(r"\w+", sentence.lower())
    return np.array([vocab.get(w, vocab["<unk>"]) for w in words], dtype=np.int64)


@bug("tokenize", "punctuation_run_one_token", 'a run of punctuation ("!?", "...") stays one token, which is <unk>',
     'Each punctuation mark is a token of its own: "match!?" gives "match", "!", "?". With a regular '
     'expression, match one mark at a time, r"\\w+|[^\\w\\s]", not a run of them, r"[^\\w\\s]+".')
def tokenize_punctuation_run(sentence, vocab):
    words = re.findall(r"\w+|[^\w\s]+", sentence.lower())
    return np.array([vocab.get(w, vocab["<unk>"]) for w in words], dtype=np.int64)


@bug("tokenize", "only_last_mark_split", 'only the last punctuation mark of a word is split off '
     '("match!?" gives "match!" and "?")',
     'A word can end in several marks ("match!?", "burn..."): peel them off one by one (a while loop), '
     'or let re.findall(r"\\w+|[^\\w\\s]", ...) find every mark.')
def tokenize_only_last_mark(sentence, vocab):
    tokens = []
    for piece in sentence.lower().split():
        if len(piece) > 1 and piece[-1] in string.punctuation:
            tokens += [piece[:-1], piece[-1]]
        else:
            tokens.append(piece)
    return np.array([vocab.get(w, vocab["<unk>"]) for w in tokens], dtype=np.int64)


@bug("tokenize", "run_collapsed", 'a run of punctuation collapses to its last mark ("match!?" gives "match" and "?")',
     'piece.rstrip(string.punctuation) removes every trailing mark, so keep all of them, in order, as '
     'tokens: "match!?" gives "match", "!", "?".')
def tokenize_run_collapsed(sentence, vocab):
    tokens = []
    for piece in sentence.lower().split():
        word = piece.rstrip(string.punctuation)
        tokens += ([word] if word else []) + ([piece[-1]] if word != piece else [])
    return np.array([vocab.get(w, vocab["<unk>"]) for w in tokens], dtype=np.int64)


@bug("tokenize", "unknown_is_pad", "unknown words get id 0 (<pad>) instead of the id of <unk>",
     'Use vocab.get(word, vocab["<unk>"]): id 0 is padding, not "unknown word".')
def tokenize_unknown_is_pad(sentence, vocab):
    words = _TOKENS.findall(sentence.lower())
    return np.array([vocab.get(w, 0) for w in words], dtype=np.int64)


@bug("tokenize", "unknown_raises", 'unknown words are looked up with vocab[word], which raises KeyError '
     'instead of giving the id of "<unk>"',
     'vocab[word] fails for a word that is not in the vocabulary: use vocab.get(word, vocab["<unk>"]).')
def tokenize_unknown_raises(sentence, vocab):
    words = _TOKENS.findall(sentence.lower())
    return np.array([vocab[w] for w in words], dtype=np.int64)


@bug("tokenize", "unknown_hard_coded", "the id of <unk> is hard-coded as 1 instead of read from the vocabulary",
     'It is 1 in the course vocabulary, but not in every vocabulary: look it up, vocab["<unk>"].')
def tokenize_unknown_hard_coded(sentence, vocab):
    words = _TOKENS.findall(sentence.lower())
    return np.array([vocab.get(w, 1) for w in words], dtype=np.int64)


# --------------------------------------------------------------------------------- embed

@bug("embed", "transposed", "the result is transposed: (d, T) instead of (T, d)",
     "Keep one row per token: table[token_ids] already has shape (T, d); do not add .T.")
def embed_transposed(token_ids, table):
    return table[token_ids].T


@bug("embed", "sorted_unique", "the rows come out in vocabulary order and repeated words only once",
     "np.unique or a boolean mask over the vocabulary loses the sentence order and the repeats: "
     "index with the ids themselves, table[token_ids].")
def embed_sorted_unique(token_ids, table):
    return table[np.isin(np.arange(len(table)), token_ids)]


@bug("embed", "ids_as_columns", "the ids index the table's columns (table[:, token_ids]) instead of its rows",
     "The table has one *row* per word, shape (V, d): table[token_ids] picks rows; table[:, token_ids] "
     "picks feature columns (and fails when an id is >= d).")
def embed_ids_as_columns(token_ids, table):
    return table[:, token_ids]


@bug("embed", "averaged", "the word vectors are averaged into one sentence vector",
     "embed returns one vector per token, shape (T, d): no mean or sum over the tokens.")
def embed_averaged(token_ids, table):
    return table[token_ids].mean(axis=0)


# ---------------------------------------------------------------------- cosine_similarity

@bug("cosine_similarity", "no_norms", "cosine similarity without the norms (a plain dot product)",
     "Divide the dot product by the lengths of both vectors: a . b / (|a| |b|).", mistake="cosine_no_norms")
def cosine_no_norms(a, b):
    return float(np.dot(a, b))


# NaN for the zero vector comes before the other bugs that give NaN there (squared norms,
# the distance): they are named by the checks on non-zero vectors.
@bug("cosine_similarity", "zero_vector_nan", "no guard for the zero vector: a . b / (|a| |b|) is 0 / 0 = NaN",
     "The zero vector has no direction, and the notebook asks for 0 there: divide by max(|a| |b|, eps), "
     "the eps argument of the stub.")
def cosine_zero_vector_nan(a, b):
    with np.errstate(invalid="ignore"):
        return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@bug("cosine_similarity", "squared_norms", "divided by the squared lengths (a . a)(b . b): the square root is missing",
     "The length is |a| = sqrt(a . a) (np.linalg.norm(a)), not a . a.")
def cosine_squared_norms(a, b):
    return float(np.dot(a, b) / (np.dot(a, a) * np.dot(b, b)))


@bug("cosine_similarity", "distance", "returns the cosine distance 1 - cos instead of the similarity",
     "scipy's distance.cosine is 1 - cos: similarity is +1 for the same direction, -1 for the opposite one.")
def cosine_distance(a, b):
    return float(1.0 - np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@bug("cosine_similarity", "no_sum", "the products a * b are divided by the lengths but never added up: an array, "
     "not one number",
     "a * b multiplies entry by entry; the dot product is their sum: np.dot(a, b) / (norm(a) * norm(b)).")
def cosine_no_sum(a, b):
    return a * b / (np.linalg.norm(a) * np.linalg.norm(b))


@bug("cosine_similarity", "norms_added", "divided by the sum of the lengths |a| + |b| instead of their product",
     "The denominator is the product of the lengths: np.linalg.norm(a) * np.linalg.norm(b).")
def cosine_norms_added(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) + np.linalg.norm(b)))

